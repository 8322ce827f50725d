"""The diagnostics against closed forms: Eqn 10/14 variances, slopes, mean responses."""

import math

import keras
import numpy as np
import pytest

from keras_prelu.analysis import format_signal_table
from keras_prelu.analysis import learned_slopes
from keras_prelu.analysis import mean_responses
from keras_prelu.analysis import signal_propagation
from keras_prelu.layers import PReLU

WIDTH = 1024
BATCH = 256


def _gaussian(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _dense_stack(depth, stddevs, activation=None, width=WIDTH):
    """`depth` bias-free dense layers, each followed by `activation` but the last."""
    inputs = keras.Input((width,))
    x = inputs
    for k in range(depth):
        x = keras.layers.Dense(
            width,
            use_bias=False,
            kernel_initializer=keras.initializers.RandomNormal(stddev=stddevs[k], seed=k),
            name=f"fc{k + 1}",
        )(x)
        if activation is not None and k < depth - 1:
            x = activation(name=f"act{k + 1}")(x)
    return keras.Model(inputs, x)


def test_linear_stack_variances_are_products_of_n_var_w():
    # Gains n Var[w] of 4, 1/4, 1/2 and 1/10: a product of 0.05 over depth.
    stddevs = [math.sqrt(gain / WIDTH) for gain in (4.0, 0.25, 0.5, 0.1)]
    model = _dense_stack(4, stddevs)
    inputs = _gaussian((BATCH, WIDTH))
    rows = signal_propagation(model, inputs)
    gains = [row.fan_in * row.weight_variance for row in rows]
    # The realized kernels' variances are the drawn ones up to sampling.
    for row, std in zip(rows, stddevs):
        assert row.fan_in == row.fan_out == WIDTH
        assert row.weight_variance == pytest.approx(std**2, rel=0.02)
    # Forward, Eqn 10 without rectifiers: Var[y_l] = prod_{k<=l} n_k Var[w_k] E[x^2].
    second_moment = float(np.mean(inputs.astype("float64") ** 2))
    for l, row in enumerate(rows):
        expected = math.prod(gains[: l + 1]) * second_moment
        assert row.forward_variance == pytest.approx(expected, rel=0.15)
    # Backward, Eqn 14 with Var[dy_L] = 1: Var[dx_l] = prod_{k>=l} n^_k Var[w_k].
    for l, row in enumerate(rows):
        expected = math.prod(r.fan_out * r.weight_variance for r in rows[l:])
        assert row.backward_variance == pytest.approx(expected, rel=0.15)
    # Not a flat line: the top's variance is a 40th of the first layer's.
    assert rows[-1].forward_variance < rows[0].forward_variance / 20
    assert "fc4" in format_signal_table(rows)


def test_relu_stack_he_init_keeps_variances_constant_xavier_halves_them():
    depth = 8
    he_fan_in = [math.sqrt(2 / WIDTH)] * depth  # Eqn 12 (= Eqn 16 when square)
    xavier = [math.sqrt(1 / WIDTH)] * depth
    inputs = _gaussian((BATCH, WIDTH), seed=1)
    he = signal_propagation(_dense_stack(depth, he_fan_in, keras.layers.ReLU), inputs)
    xa = signal_propagation(_dense_stack(depth, xavier, keras.layers.ReLU), inputs)
    # He: Var[y_1] = n Var[w] E[x^2] = 2, then 1/2 n Var[w] = 1 keeps it at 2.
    for row in he:
        assert 2 * 0.75 < row.forward_variance < 2 * 1.33, row
    # Backward: Var[dx_L] = n^ Var[w] = 2 at the top, then constant.
    for row in he:
        assert 2 * 0.75 < row.backward_variance < 2 * 1.33, row
    # Xavier: Var[y_1] = 1, then halved at each of the depth - 1 rectifiers.
    for l, row in enumerate(xa):
        expected = 0.5**l
        assert expected / 1.4 < row.forward_variance < expected * 1.4, row
    # Backward from Var[dx_L] = 1, halved at each rectifier below.
    for l, row in enumerate(xa):
        expected = 0.5 ** (depth - 1 - l)
        assert expected / 1.4 < row.backward_variance < expected * 1.4, row


def test_convolution_fans_and_forward_variance():
    inputs = keras.Input((12, 12, 8))
    y = keras.layers.Conv2D(
        16,
        3,
        padding="valid",
        use_bias=False,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=3),
        name="conv",
    )(inputs)
    model = keras.Model(inputs, y)
    (row,) = signal_propagation(model, _gaussian((64, 12, 12, 8)), backward=False)
    assert (row.fan_in, row.fan_out) == (3 * 3 * 8, 3 * 3 * 16)
    assert row.backward_variance is None
    # Every valid output sums exactly k^2 c = 72 products: Var[y] = 72 Var[w] E[x^2].
    assert row.forward_variance == pytest.approx(
        72 * row.weight_variance * row.input_second_moment, rel=0.1
    )


