import json
import signal
import sys

import keras
import numpy as np
import pytest

from keras_prelu.saving import run_folder
from keras_prelu.training import ResumableCheckpoint
from keras_prelu.training import SwitchLROnPlateau
from tests.helpers.processes import Child

# Trains a small PReLU + dropout net for up to 10 epochs with a plateau
# switch that needs its saved state (patience 2, so the waits straddle
# epochs), checkpointing every epoch. During epoch 5 it pauses once (until
# killed) when the pause file does not exist yet; the test creates the file
# beforehand for the uninterrupted run. Writes the final weights and a
# summary into the run directory.
TRAIN_SCRIPT = """
import json, sys, time
from pathlib import Path
import keras, numpy as np
from keras_prelu.layers.dropout import Dropout
from keras_prelu.training import (
    CaffeSGD, ResumableCheckpoint, SwitchLROnPlateau
)

run_dir, pause_file = Path(sys.argv[1]), Path(sys.argv[2])
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(320, 8)).astype("float32")
y = (x[:, :3].argmax(axis=1)).astype("int32")
model = keras.Sequential([
    keras.Input((8,)),
    keras.layers.Dense(32),
    keras.layers.PReLU(),
    Dropout(0.5, seed=3),
    keras.layers.Dense(3),
])
model.compile(
    CaffeSGD(learning_rate=0.01),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
)

class PauseOnce(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 4 and batch == 3 and not pause_file.exists():
            pause_file.touch()
            time.sleep(600)
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

switch = SwitchLROnPlateau(
    monitor="val_loss", patience=2, min_delta=0.5, min_delta_mode="relative"
)
checkpoint = ResumableCheckpoint(
    run_dir / "checkpoint", stateful_callbacks=[switch]
)
history = model.fit(
    x[:256], y[:256], batch_size=32, epochs=10, shuffle=False, verbose=0,
    validation_data=(x[256:], y[256:]),
    callbacks=[PauseOnce(), switch, checkpoint],
)
weights = [keras.ops.convert_to_numpy(w) for w in model.weights]
np.savez(run_dir / "final.npz", *weights)
(run_dir / "summary.json").write_text(json.dumps({
    "epochs_run_here": len(history.history.get("loss", [])),
    "epochs_completed": checkpoint.read_state()["epochs_completed"],
    "switch_epochs": switch.switch_epochs,
}))
"""


def start_training(run_dir, pause_file):
    return Child([sys.executable, str(run_dir.parent / "train.py"), str(run_dir), str(pause_file)])


def finish(child, timeout=240):
    assert child.finish(timeout) == 0, child.stderr[-4000:]


