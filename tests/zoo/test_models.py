import functools
import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from keras_prelu import PReLU
from keras_prelu import SpatialPyramidPooling
from keras_prelu import paper
from keras_prelu.analysis import model_complexity
from keras_prelu.zoo import ANY_SIZE
from keras_prelu.zoo import VGG19
from keras_prelu.zoo import Model14
from keras_prelu.zoo import ModelA
from keras_prelu.zoo import ModelC
from keras_prelu.zoo import PReLUNet
from keras_prelu.zoo import PReLUNetBackbone
from keras_prelu.zoo import PReLUNetImageClassifier
from keras_prelu.zoo import get_model
from keras_prelu.zoo import list_models
from keras_prelu.zoo import with_input_shape
from tests.helpers.readme import readme_zoo_table

README = Path(__file__).resolve().parents[2] / "README.md"
ZOO_CARDS = README.parent / "zoo"

# Weight layers (conv + fc) of each model: Table 1, Table 3, Sec. 2.2.
PAPER_DEPTH = {
    "model_14": 14,
    "model_30": 30,
    "vgg19": 19,
    "model_a": 19,
    "model_b": 22,
    "model_c": 22,
}

# Small heads keep the fast tests fast; the paper's 4096 is tested below.
SMALL = dict(fc_units=(32, 32), num_classes=10)


@functools.cache
def paper_model(name):
    return get_model(name)


def recount(model):
    """Parameters and multiply-adds recomputed from every layer's shapes."""
    params = madds = 0
    for layer in model.layers:
        for weight in layer.weights:
            params += math.prod(weight.shape)
        if isinstance(layer, keras.layers.Conv2D):
            madds += math.prod(layer.output.shape[1:3]) * math.prod(layer.kernel.shape)
        elif isinstance(layer, keras.layers.Dense):
            madds += math.prod(layer.kernel.shape)
    return params, madds


def test_registry():
    assert list_models() == sorted(PAPER_DEPTH)
    with pytest.raises(ValueError, match=r"^Argument `name` must be one of .*Received: name='m"):
        get_model("model_d")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PAPER_DEPTH))
def test_paper_models_match_the_tables_and_the_readme(name):
    model = paper_model(name)
    weight_layers = [
        l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))
    ]
    prelus = [l for l in model.layers if isinstance(l, PReLU)]
    assert len(weight_layers) == PAPER_DEPTH[name]
    # Every conv and fc1, fc2 is followed by a (channel-wise) PReLU.
    assert len(prelus) == PAPER_DEPTH[name] - 1
    assert [l.get_config()["units"] for l in weight_layers[-3:]] == [4096, 4096, 1000]

    params, madds = recount(model)
    assert (params, madds) == model_complexity(model)
    assert params == model.count_params()
    if name in paper.TABLE_3_COMPLEXITY:
        assert madds / 1e10 == pytest.approx(paper.TABLE_3_COMPLEXITY[name], rel=0.01)

    row = readme_zoo_table(PAPER_DEPTH)[name]
    assert int(row[3].replace(",", "")) == params
    assert int(row[4].replace(",", "")) == madds
    card = (ZOO_CARDS / f"{name}.md").read_text()
    stated = re.search(r"Parameters: ([\d,]+); multiply-adds: ([\d,]+)", card)
    assert [int(n.replace(",", "")) for n in stated.groups()] == [params, madds]


@pytest.mark.slow
def test_14_layer_model_feature_maps():
    # arXiv:1412.1710: stage 2 maps are 36x36 and stage 3 maps 18x18 at 224.
    model = paper_model("model_14")
    assert tuple(model.get_layer("act2_4").output.shape[1:]) == (36, 36, 128)
    assert tuple(model.get_layer("act3_6").output.shape[1:]) == (18, 18, 256)
    assert tuple(model.get_layer("spp").output.shape[1:]) == (256 * 50,)


@pytest.mark.slow
def test_table_3_feature_maps_and_spp():
    model = paper_model("model_c")
    assert tuple(model.get_layer("act2_6").output.shape[1:]) == (56, 56, 384)
    assert tuple(model.get_layer("act3_6").output.shape[1:]) == (28, 28, 768)
    assert tuple(model.get_layer("act4_6").output.shape[1:]) == (14, 14, 896)
    assert model.get_layer("spp").levels == (7, 3, 2, 1)
    assert tuple(model.get_layer("spp").output.shape[1:]) == (896 * 63,)


