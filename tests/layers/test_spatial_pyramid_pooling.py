import math
from fractions import Fraction

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from keras import ops
from keras.src import testing

from keras_prelu import SpatialPyramidPooling
from keras_prelu.layers.spatial_pyramid_pooling import bin_edges
from tests.helpers.gradients import layer_gradients


def reference_edges(size, bins):
    """Bin i spans [floor(i a / n), ceil((i + 1) a / n)), in exact rationals."""
    return [
        (math.floor(Fraction(i * size, bins)), math.ceil(Fraction((i + 1) * size, bins)))
        for i in range(bins)
    ]


def reference_spp(x, levels, pooling="max"):
    """Channels-last NumPy SPP: per level, channel-major (c, i, j) order."""
    batch, height, width, channels = x.shape
    reduce = np.max if pooling == "max" else np.mean
    outputs = []
    for n in levels:
        pooled = np.empty((batch, channels, n, n), x.dtype)
        for i, (r0, r1) in enumerate(reference_edges(height, n)):
            for j, (c0, c1) in enumerate(reference_edges(width, n)):
                pooled[:, :, i, j] = reduce(x[:, r0:r1, c0:c1, :], axis=(1, 2))
        outputs.append(pooled.reshape(batch, -1))
    return np.concatenate(outputs, axis=1)


def test_bin_edges_cover_every_size_with_exactly_n_nonempty_bins():
    for size in range(1, 80):
        for bins in range(1, 12):
            edges = bin_edges(size, bins)
            assert edges == reference_edges(size, bins)
            assert len(edges) == bins
            assert all(start < end for start, end in edges)
            assert edges[0][0] == 0 and edges[-1][1] == size
            assert all(edges[k + 1][0] <= edges[k][1] for k in range(bins - 1))


@pytest.mark.parametrize("size", [1, 3, 5, 9, 13, 14, 31])
@pytest.mark.parametrize("levels", [(7, 3, 2, 1), (6, 3, 2, 1)])
def test_matches_reference_on_odd_sizes(size, levels):
    x = np.random.default_rng(size).normal(size=(2, size, size, 3)).astype("float32")
    out = ops.convert_to_numpy(SpatialPyramidPooling(levels)(x))
    np.testing.assert_array_equal(out, reference_spp(x, levels))


@pytest.mark.parametrize("height, width", [(13, 5), (2, 31), (18, 9)])
@pytest.mark.parametrize("pooling", ["max", "average"])
def test_non_square_maps_and_average_pooling(height, width, pooling):
    x = np.random.default_rng(0).normal(size=(2, height, width, 4)).astype("float32")
    out = ops.convert_to_numpy(SpatialPyramidPooling((7, 3, 2, 1), pooling)(x))
    np.testing.assert_allclose(out, reference_spp(x, (7, 3, 2, 1), pooling), rtol=1e-5, atol=1e-6)


def test_all_negative_inputs_keep_their_maximum():
    x = -1.0 - np.random.default_rng(1).random((1, 9, 9, 2)).astype("float32")
    out = ops.convert_to_numpy(SpatialPyramidPooling((3, 1))(x))
    assert (out < -1.0).all()
    np.testing.assert_array_equal(out, reference_spp(x, (3, 1)))


def test_output_order_is_per_level_channel_major():
    # value = 100 * channel + 10 * row + column on a 2x2 map, one bin per cell
    # at level 2: offset c * 4 + i * 2 + j holds 100 c + 10 i + j.
    rows, cols, channels = np.meshgrid(np.arange(2), np.arange(2), np.arange(3), indexing="ij")
    x = (100 * channels + 10 * rows + cols)[None].astype("float32")
    out = ops.convert_to_numpy(SpatialPyramidPooling((2, 1))(x))[0]
    expected_level_2 = [100 * c + 10 * i + j for c in range(3) for i in range(2) for j in range(2)]
    expected_level_1 = [100 * c + 11 for c in range(3)]
    np.testing.assert_array_equal(out, expected_level_2 + expected_level_1)


def test_channels_first_equals_channels_last_on_transposed_input():
    x = np.random.default_rng(2).normal(size=(2, 11, 7, 5)).astype("float32")
    last = SpatialPyramidPooling(data_format="channels_last")(x)
    first = SpatialPyramidPooling(data_format="channels_first")(np.transpose(x, (0, 3, 1, 2)))
    np.testing.assert_array_equal(ops.convert_to_numpy(first), ops.convert_to_numpy(last))


def test_static_output_shape():
    layer = SpatialPyramidPooling((6, 3, 2, 1))
    assert layer.num_bins == 50
    out = layer(keras.Input((None, None, 256)))
    assert tuple(out.shape) == (None, 256 * 50)
    first = SpatialPyramidPooling(data_format="channels_first")(keras.Input((8, None, None)))
    assert tuple(first.shape) == (None, 8 * 63)


def test_gradient_reaches_the_maximum_of_every_bin():
    x = np.random.default_rng(3).normal(size=(1, 7, 5, 2)).astype("float32")
    levels = (3, 2)
    layer = SpatialPyramidPooling(levels)
    layer.build(x.shape)
    upstream = np.random.default_rng(4).normal(size=(1, 2 * 13)).astype("float32")
    grad, _ = layer_gradients(layer, x, upstream)

    expected = np.zeros_like(x)
    offset = 0
    for n in levels:
        for c in range(2):
            for i, (r0, r1) in enumerate(reference_edges(7, n)):
                for j, (c0, c1) in enumerate(reference_edges(5, n)):
                    window = x[0, r0:r1, c0:c1, c]
                    r, k = np.unravel_index(np.argmax(window), window.shape)
                    expected[0, r0 + r, c0 + k, c] += upstream[0, offset + c * n * n + i * n + j]
        offset += 2 * n * n
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)