def read_run(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    with np.load(run_dir / "final.npz") as weights:
        return summary, [weights[name] for name in weights.files]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_the_same_command_finishes_the_same_run(
    tmp_path,
):
    (tmp_path / "train.py").write_text(TRAIN_SCRIPT)
    pause_file = tmp_path / "paused"
    whole_dir, killed_dir = tmp_path / "whole", tmp_path / "killed"
    whole_dir.mkdir()
    killed_dir.mkdir()
    whole_pause = tmp_path / "never-pause"
    whole_pause.touch()
    whole = start_training(whole_dir, whole_pause)
    killed = start_training(killed_dir, pause_file)

    killed.wait_for(pause_file.exists, 180, "the pause in epoch 5")
    killed.kill()
    assert killed.finish(30) == -signal.SIGKILL
    assert (
        run_folder.CheckpointFolder(killed_dir / "checkpoint").read_state()["epochs_completed"] == 4
    )

    finish(start_training(killed_dir, pause_file))  # the same command again
    finish(whole)
    whole_summary, whole_weights = read_run(whole_dir)
    resumed_summary, resumed_weights = read_run(killed_dir)

    assert whole_summary["switch_epochs"], "the run must exercise the switch"
    assert resumed_summary["epochs_completed"] == whole_summary["epochs_completed"]
    assert resumed_summary["epochs_run_here"] == whole_summary["epochs_completed"] - 4
    assert resumed_summary["switch_epochs"] == whole_summary["switch_epochs"]
    for resumed, uninterrupted in zip(resumed_weights, whole_weights, strict=True):
        np.testing.assert_array_equal(resumed, uninterrupted)


def small_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
    return model


DATA = (np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"))


@pytest.mark.parametrize("interrupted", ["weights_write", "state_rename"])
def test_interrupted_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch, interrupted):
    def kill(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    model = small_model()
    checkpoint = ResumableCheckpoint(tmp_path)
    model.fit(*DATA, epochs=1, verbose=0, callbacks=[checkpoint])
    after_epoch_1 = [keras.ops.convert_to_numpy(w) for w in model.weights]

    if interrupted == "weights_write":

        def partial_write(path, **kwargs):
            with open(path, "wb") as file:
                file.write(b"\x89HDF\r\n")  # a truncated HDF5 header
            raise KeyboardInterrupt("killed")

        monkeypatch.setattr(model, "save_weights", partial_write)
    else:  # weights renamed in place, then killed before the state is written
        monkeypatch.setattr(run_folder, "write_json", kill)
    with pytest.raises(KeyboardInterrupt):
        model.fit(*DATA, epochs=2, verbose=0, callbacks=[checkpoint])
    monkeypatch.undo()

    assert checkpoint.read_state()["epochs_completed"] == 1
    restored = small_model()
    history = restored.fit(*DATA, epochs=1, verbose=0, callbacks=[ResumableCheckpoint(tmp_path)])
    assert history.history == {}  # epoch 1 was done: nothing left
    for weight, expected in zip(restored.weights, after_epoch_1, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(weight), expected)


class StopAfter(keras.callbacks.Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = epoch + 1 >= self.epochs


def test_a_stopped_run_trains_no_further_and_old_weights_are_removed(tmp_path):
    model = small_model()
    model.fit(
        *DATA,
        epochs=5,
        verbose=0,
        callbacks=[StopAfter(2), ResumableCheckpoint(tmp_path)],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.json",
        "epoch-0002.weights.h5",
    ]
    history = small_model().fit(
        *DATA, epochs=5, verbose=0, callbacks=[ResumableCheckpoint(tmp_path)]
    )
    assert history.history == {}


def test_callback_state_is_saved_and_restored(tmp_path):
    switch = SwitchLROnPlateau(monitor="loss", patience=3)
    model = small_model()
    model.fit(
        *DATA,
        epochs=2,
        verbose=0,
        callbacks=[switch, ResumableCheckpoint(tmp_path, [switch])],
    )
    fresh = SwitchLROnPlateau(monitor="loss", patience=3)
    assert fresh.get_state() != switch.get_state()
    fresh.set_model(small_model())
    restoring = ResumableCheckpoint(tmp_path, [fresh])
    restoring.set_model(fresh.model)
    restoring.set_params({"epochs": 5})
    restoring.on_train_begin()
    assert fresh.get_state() == switch.get_state()
    assert json.loads(json.dumps(switch.get_state())) == switch.get_state()


def test_weights_damaged_after_they_were_written_are_refused(tmp_path):
    small_model().fit(*DATA, epochs=1, verbose=0, callbacks=[ResumableCheckpoint(tmp_path)])
    weights = tmp_path / "epoch-0001.weights.h5"
    contents = bytearray(weights.read_bytes())
    middle = len(contents) // 2
    contents[middle : middle + 4096] = bytes(b ^ 0xFF for b in contents[middle : middle + 4096])
    weights.write_bytes(bytes(contents))
    with pytest.raises(run_folder.RunFolderError, match="does not match the SHA-256"):
        small_model().fit(*DATA, epochs=2, verbose=0, callbacks=[ResumableCheckpoint(tmp_path)])


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="`directory`"):
        ResumableCheckpoint("")
    with pytest.raises(ValueError, match="get_state"):
        ResumableCheckpoint("run", [keras.callbacks.History()])
    switches = [SwitchLROnPlateau(), SwitchLROnPlateau()]
    with pytest.raises(ValueError, match="one callback of each class"):
        ResumableCheckpoint("run", switches)