@pytest.mark.slow
def test_paper_initialization():
    model = paper_model("model_a")
    for name, expected in (("fc1", 0.01), ("fc2", 0.01), ("fc3", 0.001)):
        kernel = ops.convert_to_numpy(model.get_layer(name).kernel)
        assert kernel.std() == pytest.approx(expected, rel=0.02)
    # conv2_2: 3x3x256x256, PReLU slope 0.25, fan-out (Eqn. 16).
    kernel = ops.convert_to_numpy(model.get_layer("conv2_2").kernel)
    assert kernel.std() == pytest.approx(math.sqrt(2 / (1.0625 * 9 * 256)), rel=0.02)
    bias = ops.convert_to_numpy(model.get_layer("conv2_2").bias)
    assert not bias.any()


@pytest.mark.parametrize(
    "initializer, activation, expected_std",
    [
        ("he", "prelu", math.sqrt(2 / (1.0625 * 4 * 256))),  # fan-out, a = 0.25
        ("he_fan_in", "relu", math.sqrt(2 / (4 * 128))),  # conv3_1: 2x2x128 in
        ("xavier", "relu", math.sqrt(1 / (4 * 128))),
        ("he", "leaky_relu", math.sqrt(2 / (1.0625 * 4 * 256))),
    ],
)
def test_initializer_choices(initializer, activation, expected_std):
    model = Model14(
        initializer=initializer,
        activation=activation,
        include_top=False,
        input_shape=(None, None, 3),
        seed=0,
    )
    kernel = ops.convert_to_numpy(model.get_layer("conv3_1").kernel)
    assert kernel.std() == pytest.approx(expected_std, rel=0.03)


def test_fc_initializer_choices():
    model = Model14(input_shape=(None, None, 3), num_classes=10, fc_units=(512, 512), seed=0)
    fc3 = ops.convert_to_numpy(model.get_layer("fc3").kernel)
    assert fc3.std() == pytest.approx(0.001, rel=0.05)  # the paper's Gaussian
    model = Model14(
        input_shape=(None, None, 3),
        num_classes=10,
        fc_units=(512, 512),
        fc_initializer="he_fan_in",
        seed=0,
    )
    fc2 = ops.convert_to_numpy(model.get_layer("fc2").kernel)
    assert fc2.std() == pytest.approx(math.sqrt(2 / (1.0625 * 512)), rel=0.03)


@pytest.mark.parametrize(
    "activation, layer_type, slopes",
    [
        ("prelu", PReLU, 256),
        ("prelu_shared", PReLU, 1),
        ("relu", keras.layers.ReLU, 0),
        ("leaky_relu", keras.layers.LeakyReLU, 0),
    ],
)
def test_activation_choices(activation, layer_type, slopes):
    model = Model14(activation=activation, **SMALL)
    act = model.get_layer("act3_6")
    assert isinstance(act, layer_type)
    assert act.count_params() == slopes
    if activation == "leaky_relu":
        assert act.negative_slope == 0.25
    activations = [l for l in model.layers if l.name.startswith("act")]
    assert len(activations) == 13  # 11 conv + fc1 + fc2 (Table 1)
    assert [l.name for l in model.layers if isinstance(l, keras.layers.Dropout)] == [
        "drop_fc1",
        "drop_fc2",
    ]
    assert all(model.get_layer(n).rate == 0.5 for n in ("drop_fc1", "drop_fc2"))


def test_any_image_size_with_the_top():
    model = ModelA(input_shape=(None, None, 3), **SMALL)
    rng = np.random.default_rng(0)
    for size in ((64, 64), (57, 43), (16, 16)):
        out = model.predict(rng.normal(size=(2, *size, 3)), verbose=0)
        assert out.shape == (2, 10)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_pre_spp_feature_map_and_pooled_features():
    full = Model14(input_shape=(None, None, 3), **SMALL)
    features = keras.Model(full.inputs, full.get_layer("act3_6").output)
    headless = Model14(include_top=False, input_shape=(None, None, 3))
    pooled = Model14(include_top=False, pooling="spp", input_shape=(None, None, 3))
    for model in (headless, pooled):
        model.set_weights(features.get_weights())
    x = np.random.default_rng(1).normal(size=(2, 45, 61, 3)).astype("float32")
    feature_map = features.predict(x, verbose=0)
    np.testing.assert_allclose(headless.predict(x, verbose=0), feature_map, rtol=1e-5)
    np.testing.assert_allclose(
        pooled.predict(x, verbose=0),
        ops.convert_to_numpy(SpatialPyramidPooling((6, 3, 2, 1))(feature_map)),
        rtol=1e-5,
    )
    avg = Model14(include_top=False, pooling="avg", input_shape=(None, None, 3))
    assert tuple(avg.output.shape) == (None, 256)