def test_variable_size_model_trains_and_predicts():
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = SpatialPyramidPooling((3, 2, 1))(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    model.compile("sgd", "mse")
    rng = np.random.default_rng(5)
    for height, width in ((16, 16), (9, 23), (2, 5)):
        images = rng.normal(size=(4, height, width, 3)).astype("float32")
        model.fit(images, rng.normal(size=(4, 2)), batch_size=2, epochs=1, verbose=0)
        predicted = model.predict(images, verbose=0)  # compiled
        eager = ops.convert_to_numpy(model(images))  # eager
        assert predicted.shape == (4, 2)
        np.testing.assert_allclose(predicted, eager, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("levels", [(), [], 3, (3, 0), (2, -1), (2.0, 1), (True, 1), ("3",)])
def test_invalid_levels_raise(levels):
    with pytest.raises(ValueError, match=r"^Argument `levels` must be .* Received: levels="):
        SpatialPyramidPooling(levels)


def test_invalid_pooling_and_data_format_raise():
    with pytest.raises(ValueError, match=r"^Argument `pooling` .* Received: pooling='avg'$"):
        SpatialPyramidPooling(pooling="avg")
    with pytest.raises(ValueError, match="data_format"):
        SpatialPyramidPooling(data_format="NCHW")


def test_config_and_saved_model_round_trip(tmp_path):
    layer = SpatialPyramidPooling((4, 2), pooling="average", name="spp")
    assert SpatialPyramidPooling.from_config(layer.get_config()).get_config() == layer.get_config()
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, SpatialPyramidPooling((4, 2), pooling="average")(inputs))
    model.save(tmp_path / "spp.keras")
    loaded = keras.saving.load_model(tmp_path / "spp.keras")
    x = np.random.default_rng(6).normal(size=(2, 13, 6, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.backend("jax")
def test_exports_with_symbolic_height_and_width_on_jax():
    # After a strided conv and a pool, JAX's export cannot prove that a bin
    # is non-empty for every symbolic size: the layer must not need to.
    import jax
    from jax import export

    inputs = keras.Input((None, None, 3))
    features = keras.layers.MaxPooling2D(3, 3)(keras.layers.Conv2D(4, 7, strides=2)(inputs))
    conv_part = keras.Model(inputs, features)
    model = keras.Model(inputs, SpatialPyramidPooling((6, 3, 2, 1))(features))
    weights = [variable.value for variable in model.trainable_variables]

    def forward(images):
        return model.stateless_call(weights, [], images)[0]

    spec = jax.ShapeDtypeStruct(export.symbolic_shape("b, h, w, 3"), "float32")
    exported = export.export(jax.jit(forward))(spec)
    for height, width in ((29, 31), (40, 53)):
        x = np.random.default_rng(height).normal(size=(2, height, width, 3)).astype("float32")
        expected = reference_spp(ops.convert_to_numpy(conv_part(x)), (6, 3, 2, 1))
        np.testing.assert_allclose(np.asarray(exported.call(x)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["max", "average"])
@pytest.mark.parametrize(
    "shape, data_format",
    [
        ((2, 0, 5, 3), "channels_last"),
        ((2, 5, 0, 3), "channels_last"),
        ((2, 3, 0, 5), "channels_first"),
    ],
)
def test_a_map_of_height_or_width_0_is_refused_in_one_line(shape, data_format, pooling):
    # Its bins would pool nothing: a max of -inf, an average of NaN.
    layer = SpatialPyramidPooling((2, 1), pooling=pooling, data_format=data_format)
    with pytest.raises(
        ValueError, match=r"height and width >= 1\. Received: inputs of shape"
    ) as caught:
        layer(np.ones(shape, "float32"))
    # Keras frames an error raised in `call` with the call's arguments; ours is one line.
    (line,) = [line for line in str(caught.value).splitlines() if "height and width" in line]
    assert len(line) < 500 and str(shape) in line
    with pytest.raises(ValueError, match=r"height and width >= 1"):
        SpatialPyramidPooling((2, 1), data_format=data_format)(keras.Input(shape[1:]))


class SpatialPyramidPoolingOnKerasHarness(testing.TestCase):
    """Keras' own layer checks: config, serialization, training, mixed precision.

    No masking: a mask over positions has no meaning once they are pooled into bins.
    """

    @parameterized.named_parameters(
        ("max", {"levels": (3, 2, 1)}, (2, 9, 7, 3), (2, 3 * 14)),
        ("average", {"levels": (2, 1), "pooling": "average"}, (2, 5, 6, 4), (2, 4 * 5)),
        (
            "channels_first",
            {"levels": (2,), "data_format": "channels_first"},
            (2, 4, 5, 5),
            (2, 16),
        ),
    )
    def test_layer(self, init_kwargs, input_shape, output_shape):
        self.run_layer_test(
            SpatialPyramidPooling,
            init_kwargs=init_kwargs,
            input_shape=input_shape,
            expected_output_shape=output_shape,
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )
