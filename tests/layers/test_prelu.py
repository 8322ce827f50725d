import keras
import ml_dtypes
import numpy as np
import pytest
from absl.testing import parameterized
from keras import ops
from keras.src import testing

from keras_prelu import PReLU
from keras_prelu.layers.prelu import _sum_to_shape
from keras_prelu.layers.prelu import prelu
from tests.helpers.gradients import gradients
from tests.helpers.gradients import layer_gradients


def reference_prelu(y, a):
    """Eqn. 1 and the gradients of Eqn. 2-3 in NumPy, for upstream g = 1."""
    f = np.where(y > 0, y, a * y)
    df_dy = np.where(y > 0, 1.0, a)
    df_da = np.where(y > 0, 0.0, y)
    return f, df_dy, df_da


def random_input(shape, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=shape).astype("float32")
    y.flat[::7] = 0.0  # exact zeros take the y <= 0 branch
    return y


@pytest.mark.parametrize(
    "shape, data_format, channel_axis",
    [
        ((4, 6), "channels_last", -1),  # after a Dense layer: units
        ((2, 5, 3), "channels_last", -1),
        ((2, 7, 5, 3), "channels_last", -1),
        ((2, 3, 7, 5), "channels_first", 1),
        ((2, 3, 4, 2, 5), "channels_first", 1),
        ((2, 4, 2, 5, 3), "channels_last", -1),
    ],
)
def test_channel_wise_matches_reference(shape, data_format, channel_axis):
    y = random_input(shape)
    channels = shape[channel_axis]
    slopes = np.linspace(-0.5, 1.5, channels).astype("float32")
    layer = PReLU(data_format=data_format)
    layer.build(shape)
    layer.alpha.assign(slopes)
    a = slopes.reshape([-1 if i == channel_axis % len(shape) else 1 for i in range(len(shape))])
    upstream = np.random.default_rng(1).normal(size=shape).astype("float32")

    f, df_dy, df_da = reference_prelu(y, a)
    grad_y, (grad_a,) = layer_gradients(layer, y, upstream)
    reduce_axes = tuple(i for i in range(len(shape)) if i != channel_axis % len(shape))

    np.testing.assert_allclose(ops.convert_to_numpy(layer(y)), f, rtol=1e-6)
    np.testing.assert_allclose(grad_y, upstream * df_dy, rtol=1e-6)
    np.testing.assert_allclose(
        grad_a, (upstream * df_da).sum(axis=reduce_axes), rtol=1e-5, atol=1e-5
    )


def test_channel_shared_matches_reference():
    shape = (3, 6, 5, 4)
    y = random_input(shape)
    upstream = np.random.default_rng(2).normal(size=shape).astype("float32")
    layer = PReLU(mode="channel_shared")
    layer.build(shape)
    layer.alpha.assign([0.3])

    f, df_dy, df_da = reference_prelu(y, 0.3)
    grad_y, (grad_a,) = layer_gradients(layer, y, upstream)

    assert layer.alpha.shape == (1,)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(y)), f, rtol=1e-6)
    np.testing.assert_allclose(grad_y, upstream * df_dy, rtol=1e-6)
    np.testing.assert_allclose(grad_a, [(upstream * df_da).sum()], rtol=1e-5)


@pytest.mark.parametrize("as_matmul", [True, False])
@pytest.mark.parametrize(
    "values_shape, shape",
    [
        ((6, 5, 4, 3), (3,)),
        ((6, 3, 5, 4), (3, 1, 1)),
        ((6, 5, 4, 3), (1,)),
        ((7, 3), (3,)),
        ((2, 3, 4, 5, 6), (3, 1, 1, 1)),
    ],
)
def test_slope_gradient_sums_over_the_broadcast_axes(values_shape, shape, as_matmul):
    # Both ways of summing (CPU: a product with ones; GPU: a reduction).
    values = np.random.default_rng(0).normal(size=values_shape).astype("float32")
    full = (1,) * (len(values_shape) - len(shape)) + shape
    axes = tuple(i for i, size in enumerate(full) if size == 1)
    expected = values.sum(axis=axes).reshape(shape)
    summed = ops.convert_to_numpy(_sum_to_shape(values, shape, as_matmul))
    np.testing.assert_allclose(summed, expected, rtol=1e-5, atol=1e-5)


