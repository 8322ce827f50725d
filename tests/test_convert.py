import math

import keras
import numpy as np
import pytest
from keras import layers

from keras_prelu import PReLU
from keras_prelu import to_prelu
from tests.helpers.arrays import to_numpy
from tests.helpers.processes import run_python

# keras.applications networks at small inputs, `weights=None`: (name, input side).
APPLICATIONS = [
    ("ResNet50", 32),
    ("VGG16", 32),
    ("DenseNet121", 32),
    ("ResNet50V2", 32),
    ("MobileNetV3Small", 32),
    ("InceptionV3", 75),
    ("Xception", 71),
    ("NASNetMobile", 32),
    ("MobileNet", 32),  # ReLU6 only: nothing to convert
]
QUICK_APPLICATIONS = {"ResNet50"}


def graph_layers(model):
    """Every layer and graph operation of `model` and of the models nested in it."""
    found = []
    operations = model.layers if isinstance(model, keras.Sequential) else model.operations
    for operation in operations:
        if isinstance(operation, keras.Model):
            found += graph_layers(operation)
        else:
            found.append(operation)
    return found


def is_relu(operation):
    """max(0, x), read from the configuration of a layer or operation."""
    config = operation.get_config()
    kind = type(operation).__name__
    if kind == "Relu":  # keras.ops.relu on a symbolic tensor
        return True
    if kind == "ReLU":  # the layer, or keras.activations.relu on a symbolic tensor
        return (
            config.get("max_value") is None
            and not config.get("threshold")
            and not config.get("negative_slope")
        )
    return config.get("activation") == "relu"


def count_relus(model):
    return sum(is_relu(operation) for operation in graph_layers(model))


def count_capped(model):
    """ReLU6 and other capped ReLU layers, which must stay."""
    return sum(
        isinstance(operation, layers.ReLU) and operation.max_value is not None
        for operation in graph_layers(model)
    )


def count_prelus(model):
    return sum(isinstance(operation, PReLU) for operation in graph_layers(model))


def every_kind_of_relu():
    """A functional model with each kind of ReLU once, nested models and other
    activations; returns it and its number of ReLUs."""
    inner_sequential = keras.Sequential(
        [
            keras.Input((8, 8, 6), name="inner_input"),
            layers.Conv2D(6, 3, padding="same", activation="relu", name="inner_conv"),
            layers.ReLU(name="inner_relu"),
            layers.ReLU(max_value=6.0, name="inner_relu6"),
        ],
        name="inner_sequential",
    )
    nested_input = keras.Input((8, 8, 6))
    nested_output = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(
        nested_input
    )
    inner_functional = keras.Model(nested_input, nested_output, name="inner_functional")

    inputs = keras.Input((8, 8, 3), name="pixels")
    x = layers.Conv2D(6, 3, padding="same", name="conv")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Activation("relu", name="act")(x)
    x = inner_sequential(x)
    x = inner_functional(x)
    x = layers.SeparableConv2D(8, 3, padding="same", activation="relu", name="separable")(x)
    x = layers.Conv2DTranspose(8, 3, strides=2, activation="relu", name="transposed")(x)
    x = layers.ReLU(threshold=0.5, name="thresholded")(x)
    x = layers.LeakyReLU(negative_slope=0.1, name="leaky")(x)
    x = layers.Conv1D(8, 3, activation="relu", name="conv1d")(layers.Reshape((-1, 8))(x))
    x = keras.ops.relu(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    x = layers.Dense(16, activation="gelu", name="fc_gelu")(x)
    x = layers.Dense(16, activation="relu", name="fc")(x)
    outputs = layers.Dense(4, name="logits")(keras.activations.relu(x))
    # act, inner_conv, inner_relu, dw, separable, transposed, conv1d, fc and two operations
    return keras.Model(inputs, outputs, name="kinds"), 10


def application(name, side):
    builder = getattr(keras.applications, name)
    return builder(
        weights=None, input_shape=(side, side, 3), classes=10, classifier_activation=None
    )


def test_every_kind_of_relu_becomes_a_prelu_and_nothing_else_changes(rng):
    model, num_relus = every_kind_of_relu()
    assert count_relus(model) == num_relus
    converted = to_prelu(model, slope=0.0, reinitialize=False)

    assert count_prelus(converted) == num_relus and count_relus(converted) == 0
    kept = {
        type(operation).__name__: operation
        for operation in graph_layers(converted)
        if not isinstance(operation, PReLU)
    }
    assert kept["LeakyReLU"].negative_slope == pytest.approx(0.1)
    assert converted.get_layer("fc_gelu").get_config()["activation"] == "gelu"
    capped = converted.get_layer("inner_sequential").get_layer("inner_relu6")
    assert isinstance(capped, layers.ReLU) and capped.max_value == 6.0
    assert isinstance(converted.get_layer("thresholded"), layers.ReLU)
    # Names stay; a split activation is named after its layer.
    assert isinstance(converted.get_layer("act"), PReLU)
    assert isinstance(converted.get_layer("fc_prelu"), PReLU)
    assert converted.get_layer("fc").get_config()["activation"] == "linear"
    assert converted.get_layer("inner_functional").get_layer("dw_prelu").name == "dw_prelu"
    assert [tensor.name for tensor in converted.inputs] == ["pixels"]
    assert converted.name == model.name

    images = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(converted(images)), to_numpy(model(images)), rtol=1e-5, atol=1e-6
    )


