import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_prelu import PReLUHeNormal


def sample(initializer, shape):
    return ops.convert_to_numpy(initializer(shape, dtype="float32"))


@pytest.mark.parametrize(
    "slope, mode, expected_std",
    [
        # Closed forms for a 3x3x64x128 kernel (Eqn. 12 / Eqn. 16).
        (0.25, "fan_in", 0.057166),
        (0.25, "fan_out", 0.040423),
        (0.0, "fan_in", 0.058926),
        (1.0, "fan_in", math.sqrt(1 / (3 * 3 * 64))),  # linear: Xavier's n Var = 1
    ],
)
def test_std_matches_closed_form(slope, mode, expected_std):
    kernel = sample(PReLUHeNormal(slope=slope, mode=mode, seed=1), (3, 3, 64, 128))
    n = 3 * 3 * (64 if mode == "fan_in" else 128)
    assert math.isclose(math.sqrt(2 / ((1 + slope**2) * n)), expected_std, rel_tol=1e-4)
    assert abs(kernel.mean()) < 3 * expected_std / math.sqrt(kernel.size)
    assert kernel.std() == pytest.approx(expected_std, rel=0.015)


def test_gaussian_is_not_truncated():
    # A plain Gaussian puts 4.55% of its mass beyond 2 std and 0.27% beyond
    # 3 std; Keras' HeNormal, cut at 2 / 0.8796 = 2.27 std, none beyond that.
    std = math.sqrt(2 / 512)
    values = sample(PReLUHeNormal(slope=0.0, mode="fan_in", seed=2), (512, 400))
    beyond_2 = np.mean(np.abs(values) > 2 * std)
    beyond_3 = np.mean(np.abs(values) > 3 * std)
    assert 0.041 < beyond_2 < 0.050
    assert 0.0015 < beyond_3 < 0.0040
    truncated = sample(keras.initializers.HeNormal(seed=2), (512, 400))
    assert np.abs(truncated).max() < 2.28 * std < np.abs(values).max()


def test_dense_kernel_fans():
    values = sample(PReLUHeNormal(slope=0.0, mode="fan_out", seed=3), (300, 2000))
    assert values.std() == pytest.approx(math.sqrt(2 / 2000), rel=0.01)


def test_seeded_like_keras_initializers():
    first = sample(PReLUHeNormal(seed=7), (4, 4))
    np.testing.assert_array_equal(first, sample(PReLUHeNormal(seed=7), (4, 4)))
    assert not np.array_equal(first, sample(PReLUHeNormal(seed=8), (4, 4)))


def test_serialization_round_trip():
    initializer = PReLUHeNormal(slope=0.1, mode="fan_in", seed=4)
    config = initializer.get_config()
    assert config == {"slope": 0.1, "mode": "fan_in", "seed": 4}
    restored = keras.initializers.deserialize(keras.initializers.serialize(initializer))
    assert isinstance(restored, PReLUHeNormal)
    np.testing.assert_array_equal(sample(restored, (3, 5)), sample(initializer, (3, 5)))


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"mode": "fan_avg"}, "mode"),
        ({"slope": "0.25"}, "slope"),
        ({"slope": float("inf")}, "slope"),
        ({"slope": True}, "slope"),
    ],
)
def test_errors_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError) as error:
        PReLUHeNormal(**kwargs)
    message = str(error.value)
    assert message.startswith(f"Argument `{argument}` must ")
    assert message.endswith(f"Received: {argument}={kwargs[argument]!r}")


def propagate(slope, init_slope, depth=30, width=1024, seed=0):
    """Var[y_L] / Var[y_1] through `depth` fc layers with PReLU(slope) (Eqn. 10)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, width)).astype("float32")
    variances = []
    for layer in range(depth):
        kernel = sample(PReLUHeNormal(slope=init_slope, mode="fan_in", seed=layer), (width, width))
        y = x @ kernel
        variances.append(y.var())
        x = np.where(y > 0, y, slope * y)
    return variances[-1] / variances[0]


def test_30_layer_variance_stays_flat_only_with_the_slope_term():
    slope = 0.25
    with_term = propagate(slope, init_slope=slope)
    without_term = propagate(slope, init_slope=0.0)
    assert 0.5 < with_term < 2.0
    # Without the slope term each layer multiplies the variance by (1 + a^2).
    growth = (1 + slope**2) ** 29
    assert 0.5 < without_term / growth < 2.0
    assert without_term > 3.0
