import dataclasses
import json

import keras
import numpy as np
import pytest
from PIL import Image

from keras_prelu import data
from keras_prelu.training import BUNDLED_RECIPE
from keras_prelu.training import Recipe
from keras_prelu.training import SparseTopKError
from keras_prelu.training import fit
from keras_prelu.training import run as fit_module
from keras_prelu.training.run import epoch_seed
from keras_prelu.zoo import get_model
from tests.helpers.processes import run_python

# Two epochs of 5 steps on the bundled digits, with a narrow top.
TINY_RECIPE = dataclasses.replace(BUNDLED_RECIPE, epochs=2, batch_size=256)
TINY_MODEL = {"fc_units": (16, 16)}


def independent_top_k_errors(model, dataset):
    """Top-1 and top-5 error by NumPy over the model's predictions."""
    wrong = {1: 0, 5: 0}
    count = 0
    for images, labels in dataset.as_numpy_iterator():
        scores = keras.ops.convert_to_numpy(model(images, training=False))
        ranked = np.argsort(-scores, axis=1)
        for k in wrong:
            wrong[k] += int((ranked[:, :k] != labels[:, None]).all(axis=1).sum())
        count += len(labels)
    return wrong[1] / count, wrong[5] / count


@pytest.mark.slow
def test_fit_trains_evaluates_saves_and_a_second_call_resumes(tmp_path):
    run_dir = tmp_path / "run"
    epoch_logs = []
    result = fit(
        run_dir=run_dir,
        recipe=TINY_RECIPE,
        model_kwargs=TINY_MODEL,
        verbose=0,
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: epoch_logs.append(dict(logs))
            )
        ],
    )

    assert result.epochs_completed == 2
    assert result.recipe == TINY_RECIPE
    assert Recipe.load(run_dir / "recipe.json") == TINY_RECIPE
    for name in (
        "loss",
        "top1_error",
        "top5_error",
        "val_loss",
        "val_top1_error",
        "val_top5_error",
        "learning_rate",
    ):
        assert len(result.history[name]) == 2, name
    assert result.history["learning_rate"] == pytest.approx([1e-2, 1e-2])
    assert [logs["val_top1_error"] for logs in epoch_logs] == pytest.approx(
        result.history["val_top1_error"]
    )
    source = data.get_source(data.DEFAULT_SOURCE)
    augmentation = source.default_augmentation()
    np.testing.assert_array_equal(data.load_mean(run_dir), augmentation.mean)
    assert result.model.input_shape == (None, 32, 32, 3)
    assert result.model.output_shape == (None, source.num_classes)

    validation = data.evaluation_dataset(source, 100, views="center")
    top1, top5 = independent_top_k_errors(result.model, validation)
    assert result.evaluation["top1_error"] == pytest.approx(top1, abs=1e-6)
    assert result.evaluation["top5_error"] == pytest.approx(top5, abs=1e-6)
    assert json.loads((run_dir / "evaluation.json").read_text()) == (result.evaluation)

    reloaded = keras.saving.load_model(run_dir / "model.keras")
    images, _ = next(iter(validation))
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0),
        result.model.predict(images, verbose=0),
        rtol=1e-6,
        atol=1e-6,
    )
    state = json.loads((run_dir / "checkpoint" / "checkpoint.json").read_text())
    assert state["epochs_completed"] == 2

    again = fit(run_dir=run_dir, recipe=TINY_RECIPE, model_kwargs=TINY_MODEL, verbose=0)
    assert again.epochs_completed == 2
    assert again.history == result.history  # nothing trained, nothing logged
    assert again.evaluation == pytest.approx(result.evaluation)


def check_nothing_written(run_dir):
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "model_15"}, "`model` must be one of"),
        ({"data": "no_such_dataset_anywhere"}, "`data`"),
        (
            {"recipe": dataclasses.replace(BUNDLED_RECIPE, batch_size=4096)},
            r"`data`.*1438 examples, fewer than one batch.*`batch_size`=4096",
        ),
        ({"augmentation": {"crop_size": 48}}, "`augmentation`.*crop_size"),
        ({"augmentation": {"scale_range": (24, 40)}}, "`augmentation`.*crop_size"),
        ({"model_kwargs": {"input_shape": (64, 64, 3)}}, "input_shape"),
        ({"model_kwargs": {"num_classes": 3}}, "num_classes"),
        ({"mean": "imagenet"}, "`mean`"),
        ({"recipe": {"epochs": 2}}, "`recipe`"),
        ({"callbacks": [print]}, "`callbacks`"),
    ],
)
def test_bad_input_is_rejected_before_anything_is_written(tmp_path, kwargs, match):
    run_dir = tmp_path / "run"
    with pytest.raises(ValueError, match=match):
        fit(run_dir=run_dir, verbose=0, **kwargs)
    check_nothing_written(run_dir)


def test_an_empty_validation_split_is_rejected(tmp_path):
    for split, label in [("train", "a"), ("train", "b"), ("val", "a"), ("val", "b")]:
        folder = tmp_path / "images" / split / label
        folder.mkdir(parents=True)
        if split == "train":
            Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(folder / "x.png")
    run_dir = tmp_path / "run"
    with pytest.raises(ValueError, match="`data`: the validation split .* empty"):
        fit(
            data=str(tmp_path / "images"),
            recipe=Recipe(batch_size=2),
            run_dir=run_dir,
            verbose=0,
        )
    check_nothing_written(run_dir)