def test_slopes_start_at_slope_one_per_channel_or_one_per_layer():
    model, num_relus = every_kind_of_relu()
    for mode, channel_wise in (("channel_wise", True), ("channel_shared", False)):
        prelus = [
            operation
            for operation in graph_layers(to_prelu(model, mode=mode, slope=0.1))
            if isinstance(operation, PReLU)
        ]
        assert len(prelus) == num_relus
        for prelu in prelus:
            assert prelu.mode == mode
            alpha = to_numpy(prelu.alpha)
            assert alpha.size == 1 or channel_wise
            np.testing.assert_array_equal(alpha, np.full_like(alpha, 0.1))


def test_a_sequential_model_stays_sequential_with_its_weights(rng):
    model = keras.Sequential(
        [
            keras.Input((10,), name="features"),
            layers.Dense(12, activation="relu", name="hidden"),
            layers.Dropout(0.5, name="dropout"),
            layers.Dense(3, name="out"),
        ],
        name="mlp",
    )
    model.compile(optimizer="sgd", loss="mse")
    converted = to_prelu(model, slope=0.0, reinitialize=False)
    assert isinstance(converted, keras.Sequential) and converted.compiled
    assert [layer.name for layer in converted.layers] == [
        "hidden",
        "hidden_prelu",
        "dropout",
        "out",
    ]
    for name in ("hidden", "out"):
        for old, new in zip(model.get_layer(name).weights, converted.get_layer(name).weights):
            np.testing.assert_array_equal(to_numpy(old), to_numpy(new))
    features = rng.normal(size=(5, 10)).astype("float32")
    np.testing.assert_allclose(to_numpy(converted(features)), to_numpy(model(features)), rtol=1e-6)


def test_standalone_relus_of_channels_first_models_take_the_channel_axis():
    model = keras.Sequential(
        [
            keras.Input((3, 6, 5)),
            layers.Conv2D(4, 3, data_format="channels_first"),
            layers.ReLU(),
        ]
    )
    prelu = to_prelu(model).layers[-1]
    assert prelu.data_format == "channels_first" and tuple(prelu.alpha.shape) == (4,)


def test_mixed_precision_is_kept():
    inputs = keras.Input((6, 6, 3))
    outputs = layers.Conv2D(4, 3, activation="relu", dtype="mixed_float16")(inputs)
    prelu = to_prelu(keras.Model(inputs, outputs)).layers[-1]
    assert prelu.compute_dtype == "float16" and prelu.alpha.dtype == "float32"


