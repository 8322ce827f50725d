import os
import signal

import keras
import numpy as np
import pytest

from keras_prelu.training.epoch_callbacks import StopOnInterrupt


@pytest.fixture(autouse=True)
def python_s_sigint_handler():
    """Python's own SIGINT handler, as in a terminal (a process started in the background
    inherits SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class SwallowedCtrlC(keras.callbacks.Callback):
    """Sends itself SIGINT at the end of batch `at` inside code that catches everything,
    as a library's finalizer or bare `except:` would; counts the batches trained."""

    def __init__(self, at):
        super().__init__()
        self.at, self.batches = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches == self.at:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                sum(range(1000))  # the handler runs at a bytecode boundary in here
            except BaseException:
                pass


def small_fit(callbacks):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    x, y = np.zeros((64, 4), "float32"), np.zeros((64, 2), "float32")
    model.fit(x, y, batch_size=4, epochs=3, callbacks=callbacks, verbose=0)


def test_a_ctrl_c_lost_in_a_library_stops_training_at_the_batch_end():
    swallowing = SwallowedCtrlC(at=3)
    small_fit([swallowing])  # without the callback, the Ctrl-C is lost: all 48 batches
    assert swallowing.batches == 48
    swallowing = SwallowedCtrlC(at=3)
    with pytest.raises(KeyboardInterrupt):
        small_fit([swallowing, StopOnInterrupt()])
    assert swallowing.batches == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_python_s_handler_is_put_back_after_training():
    small_fit([StopOnInterrupt()])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    own = lambda signal_number, frame: None  # noqa: E731
    previous = signal.signal(signal.SIGINT, own)
    try:
        small_fit([StopOnInterrupt()])  # a handler of the user's is left alone
        assert signal.getsignal(signal.SIGINT) is own
    finally:
        signal.signal(signal.SIGINT, previous)
