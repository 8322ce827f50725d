"""Gradients with respect to variables on every backend, and their norms during training."""

import csv
import importlib.util

import keras
import numpy as np
import pytest

from keras_prelu.analysis.gradients import GradientNorms
from keras_prelu.analysis.gradients import gradients
from tests.helpers.processes import run_python

# A linear least-squares loss `E = mean((x W - t)^2)`, whose gradient is
# `dE/dW = 2 / (N k) x^T (x W - t)`, checked on a backend in a fresh process.
LEAST_SQUARES = """
import sys
import keras
import numpy as np
from keras_prelu.analysis.gradients import value_and_gradients

rng = np.random.default_rng(0)
x = rng.standard_normal((6, 4)).astype("float32")
t = rng.standard_normal((6, 3)).astype("float32")
w = rng.standard_normal((4, 3)).astype("float32")
kernel = keras.Variable(w)
unused = keras.Variable(np.ones(2, "float32"))

def loss():
    residual = keras.ops.matmul(x, kernel) - keras.ops.convert_to_tensor(t)
    return keras.ops.mean(residual**2)

value, (dw, dunused) = value_and_gradients(loss, [kernel, unused])
residual = x @ w - t
np.testing.assert_allclose(value, np.mean(residual**2), rtol=1e-5)
np.testing.assert_allclose(dw, 2 * x.T @ residual / residual.size, rtol=1e-4, atol=1e-6)
np.testing.assert_array_equal(dunused, np.zeros(2))
assert dw.dtype == np.float32 and dw.shape == (4, 3)
print(keras.backend.backend(), "ok")
"""


@pytest.mark.backend("tensorflow")  # it starts a process per backend itself
@pytest.mark.parametrize(
    "backend",
    [
        "tensorflow",
        "jax",
        pytest.param(
            "torch",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("torch") is None, reason="torch is not installed"
            ),
        ),
    ],
)
def test_value_and_gradients_match_the_closed_form_of_least_squares(backend):
    assert run_python(LEAST_SQUARES, backend=backend).strip().endswith(f"{backend} ok")


def test_gradients_reject_what_is_not_a_variable():
    with pytest.raises(ValueError, match="`variables` must be one or more keras.Variables"):
        gradients(lambda: 0.0, [np.ones(3)])


def _linear_model(seed):
    inputs = keras.Input((4,))
    initializer = keras.initializers.RandomNormal(seed=seed)
    outputs = keras.layers.Dense(3, use_bias=False, kernel_initializer=initializer, name="linear")(
        inputs
    )
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def test_gradient_norms_log_the_closed_form_norm_at_every_chosen_step(rng, tmp_path):
    x = rng.standard_normal((8, 4)).astype("float32")
    t = rng.standard_normal((8, 3)).astype("float32")
    model = _linear_model(seed=1)
    path = tmp_path / "gradients.csv"
    norms = GradientNorms(x[:4], t[:4], layers=("linear",), every=3, path=path)
    kernels = []
    # Through `saver.model`: on JAX, a callback's model is synced with the training state.
    saver = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: kernels.append(
            keras.ops.convert_to_numpy(saver.model.get_layer("linear").kernel)
        )
    )
    initial = keras.ops.convert_to_numpy(model.get_layer("linear").kernel)
    # 2 epochs of 4 batches of 2: steps 1..8; records at steps 0, 3 and 6.
    model.fit(x, t, batch_size=2, epochs=2, shuffle=False, callbacks=[saver, norms], verbose=0)

    assert [(r.epoch, r.step) for r in norms.records] == [(0, 0), (0, 3), (1, 6)]
    for record, w in zip(norms.records, [initial, kernels[2], kernels[5]]):
        residual = x[:4] @ w - t[:4]
        np.testing.assert_allclose(record.loss, np.mean(residual**2), rtol=1e-5)
        expected = np.linalg.norm(2 * x[:4].T @ residual / residual.size)
        np.testing.assert_allclose(record.norms["linear"], expected, rtol=1e-4)
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == [0, 3, 6]
    assert float(rows[1]["linear"]) == pytest.approx(norms.records[1].norms["linear"])


def test_gradient_norms_of_a_resumed_run_keep_the_rows_of_earlier_epochs(rng, tmp_path):
    x = rng.standard_normal((8, 4)).astype("float32")
    t = rng.standard_normal((8, 3)).astype("float32")
    path = tmp_path / "gradients.csv"
    model = _linear_model(seed=1)
    model.fit(
        x,
        t,
        batch_size=2,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[GradientNorms(x, t, layers=("linear",), every=2, path=path)],
    )
    # Resumed after epoch 1: epoch 1's rows (steps 6, 8) are logged again, once.
    resumed = GradientNorms(x, t, layers=("linear",), every=2, path=path)
    model.fit(
        x, t, batch_size=2, epochs=2, initial_epoch=1, shuffle=False, verbose=0, callbacks=[resumed]
    )
    assert [(r.epoch, r.step) for r in resumed.records] == [(0, 0), (0, 2), (0, 4), (1, 6), (1, 8)]
    # A run with nothing left to train keeps every row.
    finished = GradientNorms(x, t, layers=("linear",), every=2, path=path)
    model.fit(x, t, batch_size=2, epochs=2, initial_epoch=2, verbose=0, callbacks=[finished])
    assert [r.step for r in finished.records] == [0, 2, 4, 6, 8]


def test_gradient_norms_reject_bad_arguments():
    with pytest.raises(ValueError, match="`every` must be an int >= 1"):
        GradientNorms(None, None, layers=("conv1",), every=0)
    with pytest.raises(ValueError, match="`layers` must be one or more layer names"):
        GradientNorms(None, None, layers=())
