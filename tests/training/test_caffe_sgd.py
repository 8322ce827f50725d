import keras
import numpy as np
import pytest

from keras_prelu.training import CaffeSGD
from tests.helpers.arrays import to_numpy

MOMENTUM = 0.9
WEIGHT_DECAY = 0.0005


def caffe_sgd_steps(weights, gradients, learning_rates, decayed):
    """Caffe's SGDSolver, L2 regularization, in NumPy.

    Regularize: diff += weight_decay * data (decayed blobs only);
    ComputeUpdateValue: history = momentum * history + rate * diff;
    Update: data -= history.
    """
    weights = [w.astype(np.float64) for w in weights]
    history = [np.zeros_like(w) for w in weights]
    for step_gradients, rate in zip(gradients, learning_rates):
        for i, gradient in enumerate(step_gradients):
            diff = gradient + (WEIGHT_DECAY * weights[i] if decayed[i] else 0)
            history[i] = MOMENTUM * history[i] + rate * diff
            weights[i] = weights[i] - history[i]
    return weights


def conv_prelu_dense():
    """A model with a conv kernel, biases, PReLU slopes and a dense kernel."""
    return keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(3, 3, name="conv"),
            keras.layers.PReLU(
                alpha_initializer=keras.initializers.Constant(0.25),
                shared_axes=(1, 2),
                name="prelu",
            ),
            keras.layers.Flatten(),
            keras.layers.Dense(4, name="fc"),
        ]
    )


def test_matches_caffe_update_over_steps_with_a_learning_rate_switch():
    model = conv_prelu_dense()
    variables = model.trainable_variables
    optimizer = CaffeSGD(learning_rate=0.1, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    rng = np.random.default_rng(0)
    learning_rates = [0.1, 0.1, 0.1, 0.01, 0.01, 0.001]
    gradients = [
        [rng.normal(size=v.shape).astype("float32") for v in variables] for _ in learning_rates
    ]
    initial = [to_numpy(v) for v in variables]
    for step_gradients, rate in zip(gradients, learning_rates):
        optimizer.learning_rate = rate
        optimizer.apply_gradients(zip(step_gradients, variables))

    decayed = [v.name == "kernel" for v in variables]
    expected = caffe_sgd_steps(initial, gradients, learning_rates, decayed)
    for variable, value in zip(variables, expected):
        np.testing.assert_allclose(to_numpy(variable), value, rtol=1e-5, atol=1e-6)


def test_kernels_decay_and_slopes_and_biases_do_not():
    model = conv_prelu_dense()
    model.get_layer("conv").bias.assign(np.full((3,), 0.5, "float32"))
    optimizer = CaffeSGD(learning_rate=0.1, weight_decay=0.1)
    variables = model.trainable_variables
    before = {v.path: to_numpy(v) for v in variables}
    zero_gradients = [np.zeros(v.shape, "float32") for v in variables]
    optimizer.apply_gradients(zip(zero_gradients, variables))
    for variable in variables:
        after = to_numpy(variable)
        if variable.name == "kernel":
            # One step from zero velocity: w - lr * wd * w.
            np.testing.assert_allclose(after, before[variable.path] * (1 - 0.1 * 0.1), rtol=1e-6)
            assert optimizer.is_decayed(variable)
        else:
            np.testing.assert_array_equal(after, before[variable.path])
            assert not optimizer.is_decayed(variable)
    assert {v.name for v in variables} == {"kernel", "bias", "alpha"}


def test_decay_pattern_and_exclusions_select_the_decayed_variables():
    model = conv_prelu_dense()
    only_conv = CaffeSGD(decay_pattern=r"^.*conv/kernel$")
    only_conv.build(model.trainable_variables)
    assert [v.path for v in model.trainable_variables if only_conv.is_decayed(v)] == [
        model.get_layer("conv").kernel.path
    ]
    excluded = CaffeSGD()
    excluded.exclude_from_weight_decay(var_list=[model.get_layer("fc").kernel])
    excluded.build(model.trainable_variables)
    assert not excluded.is_decayed(model.get_layer("fc").kernel)
    assert excluded.is_decayed(model.get_layer("conv").kernel)


def test_fit_applies_the_update_in_the_training_step():
    # Linear least squares: the gradient of mean((x w + b - y)^2) / 2 over
    # the batch is x^T r / n for w and mean(r) for b, r = x w + b - y.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    w0, b0 = (to_numpy(v) for v in model.weights)
    model.compile(
        CaffeSGD(learning_rate=0.1, weight_decay=0.01),
        loss=lambda t, p: keras.ops.mean(keras.ops.square(p - t)) / 2,
    )
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)

    w, b = w0.astype(np.float64), b0.astype(np.float64)
    velocity_w, velocity_b = np.zeros_like(w), np.zeros_like(b)
    for _ in range(3):
        residual = x @ w + b - y
        velocity_w = MOMENTUM * velocity_w + 0.1 * (x.T @ residual / 16 + 0.01 * w)
        velocity_b = MOMENTUM * velocity_b + 0.1 * residual.mean(axis=0)
        w, b = w - velocity_w, b - velocity_b
    np.testing.assert_allclose(to_numpy(model.weights[0]), w, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(model.weights[1]), b, rtol=1e-5)


def test_keras_save_and_load_keep_the_optimizer(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 6, 6, 2)).astype("float32")
    y = rng.normal(size=(8, 4)).astype("float32")
    model = conv_prelu_dense()
    model.compile(
        CaffeSGD(learning_rate=0.05, weight_decay=0.001, decay_pattern="conv"),
        loss="mse",
    )
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")

    assert isinstance(loaded.optimizer, CaffeSGD)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for original, restored in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(to_numpy(original), to_numpy(restored))
    model.fit(x, y, epochs=1, verbose=0)
    loaded.fit(x, y, epochs=1, verbose=0)
    for original, restored in zip(model.weights, loaded.weights):
        # Float32 rounding: XLA's CPU reductions are not bitwise repeatable.
        np.testing.assert_allclose(to_numpy(original), to_numpy(restored), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"weight_decay": "5e-4"}, "weight_decay"),
        ({"decay_pattern": "kernel("}, "decay_pattern"),
        ({"decay_pattern": None}, "decay_pattern"),
    ],
)
def test_invalid_arguments_raise_naming_them(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        CaffeSGD(**kwargs)
