import keras
import numpy as np
import pytest

from keras_prelu import SpatialPyramidPooling
from keras_prelu.evaluation import DenseScorer
from keras_prelu.evaluation.dense import feature_map_size
from keras_prelu.evaluation.dense import split_at_spp
from keras_prelu.zoo import Model14
from keras_prelu.zoo import ModelA

SMALL = dict(input_shape=(None, None, 3), fc_units=(32, 32), num_classes=7, seed=0)
HEAD_LAYERS = ("fc1", "act_fc1", "fc2", "act_fc2", "fc3", "predictions")


def reference_window_scores(model, feature_map, window):
    """The slow way: cut every window out of the map, run SPP and the fc layers on it."""
    height, width = feature_map.shape[1:3]
    win_h, win_w = min(window[0], height), min(window[1], width)
    scores = []
    for top in range(height - win_h + 1):
        for left in range(width - win_w + 1):
            x = model.get_layer("spp")(feature_map[:, top : top + win_h, left : left + win_w])
            for name in HEAD_LAYERS:
                x = model.get_layer(name)(x)
            scores.append(keras.ops.convert_to_numpy(x)[0])
    return np.stack(scores)


def last_conv_map(model, images):
    probe = keras.Model(model.input, model.get_layer("spp").input)
    return keras.ops.convert_to_numpy(probe(images))


def test_window_is_the_map_of_the_training_crop():
    # 14x14 for models A, B and C at 224 (the paper's windows), 18x18 for the 14-layer model.
    assert DenseScorer(ModelA(**SMALL), crop_size=224).window == (14, 14)
    assert DenseScorer(Model14(**SMALL), crop_size=224).window == (18, 18)
    features, _, _ = split_at_spp(Model14(**SMALL))
    assert feature_map_size(features, 32) == (2, 2)


@pytest.mark.parametrize("max_windows", [512, 5])
def test_dense_window_scores_equal_the_per_window_reference(rng, max_windows):
    model = ModelA(**SMALL)
    scorer = DenseScorer(model, crop_size=64, max_windows=max_windows)  # window 4x4
    image = rng.normal(size=(1, 128, 112, 3)).astype("float32") * 50
    feature_map = last_conv_map(model, image)
    assert feature_map.shape[1:3] == (8, 7)
    dense = scorer.window_scores(feature_map)
    reference = reference_window_scores(model, feature_map, (4, 4))
    assert dense.shape == (5 * 4, 7)
    np.testing.assert_allclose(dense, reference, rtol=1e-5, atol=1e-6)


def test_map_narrower_than_the_window_is_one_window_along_that_axis(rng):
    model = Model14(**SMALL)
    scorer = DenseScorer(model, window=(3, 3))
    image = rng.normal(size=(1, 80, 40, 3)).astype("float32") * 50
    feature_map = last_conv_map(model, image)
    assert feature_map.shape[1:3] == (6, 2)
    np.testing.assert_allclose(
        scorer.window_scores(feature_map),
        reference_window_scores(model, feature_map, (3, 2)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_image_scores_average_all_windows_of_image_and_flip(rng):
    model = Model14(**SMALL)
    scorer = DenseScorer(model, crop_size=40)  # window 2x2
    images = rng.normal(size=(2, 72, 60, 3)).astype("float32") * 50
    expected = []
    for image in images:
        views = np.stack([image, image[:, ::-1]])
        maps = last_conv_map(model, views)
        windows = [reference_window_scores(model, maps[i : i + 1], (2, 2)) for i in range(2)]
        expected.append(np.concatenate(windows).mean(axis=0))
    np.testing.assert_allclose(scorer(images), np.stack(expected), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["max", "average"])
def test_any_functional_model_with_spp(rng, pooling):
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = SpatialPyramidPooling((3, 2, 1), pooling=pooling, name="spp")(x)
    x = keras.layers.Dense(5, activation="softmax")(x)
    model = keras.Model(inputs, x)
    scorer = DenseScorer(model, window=(5, 4), max_windows=3)
    feature_map = rng.normal(size=(1, 9, 11, 4)).astype("float32")
    spp, dense = model.get_layer("spp"), model.layers[-1]
    reference = [
        keras.ops.convert_to_numpy(dense(spp(feature_map[:, t : t + 5, l : l + 4])))[0]
        for t in range(5)
        for l in range(8)
    ]
    np.testing.assert_allclose(
        scorer.window_scores(feature_map), np.stack(reference), rtol=1e-5, atol=1e-6
    )


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="SpatialPyramidPooling"):
        DenseScorer(Model14(include_top=False, input_shape=(None, None, 3)), crop_size=32)
    with pytest.raises(ValueError, match="crop_size"):
        DenseScorer(Model14(**SMALL))
    with pytest.raises(ValueError, match="window"):
        DenseScorer(Model14(**SMALL), window=(0, 3))
    with pytest.raises(ValueError, match="max_windows"):
        DenseScorer(Model14(**SMALL), window=3, max_windows=0)