def test_signal_propagation_rejects_a_model_without_weight_layers():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.ReLU()(inputs))
    with pytest.raises(ValueError, match="no convolution or dense layer"):
        signal_propagation(model, np.ones((2, 4), "float32"))


def test_learned_slopes_reads_each_kind_of_rectifier():
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(3, 1, name="conv1")(inputs)
    x = PReLU(mode="channel_wise", name="act1")(x)
    x = PReLU(mode="channel_shared", name="act2")(x)
    x = keras.layers.ReLU(name="act3")(x)
    x = keras.layers.LeakyReLU(0.25, name="act4")(x)
    model = keras.Model(inputs, x)
    model.get_layer("act1").alpha.assign(np.array([0.1, 0.5, -0.2], "float32"))
    model.get_layer("act2").alpha.assign(np.array([0.7], "float32"))
    rows = {row.name: row for row in learned_slopes(model)}
    assert list(rows) == ["act1", "act2", "act3", "act4"]
    wise = rows["act1"]
    assert (wise.kind, wise.count) == ("channel_wise", 3)
    assert (wise.mean, wise.min, wise.max) == pytest.approx((0.4 / 3, -0.2, 0.5))
    shared = rows["act2"]
    assert (shared.kind, shared.count, shared.mean) == ("channel_shared", 1, pytest.approx(0.7))
    assert (rows["act3"].kind, rows["act3"].mean) == ("fixed", 0.0)
    assert rows["act4"].mean == pytest.approx(0.25)


def test_mean_responses_of_relu_and_prelu_on_gaussian_inputs():
    inputs = keras.Input((64,))
    relu = keras.layers.ReLU(name="relu")(inputs)
    prelu = PReLU(alpha_initializer=keras.initializers.Constant(0.5), name="prelu")(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([relu, prelu]))
    data = [(_gaussian((500, 64), seed=s), np.zeros(500)) for s in range(4)]
    rows = {row.name: row for row in mean_responses(model, data, max_batches=3)}
    # For y ~ N(0, 1): E[max(y, 0)] = 1/sqrt(2 pi), E[max(y, 0)^2] = 1/2.
    assert rows["relu"].mean == pytest.approx(1 / math.sqrt(2 * math.pi), rel=0.03)
    assert rows["relu"].second_moment == pytest.approx(0.5, rel=0.03)
    assert rows["relu"].negative_fraction == 0.0
    # PReLU(a): mean (1 - a) / sqrt(2 pi), E[f^2] = (1 + a^2) / 2, half negative.
    assert rows["prelu"].mean == pytest.approx(0.5 / math.sqrt(2 * math.pi), rel=0.05)
    assert rows["prelu"].second_moment == pytest.approx(0.625, rel=0.03)
    assert rows["prelu"].negative_fraction == pytest.approx(0.5, abs=0.01)


def test_mean_responses_rejects_unknown_layers_and_empty_data():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.ReLU(name="relu")(inputs))
    with pytest.raises(ValueError, match="does not have"):
        mean_responses(model, [np.ones((2, 4))], layers=["nope"])
    with pytest.raises(ValueError, match="no batch"):
        mean_responses(model, [])


def test_model30_xavier_over_he_fan_in_is_half_per_layer():
    """Xavier's `n Var[w] = 1` vs He's `1/2 n Var[w] = 1` on the 30-layer model.

    The same seed draws the same Gaussians, scaled by std ratio 1/sqrt(2) at
    every layer; a bias-free ReLU network with max pooling is positively
    homogeneous in each layer's weights, so at layer l the responses' variance
    ratio is exactly 2^-l and the gradients' (above l) 2^-(L - l + 1).
    """
    from keras_prelu.zoo import Model30

    def build(initializer):
        return Model30(
            input_shape=(32, 32, 3),
            num_classes=10,
            activation="relu",
            initializer=initializer,
            fc_initializer=initializer,
            fc_units=(16, 16),
            seed=5,
        )

    images = _gaussian((4, 32, 32, 3), seed=2)
    he = signal_propagation(build("he_fan_in"), images)
    xavier = signal_propagation(build("xavier"), images)
    depth = len(he)
    assert depth == 30
    for l, (h, x) in enumerate(zip(he, xavier), start=1):
        assert x.forward_variance / h.forward_variance == pytest.approx(0.5**l, rel=1e-3)
        assert x.backward_variance / h.backward_variance == pytest.approx(
            0.5 ** (depth - l + 1), rel=1e-3
        )