@pytest.mark.parametrize("builder", [Model14, ModelA])
def test_keras_save_round_trip_keeps_class_and_outputs(builder, tmp_path):
    model = builder(input_shape=(None, None, 3), activation="prelu_shared", **SMALL)
    assert type(model) is PReLUNetImageClassifier
    assert type(model.backbone) is PReLUNetBackbone
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(loaded) is PReLUNetImageClassifier
    assert loaded.backbone.architecture == builder.architecture
    assert loaded.get_config() == model.get_config()
    x = np.random.default_rng(2).normal(size=(2, 40, 52, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_weights_argument_loads_a_file(tmp_path):
    model = Model14(**SMALL, input_shape=(64, 64, 3), seed=1)
    path = tmp_path / "model14.weights.h5"
    model.save_weights(path)
    again = Model14(**SMALL, input_shape=(64, 64, 3), weights=str(path), seed=2)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_width_multiplier_scales_every_convolution():
    base = Model14(include_top=False)
    narrow = Model14(include_top=False, width_multiplier=0.25)
    for layer in base.layers:
        if isinstance(layer, keras.layers.Conv2D):
            assert narrow.get_layer(layer.name).filters == layer.filters // 4
    assert narrow.get_layer("act3_6").count_params() == 64  # channel-wise slopes


def test_seed_makes_models_reproducible():
    first = Model14(include_top=False, seed=3).get_weights()
    second = Model14(include_top=False, seed=3).get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"activation": "elu"}, "activation"),
        ({"initializer": "glorot"}, "initializer"),
        ({"fc_initializer": "zeros"}, "fc_initializer"),
        ({"pooling": "mean", "include_top": False}, "pooling"),
        ({"num_classes": 0}, "num_classes"),
        ({"input_shape": (224, 224)}, "input_shape"),
        ({"fc_units": (4096,)}, "fc_units"),
        ({"dropout": 1.0}, "dropout"),
        ({"width_multiplier": 0}, "width_multiplier"),
        ({"weights": "/no/such/file.weights.h5"}, "weights"),
        ({"weights": "imagenet"}, "No pretrained ImageNet weights"),
        ({"pooling": "avg"}, "pooling"),
        ({"num_classes": 10, "classes": 12}, "classes"),
        ({"input_shape": (16, 16, 3)}, "at least 17x17"),
        ({"architecture": "model_b"}, "architecture"),
    ],
)
def test_errors_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        Model14(**kwargs)


def test_vgg19_needs_a_fixed_size_with_its_top():
    with pytest.raises(ValueError, match="input_shape"):
        VGG19(input_shape=(None, None, 3))
    assert VGG19(include_top=False, input_shape=(None, None, 3)).output.shape[-1] == 512


def test_generic_builder_takes_any_architecture_name():
    model = PReLUNet("model_b", include_top=False)
    assert model.name == "model_b"
    assert type(model) is PReLUNetBackbone and model.architecture == "model_b"
    with pytest.raises(ValueError, match="architecture"):
        PReLUNet("resnet50")


def test_model_c_builds_with_the_top_on_any_size():
    model = ModelC(input_shape=(None, None, 3), **SMALL)
    assert model.predict(np.zeros((1, 33, 47, 3)), verbose=0).shape == (1, 10)


@pytest.mark.parametrize("include_top", [True, False], ids=["classifier", "backbone"])
def test_with_input_shape_keeps_the_weights_at_every_size(include_top, rng):
    model = Model14(input_shape=(32, 32, 3), include_top=include_top, seed=0, **SMALL)
    resized = with_input_shape(model, ANY_SIZE)
    assert type(resized) is type(model) and tuple(resized.input.shape[1:]) == ANY_SIZE
    assert with_input_shape(resized, ANY_SIZE) is resized
    images = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        resized.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5
    )
    # At another size: what a model built for that size computes with the same weights.
    built = Model14(input_shape=(40, 44, 3), include_top=include_top, **SMALL)
    built.set_weights(model.get_weights())
    images = rng.uniform(-1, 1, (2, 40, 44, 3)).astype("float32")
    expected = built.predict(images, verbose=0)
    np.testing.assert_allclose(resized.predict(images, verbose=0), expected, rtol=1e-5)
    at_40x44 = with_input_shape(model, (40, 44, 3))
    np.testing.assert_allclose(at_40x44.predict(images, verbose=0), expected, rtol=1e-5)


def test_with_input_shape_refuses_a_model_of_another_family_in_one_line():
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    with pytest.raises(ValueError, match="must be a zoo model.*Received: Sequential") as info:
        with_input_shape(model, ANY_SIZE)
    assert "\n" not in str(info.value)
    any_size = keras.Sequential([keras.Input(ANY_SIZE), keras.layers.GlobalMaxPooling2D()])
    assert with_input_shape(any_size, ANY_SIZE) is any_size  # nothing to change


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"num_clases": 10}, "'num_clases' (did you mean 'num_classes'?)"),
        ({"input_size": 32}, "'input_size'"),
        ({"weigths": None, "sead": 1}, "'sead'"),
    ],
)
def test_unknown_arguments_raise_type_error_naming_them(kwargs, named):
    with pytest.raises(TypeError, match=re.escape(named)):
        Model14(**kwargs)