def heavy_kernels_model():
    """Big kernels of every kind, each feeding a ReLU (through batch norm and a
    residual add for some), and two kernels that feed no ReLU."""
    inputs = keras.Input((16, 16, 64))
    x = layers.Conv2D(96, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = layers.BatchNormalization()(x)
    shortcut = layers.Conv2D(96, 1, name="shortcut")(inputs)
    x = layers.Activation("relu")(layers.Add()([x, shortcut]))
    x = layers.DepthwiseConv2D(5, depth_multiplier=4, padding="same", name="depthwise")(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.SeparableConv2D(
        128, 3, depth_multiplier=2, padding="same", activation="relu", name="separable"
    )(x)
    x = layers.Conv2DTranspose(48, 3, strides=2, activation="relu", name="transposed")(x)
    x = layers.Conv2D(64, 3, name="capped")(x)
    x = layers.ReLU(max_value=6.0)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(512, activation="relu", name="fc")(x)
    outputs = layers.Dense(10, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs)


def connections(kernel_size, channels, strides=(1, 1)):
    """Inputs connected to one response: k^2 c, over the stride for transposed kernels."""
    return channels * math.prod(max(k / s, 1) for k, s in zip(kernel_size, strides))


@pytest.mark.parametrize("slope", [0.25, 0.0])
def test_reinitialized_kernels_have_the_papers_std(slope):
    model = heavy_kernels_model()
    converted = to_prelu(model, slope=slope, seed=3)
    # The forward case, Eqn. 12: std = sqrt(2 / ((1 + a^2) n)); a = 1 (linear) for the
    # depthwise half of a separable convolution.
    expected = {
        ("conv", "kernel"): (connections((3, 3), 64), slope),
        ("shortcut", "kernel"): (connections((1, 1), 64), slope),
        ("depthwise", "kernel"): (connections((5, 5), 1), slope),
        ("separable", "depthwise_kernel"): (connections((3, 3), 1), 1.0),
        ("separable", "pointwise_kernel"): (connections((1, 1), 96 * 4 * 2), slope),
        ("transposed", "kernel"): (connections((3, 3), 128, strides=(2, 2)), slope),
        ("fc", "kernel"): (64, slope),
    }
    for (layer, name), (n, a) in expected.items():
        (variable,) = [v for v in converted.get_layer(layer).weights if v.name == name]
        values = to_numpy(variable).ravel().astype(np.float64)
        std = math.sqrt(2.0 / ((1.0 + a**2) * n))
        # The sample std of N Gaussian draws has a relative spread of 1 / sqrt(2 N).
        assert abs(values.std() / std - 1) < 5 / math.sqrt(2 * values.size), (layer, name)
        assert abs(values.mean()) < 5 * std / math.sqrt(values.size), (layer, name)
        # A plain Gaussian, not one truncated at 2 std: 4.55% of the draws lie beyond.
        assert 0.035 < np.mean(np.abs(values) > 2 * std) < 0.056, (layer, name)
    for layer in ("capped", "classifier"):
        for old, new in zip(model.get_layer(layer).weights, converted.get_layer(layer).weights):
            np.testing.assert_array_equal(to_numpy(old), to_numpy(new))


def test_reinitialization_is_reproducible_with_a_seed():
    model = heavy_kernels_model()
    first, second, other = (to_prelu(model, seed=seed) for seed in (1, 1, 2))
    kernels = [to_numpy(m.get_layer("conv").weights[0]) for m in (first, second, other)]
    np.testing.assert_array_equal(kernels[0], kernels[1])
    assert not np.array_equal(kernels[0], kernels[2])


def test_a_converted_model_trains_with_fit(rng):
    keras.utils.set_random_seed(0)
    model, _ = every_kind_of_relu()
    converted = to_prelu(model, seed=0)
    converted.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    images = rng.normal(size=(32, 8, 8, 3)).astype("float32")
    labels = (images[:, :4, :, 0].mean(axis=(1, 2)) > 0).astype("int32")
    initial_slope = to_numpy(converted.get_layer("act").alpha).copy()
    history = converted.fit(images, labels, batch_size=8, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert not np.array_equal(to_numpy(converted.get_layer("act").alpha), initial_slope)


def test_the_converted_model_loads_in_a_fresh_process(tmp_path, rng):
    model, _ = every_kind_of_relu()
    converted = to_prelu(model, seed=0)
    images = rng.normal(size=(3, 8, 8, 3)).astype("float32")
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "outputs.npy", to_numpy(converted(images)))
    converted.save(tmp_path / "converted.keras")
    run_python(
        """
        import sys
        import keras
        import numpy as np
        import keras_prelu

        folder = sys.argv[1]
        model = keras.saving.load_model(folder + "/converted.keras")
        outputs = keras.ops.convert_to_numpy(model(np.load(folder + "/images.npy")))
        np.testing.assert_allclose(outputs, np.load(folder + "/outputs.npy"), rtol=1e-5, atol=1e-6)
        assert isinstance(model.get_layer("act"), keras_prelu.PReLU)
        """,
        tmp_path,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    "name, side",
    [
        pytest.param(name, side, marks=() if name in QUICK_APPLICATIONS else pytest.mark.slow)
        for name, side in APPLICATIONS
    ],
)
def test_keras_applications_convert_every_relu_and_compute_the_same(name, side, rng):
    model = application(name, side)
    num_relus = count_relus(model)
    converted = to_prelu(model, slope=0.0, reinitialize=False)
    assert count_prelus(converted) == num_relus and count_relus(converted) == 0
    assert count_capped(converted) == count_capped(model)
    assert len(converted.weights) == len(model.weights) + num_relus
    images = rng.uniform(-1, 1, size=(2, side, side, 3)).astype("float32")
    expected = to_numpy(model(images, training=False))
    outputs = to_numpy(converted(images, training=False))
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.slow
def test_a_converted_application_trains_saves_and_loads_in_fresh_processes(tmp_path):
    # The user's journey: only keras, keras_prelu and their public API, elsewhere.
    run_python(
        """
        import sys
        import keras
        import numpy as np
        import keras_prelu

        folder = sys.argv[1]
        relu_net = keras.applications.ResNet50(
            weights=None, input_shape=(32, 32, 3), classes=10
        )
        prelu_net = keras_prelu.to_prelu(relu_net, seed=0)
        prelu_net.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        images = rng.uniform(0, 1, (8, 32, 32, 3)).astype("float32")
        history = prelu_net.fit(images, rng.integers(0, 10, 8), batch_size=4, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        prelu_net.save(folder + "/resnet50_prelu.keras")
        np.save(folder + "/images.npy", images)
        np.save(folder + "/outputs.npy", prelu_net.predict(images, verbose=0))
        """,
        tmp_path,
        cwd=tmp_path,
        timeout=600,
    )
    run_python(
        """
        import sys
        import keras
        import numpy as np
        import keras_prelu

        folder = sys.argv[1]
        model = keras.saving.load_model(folder + "/resnet50_prelu.keras")
        outputs = model.predict(np.load(folder + "/images.npy"), verbose=0)
        np.testing.assert_allclose(outputs, np.load(folder + "/outputs.npy"), rtol=1e-5, atol=1e-6)
        assert sum(isinstance(layer, keras_prelu.PReLU) for layer in model.layers) == 49
        """,
        tmp_path,
        cwd=tmp_path,
        timeout=300,
    )


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(3, activation="relu")

    def call(self, inputs):
        return self.dense(inputs)


class Scale(layers.Layer):
    def call(self, inputs):
        return 2.0 * inputs


def test_a_subclassed_model_is_refused_with_what_is_supported():
    with pytest.raises(ValueError, match="functional model .* or a `keras.Sequential`"):
        to_prelu(Subclassed())
    inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="type Subclassed"):
        to_prelu(keras.Model(inputs, Subclassed()(inputs)))
    with pytest.raises(ValueError, match="type Subclassed"):
        to_prelu(keras.Sequential([keras.Input((4,)), Subclassed()]))


def test_a_custom_layer_is_kept_as_it_is(rng):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, Scale()(layers.Dense(4, activation="relu")(inputs)))
    converted = to_prelu(model, slope=0.0, reinitialize=False)
    assert [type(layer).__name__ for layer in converted.layers[1:]] == ["Dense", "PReLU", "Scale"]
    features = rng.normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(to_numpy(converted(features)), to_numpy(model(features)), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"mode": "channelwise"}, "mode"),
        ({"slope": "0.25"}, "slope"),
        ({"slope": float("nan")}, "slope"),
        ({"slope": True}, "slope"),
        ({"reinitialize": 1}, "reinitialize"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_arguments_are_refused_where_they_enter(kwargs, argument):
    model, _ = every_kind_of_relu()
    with pytest.raises(ValueError, match=f"Argument `{argument}` must"):
        to_prelu(model, **kwargs)


def test_an_unbuilt_sequential_model_is_refused():
    with pytest.raises(ValueError, match="must be built"):
        to_prelu(keras.Sequential([layers.Dense(3, activation="relu")]))