def test_a_batch_the_replicas_cannot_share_is_rejected(tmp_path):
    output = run_python(
        """
        import dataclasses, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        from pathlib import Path
        from keras_prelu.training import BUNDLED_RECIPE, fit
        run_dir = Path(sys.argv[1])
        recipe = dataclasses.replace(
            BUNDLED_RECIPE, strategy="mirrored", batch_size=33
        )
        try:
            fit(run_dir=run_dir, recipe=recipe, verbose=0)
        except ValueError as error:
            print(error)
        print("written:", run_dir.exists())
        """,
        tmp_path / "run",
    )
    assert "`batch_size` (33, the global batch) must be divisible by the 2 replicas" in output
    assert "written: False" in output


def test_resuming_with_another_recipe_or_model_is_refused(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoint").mkdir(parents=True)
    (run_dir / "checkpoint" / "checkpoint.json").write_text(json.dumps({"epochs_completed": 1}))
    BUNDLED_RECIPE.save(run_dir / "recipe.json")
    calls = []

    def stop(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("stop before training")

    monkeypatch.setattr(fit_module.keras.utils, "set_random_seed", stop)
    with pytest.raises(ValueError, match="`run_dir`.*run.json.* is missing"):
        fit(run_dir=run_dir, verbose=0)
    assert not calls

    run = fit_module._paths(run_dir)["run"]
    source = data.get_source(data.DEFAULT_SOURCE)
    augmentation = source.default_augmentation()
    run.write_text(
        json.dumps(
            {
                "model": "model_14",
                "data": data.DEFAULT_SOURCE,
                "model_kwargs": fit_module._model_kwargs(
                    data.DEFAULT_SOURCE, None, source, augmentation, BUNDLED_RECIPE
                ),
                "augmentation": fit_module._augmentation_summary(augmentation),
            }
        )
    )
    changed = dataclasses.replace(BUNDLED_RECIPE, learning_rate=0.1, patience=3)
    with pytest.raises(ValueError, match=r"\['learning_rate', 'patience'\]"):
        fit(run_dir=run_dir, recipe=changed, verbose=0)
    with pytest.raises(ValueError, match="`run_dir`.*cannot be resumed"):
        fit(run_dir=run_dir, model_kwargs={"activation": "relu"}, verbose=0)
    # Longer, on another strategy: allowed, and the saved seed is kept.
    longer = dataclasses.replace(BUNDLED_RECIPE, epochs=20, seed=None)
    with pytest.raises(RuntimeError, match="stop before training"):
        fit(run_dir=run_dir, recipe=longer, verbose=0)
    assert calls == [(BUNDLED_RECIPE.seed,)]
    assert Recipe.load(run_dir / "recipe.json") == dataclasses.replace(BUNDLED_RECIPE, epochs=20)


def test_epoch_seeds_depend_on_the_seed_and_the_epoch_only():
    seeds = {epoch_seed(seed, epoch) for seed in (0, 1) for epoch in range(50)}
    assert len(seeds) == 100
    assert epoch_seed(7, 3) == epoch_seed(7, 3)


def test_top_k_error_is_one_minus_top_k_accuracy():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(64, 10)).astype("float32")
    labels = rng.integers(0, 10, size=64)
    for k in (1, 5):
        metric = SparseTopKError(k)
        assert metric.name == f"top{k}_error"
        metric.update_state(labels, scores)
        ranked = np.argsort(-scores, axis=1)[:, :k]
        expected = 1 - np.mean([label in row for label, row in zip(labels, ranked)])
        assert float(metric.result()) == pytest.approx(expected)
        clone = SparseTopKError.from_config(metric.get_config())
        assert (clone.k, clone.name) == (k, f"top{k}_error")
    with pytest.raises(ValueError, match="`k`"):
        SparseTopKError(0)


def test_padded_validation_gives_the_loss_and_errors_of_the_examples_alone():
    source = data.get_source(data.DEFAULT_SOURCE)
    augmentation = source.default_augmentation()
    model = get_model(
        "model_14",
        input_shape=(32, 32, 3),
        num_classes=source.num_classes,
        fc_units=(16, 16),
        seed=0,
    )
    # Untrained, the model scores every class about 0.1, with ties (21 of
    # the 359 images) that top-k breaks by position: distinct class biases
    # separate the scores.
    classifier = model.get_layer("fc3")
    classifier.bias.assign(np.linspace(-1, 1, source.num_classes, dtype="float32"))
    model.compile(
        loss="sparse_categorical_crossentropy",
        weighted_metrics=[SparseTopKError(1), SparseTopKError(5)],
    )
    # 359 digits: a last batch of 103 examples and 153 weighed-out copies.
    plain, padded = (
        model.evaluate(
            fit_module.validation_dataset(source, augmentation, 256, pad=pad),
            return_dict=True,
            verbose=0,
        )
        for pad in (False, True)
    )
    top1, top5 = independent_top_k_errors(
        model, fit_module.validation_dataset(source, augmentation, 256)
    )
    assert plain["top1_error"] == pytest.approx(top1, abs=1e-6)
    assert padded["top1_error"] == pytest.approx(top1, abs=1e-6)
    assert padded["top5_error"] == pytest.approx(top5, abs=1e-6)
    assert padded["loss"] == pytest.approx(plain["loss"], rel=1e-5)