def test_gradient_at_zero_takes_the_non_positive_branch():
    # Eqn. 1 puts y = 0 in the a * y branch: df/dy = a, df/da = y (Caffe,
    # PyTorch); Keras' relu(x) - a * relu(-x) gives df/dy = 0 there.
    def total(y, a):
        return ops.sum(prelu(y, a))

    grad_y, grad_a = gradients(total, np.zeros(3), np.full(3, 0.25))
    np.testing.assert_array_equal(grad_y, [0.25, 0.25, 0.25])
    np.testing.assert_array_equal(grad_a, [0.0, 0.0, 0.0])
    # Just below zero the slope gradient is y itself.
    _, grad_a = gradients(total, np.full(3, -1e-3), np.full(3, 0.25))
    np.testing.assert_allclose(grad_a, [-1e-3] * 3)


def test_infinite_inputs():
    y = np.array([[-np.inf, np.inf, -1.0, np.nan]], dtype="float32")
    zero_slope = PReLU(alpha_initializer="zeros")
    out = ops.convert_to_numpy(zero_slope(y))
    np.testing.assert_array_equal(out[0, :3], [0.0, np.inf, 0.0])
    assert np.isnan(out[0, 3])  # NaN stays NaN
    out = ops.convert_to_numpy(PReLU(mode="channel_shared")(y))
    np.testing.assert_array_equal(out[0, :3], [-np.inf, np.inf, -0.25])


def test_defaults_follow_the_paper():
    layer = PReLU()
    layer.build((None, 8, 8, 16))
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.alpha), [0.25] * 16)
    assert layer.alpha.shape == (16,)
    assert layer.alpha_regularizer is None
    assert layer.losses == []


def test_parameter_counts():
    inputs = keras.Input((None, None, 24))
    wise = PReLU(name="wise")(inputs)
    model = keras.Model(inputs, PReLU(mode="channel_shared", name="shared")(wise))
    assert model.get_layer("wise").count_params() == 24
    assert model.get_layer("shared").count_params() == 1


def test_any_initializer_and_regularizer():
    layer = PReLU(
        alpha_initializer=keras.initializers.Constant(0.1),
        alpha_regularizer=keras.regularizers.L2(0.5),
    )
    layer(np.ones((1, 3), "float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(layer.alpha), [0.1] * 3)
    np.testing.assert_allclose(
        float(ops.convert_to_numpy(ops.sum(layer.losses))), 0.5 * 3 * 0.01, rtol=1e-5
    )


def test_one_instance_accepts_several_image_sizes():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, PReLU()(inputs))
    for height, width in ((32, 32), (57, 43)):
        y = random_input((2, height, width, 3))
        out = model.predict(y, verbose=0)
        np.testing.assert_allclose(out, reference_prelu(y, 0.25)[0], rtol=1e-6)


def test_slope_is_learned():
    # Fit the slope to data made by a PReLU of slope 0.6 (no other weights).
    rng = np.random.default_rng(3)
    y = rng.normal(size=(512, 4)).astype("float32")
    target = np.where(y > 0, y, 0.6 * y)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, PReLU(mode="channel_shared")(inputs))
    model.compile(keras.optimizers.SGD(0.5), "mse")
    model.fit(y, target, batch_size=64, epochs=20, verbose=0)
    slope = float(ops.convert_to_numpy(model.layers[1].alpha)[0])
    assert abs(slope - 0.6) < 1e-3