def test_classes_is_keras_applications_spelling_of_num_classes():
    model = Model14(classes=7, fc_units=(8, 8), input_shape=(32, 32, 3))
    assert model.output.shape[-1] == 7
    assert model.get_config()["num_classes"] == 7


def test_input_tensor_is_the_models_input():
    images = keras.Input(shape=(48, 40, 3), name="pixels")
    model = Model14(input_tensor=images, **SMALL)
    assert model.inputs[0] is images
    assert model.backbone.get_config()["input_shape"] == (48, 40, 3)
    with pytest.raises(ValueError, match="disagree"):
        Model14(input_tensor=images, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="call it on their output"):
        Model14(input_tensor=keras.layers.Rescaling(1.0)(images))


@pytest.mark.parametrize("name", sorted(PAPER_DEPTH))
def test_smallest_input_is_the_smallest_that_leaves_a_feature_map(name):
    """At the stated minimum every layer has an output; one pixel less, Keras' own shape
    inference of the headless body (built for any size) finds none."""
    from keras_prelu.zoo import ARCHITECTURES

    smallest = ARCHITECTURES[name].min_input_size
    body = get_model(name, include_top=False, input_shape=(None, None, 3), width_multiplier=1 / 16)
    assert min(body.compute_output_shape((1, smallest, smallest, 3))[1:3]) >= 1
    with pytest.raises(ValueError, match="zero or negative"):
        body.compute_output_shape((1, smallest - 1, smallest - 1, 3))
    get_model(name, include_top=False, input_shape=(smallest, smallest, 3), width_multiplier=1 / 16)
    with pytest.raises(ValueError, match=f"at least {smallest}x{smallest}"):
        get_model(name, include_top=False, input_shape=(smallest, smallest - 1, 3))


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_dtype_policy_survives_save_and_load(policy, tmp_path):
    model = Model14(input_shape=(32, 32, 3), dtype=policy, **SMALL)
    assert model.get_layer("conv1").dtype_policy.name == policy
    assert model.get_layer("predictions").dtype_policy.name == "float32"
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.get_layer("conv3_6").dtype_policy.name == policy
    assert loaded.get_layer("act3_6").alpha.dtype == "float32"  # slopes stay float32
    x = np.random.default_rng(3).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_global_policy_is_recorded_at_build_time(tmp_path):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = Model14(input_shape=(32, 32, 3), **SMALL)
    finally:
        keras.config.set_dtype_policy(previous)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")  # under float32
    assert loaded.get_layer("conv1").dtype_policy.name == "mixed_bfloat16"


def test_weights_from_a_keras_file_load_by_layer_name(tmp_path):
    full = Model14(input_shape=(32, 32, 3), seed=1, **SMALL)
    full.save(tmp_path / "full.keras")
    same = Model14(input_shape=(None, None, 3), weights=tmp_path / "full.keras", seed=2, **SMALL)
    for a, b in zip(full.get_weights(), same.get_weights()):
        np.testing.assert_array_equal(a, b)
    headless = Model14(include_top=False, weights=str(tmp_path / "full.keras"))
    np.testing.assert_array_equal(
        headless.get_layer("conv3_6").get_weights()[0], full.get_layer("conv3_6").get_weights()[0]
    )
    with pytest.raises(ValueError, match="fc3"):
        Model14(
            input_shape=(32, 32, 3),
            fc_units=(32, 32),
            num_classes=3,
            weights=tmp_path / "full.keras",
        )


def test_a_weights_file_loads_into_a_headless_model_and_a_misfit_names_the_file(tmp_path):
    full = Model14(input_shape=(32, 32, 3), seed=1, **SMALL)
    full.save_weights(tmp_path / "full.weights.h5")
    headless = Model14(include_top=False, weights=tmp_path / "full.weights.h5", seed=2)
    np.testing.assert_array_equal(
        headless.get_layer("conv3_6").get_weights()[0], full.get_layer("conv3_6").get_weights()[0]
    )
    with pytest.raises(ValueError, match="full.weights.h5 does not fit"):
        Model14(
            input_shape=(32, 32, 3),
            fc_units=(32, 32),
            num_classes=3,
            weights=tmp_path / "full.weights.h5",
        )


def test_channels_first_is_refused_with_the_way_out():
    keras.config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="set_image_data_format"):
            Model14()
    finally:
        keras.config.set_image_data_format("channels_last")
