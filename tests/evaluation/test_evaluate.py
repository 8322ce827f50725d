import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_prelu import data
from keras_prelu.data import transforms
from keras_prelu.evaluation import DenseScorer
from keras_prelu.evaluation import dense_scales
from keras_prelu.evaluation import evaluate
from keras_prelu.evaluation import outputs_probabilities
from keras_prelu.evaluation import results_table
from keras_prelu.evaluation import top_k_error
from keras_prelu.evaluation import with_probabilities
from keras_prelu.evaluation import write_results
from keras_prelu.training import SparseTopKError
from keras_prelu.zoo import ANY_SIZE
from keras_prelu.zoo import Model14
from keras_prelu.zoo import with_input_shape
from tests.helpers.run_folders import write_run_folder

SOURCE = data.get_source(data.DEFAULT_SOURCE)
VALIDATION = list(SOURCE.dataset("validation").as_numpy_iterator())
MEAN = SOURCE.default_augmentation().mean


def small_model(seed=0):
    return Model14(input_shape=(32, 32, 3), fc_units=(32, 32), num_classes=10, seed=seed)


def brute_force_top_k_error(scores, labels, k):
    errors = 0
    for row, label in zip(scores, labels):
        # Tied scores: the label counts as in the top k if any tie order puts it there.
        better = [c for c in range(len(row)) if row[c] > row[label]]
        errors += len(better) >= k
    return errors / len(labels)


def test_top_k_error_against_brute_force(rng):
    scores = rng.integers(0, 4, size=(200, 8)).astype("float32")  # many ties
    labels = rng.integers(0, 8, size=200)
    for k in (1, 2, 5):
        assert top_k_error(scores, labels, k) == brute_force_top_k_error(scores, labels, k)
    with pytest.raises(ValueError, match="labels"):
        top_k_error(scores, labels[:3], 1)


def test_center_error_counts_every_image_once_and_matches_keras_metrics():
    model = small_model()
    result = evaluate(model, views="center", batch_size=100)
    assert result.num_images == len(VALIDATION) == 359
    np.testing.assert_array_equal(result.labels, [example["label"] for example in VALIDATION])
    model.compile(
        loss="sparse_categorical_crossentropy", metrics=[SparseTopKError(1), SparseTopKError(5)]
    )
    truth = model.evaluate(
        data.evaluation_dataset(SOURCE, 64, views="center"), return_dict=True, verbose=0
    )
    assert result.top1_error == pytest.approx(truth["top1_error"], abs=1e-6)
    assert result.top5_error == pytest.approx(truth["top5_error"], abs=1e-6)


def test_ten_views_average_the_scores_of_the_ten_crops():
    model = small_model()
    result = evaluate(model, views="ten", scales=40, batch_size=128)
    without_flips = evaluate(model, views="ten", scales=40, batch_size=128, flip=False)
    assert result.num_images == len(VALIDATION)
    assert result.flip and not without_flips.flip
    for index in (0, 200, 358):
        crops = np.asarray(
            transforms.ten_views(tf.constant(VALIDATION[index]["image"]), 40, 32, MEAN)
        )
        # The 10 crops by hand: corners and centre of the 40x40 image, then mirrored.
        resized = np.asarray(
            transforms.resize_shorter_side(tf.constant(VALIDATION[index]["image"]), 40)
        )
        corner = resized[8:, :32] - MEAN
        np.testing.assert_allclose(crops[2], corner, atol=1e-4)
        np.testing.assert_allclose(crops[7], corner[:, ::-1], atol=1e-4)
        expected = keras.ops.convert_to_numpy(model(crops)).mean(axis=0)
        np.testing.assert_allclose(result.scores[index], expected, rtol=1e-5, atol=1e-6)
        unflipped = keras.ops.convert_to_numpy(model(crops[:5])).mean(axis=0)
        np.testing.assert_allclose(without_flips.scores[index], unflipped, rtol=1e-5, atol=1e-6)