@pytest.mark.parametrize(
    "policy, compute", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")]
)
def test_mixed_precision_keeps_float32_slopes(policy, compute):
    layer = PReLU(dtype=policy)
    out = layer(np.array([[-2.0, 3.0]], "float32"))
    assert keras.backend.standardize_dtype(layer.alpha.dtype) == "float32"
    assert keras.backend.standardize_dtype(out.dtype) == compute
    np.testing.assert_allclose(ops.convert_to_numpy(out).astype("float32"), [[-0.5, 3.0]])

    # The slope gradient is summed in float32: 4096 products of 1 * -1 would
    # round to a multiple of 4 (float16) or 32 (bfloat16) past 2048 / 256.
    def loss(y, alpha):
        return ops.sum(ops.cast(prelu(ops.cast(y, compute), alpha), "float32"))

    _, grad_alpha = gradients(loss, -np.ones((4097, 1)), [0.25])
    assert grad_alpha.dtype == np.float32
    assert grad_alpha[0] == -4097.0


@pytest.mark.parametrize("compute", ["float16", "bfloat16"])
def test_slope_gradient_of_large_products_matches_numpy(compute):
    # Loss-scaled gradients (~1e3) times large responses (~3e2): products of
    # ~3e5 exceed float16's 65504. The sum of each channel is float32's.
    rng = np.random.default_rng(4)
    dtype = ml_dtypes.bfloat16 if compute == "bfloat16" else np.float16
    y = (rng.normal(size=(256, 4)) * 300).astype(dtype).astype("float32")
    upstream = (rng.normal(size=(256, 4)) * 1000).astype(dtype).astype("float32")
    products = upstream.astype("float64") * np.minimum(y, 0)

    def loss(y, alpha):
        outputs = ops.cast(prelu(ops.cast(y, compute), alpha), "float32")
        return ops.sum(outputs * ops.convert_to_tensor(upstream))

    _, grad_alpha = gradients(loss, y, np.full(4, 0.25))
    assert grad_alpha.dtype == np.float32
    assert np.all(np.isfinite(grad_alpha))
    # float16 products are exact in float32; bfloat16 ones are rounded to
    # bfloat16's 8 bits before the float32 sum.
    tolerance = 2.0**-8 if compute == "bfloat16" else 1e-6
    np.testing.assert_array_less(
        np.abs(grad_alpha - products.sum(axis=0)), tolerance * np.abs(products).sum(axis=0)
    )


def test_errors_name_the_argument():
    with pytest.raises(
        ValueError, match=r"^Argument `mode` must be one of .*Received: mode='channelwise'$"
    ):
        PReLU(mode="channelwise")
    with pytest.raises(
        ValueError, match=r"^Argument `data_format` .*Received: data_format='NHWC'$"
    ):
        PReLU(data_format="NHWC")
    with pytest.raises(ValueError, match="channel dimension"):
        PReLU().build((None, 8, 8, None))
    with pytest.raises(ValueError, match="channel dimension"):
        PReLU(data_format="channels_first").build((None, None, 8, 8))
    with pytest.raises(ValueError, match=r"rank >= 2 .*Received: input_shape=\(5,\)$"):
        PReLU().build((5,))
    # channel-shared needs no channel dimension
    PReLU(mode="channel_shared").build((None, 8, 8, None))


def test_config_and_saved_model_round_trip(tmp_path):
    layer = PReLU(mode="channel_shared", data_format="channels_first", name="p")
    clone = PReLU.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    inputs = keras.Input((3, None, None))
    model = keras.Model(inputs, PReLU(data_format="channels_first")(inputs))
    model.layers[1].alpha.assign([0.1, -0.2, 0.7])
    path = tmp_path / "prelu.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    y = random_input((2, 3, 5, 9))
    assert isinstance(loaded.layers[1], PReLU)
    np.testing.assert_array_equal(loaded.predict(y, verbose=0), model.predict(y, verbose=0))


