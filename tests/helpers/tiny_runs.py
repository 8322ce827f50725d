"""The smallest run of `keras_prelu.training.fit` that writes every file of a run folder.

A four-filter convolution on the bundled digits: seconds an epoch, 20 kB of weights.
`TINY_FIT` is a script (`python SCRIPT RUN_DIR [EPOCHS [PAUSE_FILE GO_FILE]]`): with
PAUSE_FILE and GO_FILE, the last epoch makes GO_FILE a FIFO, writes PAUSE_FILE when it
begins and waits until GO_FILE is written, so that a test acts while the run trains. An
`OSError` (a full disk) ends it with one line and exit 1, as the command line does.
"""

TINY_FIT = """
import dataclasses, os, sys
import keras
from keras_prelu import training

class PauseInLastEpoch(keras.callbacks.Callback):
    def __init__(self, pause_file, go_file):
        super().__init__()
        self.pause_file, self.go_file = pause_file, go_file

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 == self.params["epochs"]:
            # The go file is a FIFO: reading it blocks until the test writes to it.
            os.mkfifo(self.go_file)
            open(self.pause_file, "w").close()
            with open(self.go_file) as go:
                go.read()

run_dir, epochs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2
callbacks = [PauseInLastEpoch(*sys.argv[3:5])] if len(sys.argv) > 4 else []
keras.utils.set_random_seed(0)
images = keras.Input((None, None, 3), name="images")
features = keras.layers.Conv2D(4, 3, strides=4, name="conv")(images)
features = keras.layers.GlobalAveragePooling2D(name="pool")(features)
scores = keras.layers.Dense(10, activation="softmax", name="scores")(features)
model = keras.Model(images, scores, name="tiny")
recipe = dataclasses.replace(training.BUNDLED_RECIPE, epochs=epochs, batch_size=64, seed=1)
try:
    training.fit(model, "digits", recipe=recipe, run_dir=run_dir, callbacks=callbacks, verbose=0)
except OSError as error:
    sys.exit(f"error: {error}")
"""


def write_tiny_fit(folder):
    """Writes `TINY_FIT` as `folder/tiny_fit.py`; returns its path."""
    path = folder / "tiny_fit.py"
    path.write_text(TINY_FIT)
    return path