def test_a_model_that_outputs_logits_is_scored_by_its_softmax(rng):
    """The paper averages softmax scores over views: a logits model's are its softmax's."""
    logits_model = Model14(
        input_shape=(32, 32, 3),
        fc_units=(32, 32),
        num_classes=10,
        seed=0,
        classifier_activation=None,
    )
    softmax_model = small_model(0)
    assert outputs_probabilities(softmax_model) and not outputs_probabilities(logits_model)
    assert with_probabilities(softmax_model) is softmax_model
    images = rng.normal(size=(4, 32, 32, 3)).astype("float32")
    logits = keras.ops.convert_to_numpy(logits_model(images))
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    probabilities = keras.ops.convert_to_numpy(with_probabilities(logits_model)(images))
    np.testing.assert_allclose(probabilities, softmax, rtol=1e-5, atol=1e-7)
    for views in ("center", "ten"):
        scored = evaluate(logits_model, views=views, scales=40, batch_size=128)
        truth = evaluate(softmax_model, views=views, scales=40, batch_size=128)
        np.testing.assert_allclose(scored.scores, truth.scores, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_dense_averages_scales_of_the_dense_scorer_and_ensembles_average_models():
    models = [small_model(0), small_model(1)]
    scales = (32, 48)
    result = evaluate(models, views="dense", scales=scales)
    assert result.num_images == len(VALIDATION)
    assert result.model == "model_14+model_14" and result.scales == scales
    for index in (0, 358):
        per_model = []
        for model in models:
            scorer = DenseScorer(with_input_shape(model, ANY_SIZE), crop_size=32)
            per_scale = []
            for scale in scales:
                image = transforms.full_view(tf.constant(VALIDATION[index]["image"]), scale, MEAN)
                per_scale.append(scorer(np.asarray(image)[None])[0])
            per_model.append(np.mean(per_scale, axis=0))
        np.testing.assert_allclose(
            result.scores[index], np.mean(per_model, axis=0), rtol=1e-5, atol=1e-6
        )
    assert result.top1_error == top_k_error(result.scores, result.labels, 1)


def test_run_folder_supplies_mean_crop_and_data(tmp_path):
    model = small_model()
    mean = np.full((32, 32, 3), 40.0, dtype="float32")
    run_dir = write_run_folder(tmp_path / "run", model, mean=mean, scale_range=(36, 40))
    result = evaluate(str(run_dir), views="center")
    expected = evaluate(model, views="center", scales=36, mean=mean)
    assert result.model == "run" and result.scales == (36,)
    np.testing.assert_allclose(result.scores, expected.scores, rtol=1e-6)
    other_mean = evaluate(model, views="center", scales=36)
    assert not np.allclose(result.scores, other_mean.scores)


def test_views_of_a_run_trained_without_flips_are_not_flipped(tmp_path):
    model = small_model()
    run_dir = write_run_folder(tmp_path / "run", model, mean=MEAN, flip=False)
    ten = evaluate(str(run_dir), views="ten", batch_size=128)
    np.testing.assert_allclose(
        ten.scores,
        evaluate(model, views="ten", batch_size=128, flip=False).scores,
        rtol=1e-6,
    )
    dense = evaluate(str(run_dir), views="dense", scales=32)
    scorer = DenseScorer(with_input_shape(model, ANY_SIZE), crop_size=32)
    image = np.asarray(transforms.full_view(tf.constant(VALIDATION[0]["image"]), 32, MEAN))
    np.testing.assert_allclose(
        dense.scores[0], scorer(image[None], flip=False)[0], rtol=1e-5, atol=1e-6
    )
    assert not np.allclose(dense.scores[0], scorer(image[None])[0], rtol=1e-5)
    table = results_table([ten, dense])
    assert [line.split()[1] for line in table.splitlines()[2:]] == ["5-view", "dense,"]
    assert evaluate(str(run_dir), views="ten", batch_size=128, flip=True).flip


def test_table_and_json(tmp_path):
    result = evaluate(small_model(), views="center", batch_size=128)
    table = results_table([result])
    header, rule, row = table.splitlines()
    assert re.split(r"\s{2,}", header.strip()) == [
        "model", "views", "scales", "top-1 error %", "top-5 error %", "images"
    ]  # fmt: skip
    assert row.split() == [
        "model_14",
        "centre",
        "32",
        f"{100 * result.top1_error:.2f}",
        f"{100 * result.top5_error:.2f}",
        "359",
    ]
    write_results([result], tmp_path / "results.json")
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == [
        {
            "model": "model_14",
            "views": "center",
            "scales": [32],
            "top1_error": result.top1_error,
            "top5_error": result.top5_error,
            "num_images": 359,
            "split": "validation",
            "data": "digits",
            "flip": True,
        }
    ]


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="views"):
        evaluate(small_model(), views="twelve")
    with pytest.raises(ValueError, match="`flip`"):
        evaluate(small_model(), views="ten", flip="yes")
    with pytest.raises(ValueError, match="scales"):
        evaluate(small_model(), views="center", scales=(16,))
    with pytest.raises(ValueError, match="models"):
        evaluate([])


def test_a_model_of_other_classes_than_the_data_is_refused(tmp_path):
    three_classes = Model14(input_shape=(32, 32, 3), fc_units=(8, 8), num_classes=3, seed=0)
    with pytest.raises(ValueError, match=r"`data` \(digits\) has 10 classes, but model .* 3"):
        evaluate(three_classes, views="center")
    run_dir = write_run_folder(tmp_path / "run", three_classes)
    with pytest.raises(ValueError, match="has 10 classes, but model 'run' scores 3"):
        evaluate(str(run_dir))


def test_a_model_whose_training_diverged_is_refused_not_scored():
    """NaN scores rank no class above the label: counted, they would score 0% error."""
    scores = np.array([[0.2, 0.8], [np.nan, np.nan]])
    with pytest.raises(ValueError, match="`scores` must be finite: 1 of 2 rows"):
        top_k_error(scores, np.array([1, 0]), 1)
    diverged = small_model()
    kernel = diverged.get_layer("fc3").kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    with pytest.raises(ValueError, match=r"`model` \('model_14'\) gives NaN .* for 359 of 359"):
        evaluate(diverged, views="center")


def test_dense_scales_place_the_papers_scales_on_the_training_range():
    # The paper's own range and crop give Table 6's scales.
    assert dense_scales((256, 512), 224) == (224, 256, 384, 480, 640)
    # [32, 40]: 32 - 1, 32, 36, 39, 44 (the first is below the 32 crop, left out).
    assert dense_scales((32, 40), 32) == (32, 36, 39, 44)
    # A single training scale is tested at that scale only.
    assert dense_scales((48, 48), 32) == (48,)


@pytest.mark.slow
def test_dense_testing_of_a_run_follows_its_training_scales(tmp_path):
    model = small_model()
    run_dir = write_run_folder(tmp_path / "run", model, scale_range=(40, 56), crop_size=32)
    result = evaluate(str(run_dir), views="dense")
    # 40 + 16 t for t in (-0.125, 0, 0.5, 0.875, 1.5).
    assert result.scales == (38, 40, 48, 54, 64)
    expected = evaluate(
        model, views="dense", scales=(38, 40, 48, 54, 64), flip=False, mean=(0.0, 0.0, 0.0)
    )
    np.testing.assert_allclose(result.scores, expected.scores, rtol=1e-6)