class PReLUOnKerasHarness(testing.TestCase):
    """Keras' own layer checks: config, serialization, training, mixed precision, masking."""

    @parameterized.named_parameters(
        ("channel_wise", {}, (2, 5, 4, 3)),
        ("channel_shared", {"mode": "channel_shared"}, (2, 5, 4, 3)),
        ("channels_first", {"data_format": "channels_first"}, (2, 3, 5, 4)),
        ("dense_units", {}, (3, 6)),
        ("shared_axes", {"shared_axes": [1, 2]}, (2, 5, 4, 3)),
    )
    def test_layer(self, init_kwargs, input_shape):
        self.run_layer_test(
            PReLU,
            init_kwargs=init_kwargs,
            input_shape=input_shape,
            expected_output_shape=input_shape,
            expected_num_trainable_weights=1,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
        )


def shared_axes_reference(y, a, shared_axes):
    """Eqn. 1-3 in NumPy for slopes `a` shared along `shared_axes` (upstream g = 1)."""
    f, df_dy, df_da = reference_prelu(y, a)
    return f, df_dy, df_da.sum(axis=(0, *shared_axes), keepdims=True)[0]


@pytest.mark.parametrize(
    "shared_axes, alpha_shape",
    [
        ([1, 2], (1, 1, 3)),  # channel-wise on (batch, height, width, channels)
        ([-3, -2], (1, 1, 3)),  # the same, counted from the end
        ([1, 2, 3], (1, 1, 1)),  # channel-shared
        ([], (6, 5, 3)),  # keras.layers.PReLU's default: one slope per position
        (1, (1, 5, 3)),  # one slope per column and channel
        ([2, 3], (6, 1, 1)),  # one slope per row
    ],
)
def test_shared_axes_follow_keras_shapes_and_the_papers_gradient(shared_axes, alpha_shape):
    shape = (2, 6, 5, 3)
    y = random_input(shape)
    layer = PReLU(shared_axes=shared_axes)
    layer.build(shape)
    assert tuple(layer.alpha.shape) == alpha_shape
    slopes = np.random.default_rng(5).uniform(-0.5, 1.5, alpha_shape).astype("float32")
    layer.alpha.assign(slopes)
    upstream = np.ones(shape, "float32")

    axes = [i for i in range(1, 4) if alpha_shape[i - 1] == 1]
    f, df_dy, df_da = shared_axes_reference(y, slopes[None], axes)
    grad_y, (grad_a,) = layer_gradients(layer, y, upstream)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(y)), f, rtol=1e-6)
    np.testing.assert_allclose(grad_y, df_dy, rtol=1e-6)  # a at y = 0
    np.testing.assert_allclose(grad_a, df_da, rtol=1e-5, atol=1e-5)


def test_shared_axes_match_the_modes():
    y = random_input((2, 6, 5, 3))
    pairs = [
        (PReLU(shared_axes=[1, 2]), PReLU()),
        (PReLU(shared_axes=[1, 2, 3]), PReLU(mode="channel_shared")),
    ]
    for by_axes, by_mode in pairs:
        np.testing.assert_array_equal(
            ops.convert_to_numpy(by_axes(y)), ops.convert_to_numpy(by_mode(y))
        )


def test_shared_axes_errors_name_the_argument():
    with pytest.raises(
        ValueError,
        match=r"^Argument `shared_axes` must name non-batch axes of inputs of rank 4: "
        r"\[1, 2, 3\] or \[-3, -2, -1\]\. Received: shared_axes=\[0, 1\]$",
    ):
        PReLU(shared_axes=[0, 1]).build((None, 6, 5, 3))
    with pytest.raises(ValueError, match=r"Received: shared_axes=\[4\]$"):
        PReLU(shared_axes=4).build((None, 6, 5, 3))
    with pytest.raises(ValueError, match=r"^Pass `mode` or `shared_axes`, not both"):
        PReLU(mode="channel_shared", shared_axes=[1, 2])
    with pytest.raises(ValueError, match=r"known size .* share axes \[1, 2\] too"):
        PReLU(shared_axes=[3]).build((None, None, None, 3))
    # Shared axes may be of any size.
    PReLU(shared_axes=[1, 2]).build((None, None, None, 3))
