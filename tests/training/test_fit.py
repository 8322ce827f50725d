import dataclasses

import keras
import numpy as np
import pytest
from PIL import Image

from keras_prelu import data
from keras_prelu.saving import run_folder
from keras_prelu.training import BUNDLED_RECIPE
from keras_prelu.training import NonFiniteError
from keras_prelu.training import Recipe
from keras_prelu.training import SparseTopKError
from keras_prelu.training import feeding
from keras_prelu.training import fit
from keras_prelu.training import prepare_run
from keras_prelu.training.feeding import epoch_seed
from keras_prelu.zoo import get_model
from tests.helpers.processes import run_python
from tests.helpers.run_folders import epochs_completed
from tests.helpers.run_folders import log_epochs

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

    folder = run_folder.RunFolder(run_dir)
    assert result.epochs_completed == 2
    assert result.recipe == TINY_RECIPE
    assert Recipe.load(folder.recipe_path) == TINY_RECIPE
    # The recipe's measures only: weighted, so that padding rows count for nothing.
    assert sorted(result.history) == [
        "learning_rate",
        "loss",
        "top1_error",
        "top5_error",
        "val_loss",
        "val_top1_error",
        "val_top5_error",
    ]
    for name in result.history:
        assert len(result.history[name]) == 2, name
    assert result.history["learning_rate"] == [0.01, 0.01]  # as set, not as float32
    assert log_epochs(run_dir) == [1, 2]
    assert [logs["val_top1_error"] for logs in epoch_logs] == pytest.approx(
        result.history["val_top1_error"]
    )
    source = data.get_source(data.DEFAULT_SOURCE)
    augmentation = source.default_augmentation()
    np.testing.assert_array_equal(folder.read_mean(), augmentation.mean)
    record = folder.read_run()
    assert record.class_names == source.class_names
    assert record.mean_rgb == pytest.approx(augmentation.mean.tolist())
    assert (record.evaluation_scale, record.crop_size, record.flip) == (32, 32, False)
    assert result.model.input_shape == (None, 32, 32, 3)
    assert result.model.output_shape == (None, source.num_classes)

    validation = data.evaluation_dataset(source, 100, views="center")
    top1, top5 = independent_top_k_errors(result.model, validation)
    assert result.evaluation["top1_error"] == pytest.approx(top1, abs=1e-6)
    assert result.evaluation["top5_error"] == pytest.approx(top5, abs=1e-6)
    assert folder.read_evaluation() == result.evaluation

    reloaded = folder.load_model()
    images, _ = next(iter(validation))
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0),
        result.model.predict(images, verbose=0),
        rtol=1e-6,
        atol=1e-6,
    )
    assert epochs_completed(run_dir) == 2

    again = fit(run_dir=run_dir, recipe=TINY_RECIPE, model_kwargs=TINY_MODEL, verbose=0)
    assert again.epochs_completed == 2
    assert again.history == result.history  # nothing trained, nothing logged
    assert again.evaluation == pytest.approx(result.evaluation)


class PoisonEpoch(keras.callbacks.Callback):
    """Makes a kernel NaN during epoch `epoch` (from 0), as a diverging step would."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 0:
            kernel = self.model.get_layer("fc3").kernel
            kernel.assign(np.full(kernel.shape, np.nan, kernel.dtype))


@pytest.mark.slow
def test_a_non_finite_epoch_stops_the_run_and_keeps_the_last_finite_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    recipe = dataclasses.replace(TINY_RECIPE, epochs=3)
    with pytest.raises(NonFiniteError, match=r"^Epoch 2 ended with non-finite values \(loss=nan"):
        fit(
            run_dir=run_dir,
            recipe=recipe,
            model_kwargs=TINY_MODEL,
            callbacks=[PoisonEpoch(1)],
            verbose=0,
        )
    folder = run_folder.RunFolder(run_dir)
    assert epochs_completed(run_dir) == 1 and log_epochs(run_dir) == [1]
    assert not folder.model_path.exists() and not folder.evaluation_path.exists()
    state = folder.checkpoint.read_state()
    model = get_model("model_14", input_shape=(32, 32, 3), num_classes=10, **TINY_MODEL)
    model.load_weights(folder.checkpoint.weights_path(state))
    assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights)


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


@pytest.mark.backend("tensorflow")  # it starts its own processes
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


class StopBeforeTraining(keras.callbacks.Callback):
    """Stops `fit` once the run folder is written, before the first step."""

    def on_train_begin(self, logs=None):
        raise RuntimeError("stopped before training")


def start_run(run_dir, **kwargs):
    """A run folder as `fit` writes it before training: recipe, run and mean."""
    with pytest.raises(RuntimeError, match="stopped before training"):
        fit(run_dir=run_dir, verbose=0, callbacks=[StopBeforeTraining()], **kwargs)


def fake_checkpoint(run_dir, epochs_completed=1):
    """A checkpoint of `epochs_completed` epochs whose weights are never loaded, and the
    log of those epochs, which a resume checks against it."""
    folder = run_folder.RunFolder(run_dir)
    rows = "".join(f"{epoch},1.0\n" for epoch in range(1, epochs_completed + 1))
    folder.log_path.write_text("epoch,loss\n" + rows)
    folder.checkpoint.write(
        epochs_completed,
        lambda path: open(path, "wb").close(),
        stopped=False,
        callbacks={},
        unsaved_variables=[],
        generators={},
    )


def test_resuming_with_another_recipe_model_or_mean_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    start_run(run_dir, mean=[1.0, 2.0, 3.0])
    fake_checkpoint(run_dir)
    folder = run_folder.RunFolder(run_dir)
    written = {path: path.read_bytes() for path in (folder.recipe_path, folder.run_path)}

    changed = dataclasses.replace(BUNDLED_RECIPE, learning_rate=0.1, patience=3)
    with pytest.raises(ValueError, match=r"learning_rate: saved 0.01, given 0.1; patience"):
        fit(run_dir=run_dir, recipe=changed, verbose=0)
    with pytest.raises(ValueError, match=r"another run.*model_kwargs.activation: saved None"):
        fit(run_dir=run_dir, model_kwargs={"activation": "relu"}, verbose=0)
    with pytest.raises(ValueError, match="`mean`: .* subtracted the given mean, not a computed"):
        fit(run_dir=run_dir, mean="compute", verbose=0)
    with pytest.raises(ValueError, match="`mean` differs from the mean of the run"):
        fit(run_dir=run_dir, mean=[1.0, 2.0, 4.0], verbose=0)
    assert {path: path.read_bytes() for path in written} == written


def test_a_resumed_run_keeps_its_seed_and_its_mean(tmp_path):
    run_dir = tmp_path / "run"
    start_run(run_dir, mean=[1.0, 2.0, 3.0])
    fake_checkpoint(run_dir)
    # Longer, without a seed and without the mean: allowed; the saved seed and
    # mean are kept.
    longer = dataclasses.replace(BUNDLED_RECIPE, epochs=20, seed=None)
    start_run(run_dir, recipe=longer)
    folder = run_folder.RunFolder(run_dir)
    assert Recipe.load(folder.recipe_path) == dataclasses.replace(BUNDLED_RECIPE, epochs=20)
    np.testing.assert_array_equal(folder.read_mean(), [1.0, 2.0, 3.0])
    assert folder.read_run().mean_kind == "given"


def test_a_resume_without_its_run_json_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    start_run(run_dir)
    fake_checkpoint(run_dir)
    run_folder.RunFolder(run_dir).run_path.unlink()
    with pytest.raises(ValueError, match="run.json is missing"):
        fit(run_dir=run_dir, verbose=0)


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


def test_top_k_error_with_k_above_the_number_of_classes_is_zero():
    # Every label is among the top 5 of 3 classes; PyTorch's topk refuses k > 3.
    rng = np.random.default_rng(1)
    metric = SparseTopKError(5)
    metric.update_state(rng.integers(0, 3, size=16), rng.normal(size=(16, 3)).astype("float32"))
    assert float(metric.result()) == 0.0


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
            feeding.validation_dataset(source, augmentation, 256, pad=pad),
            return_dict=True,
            verbose=0,
        )
        for pad in (False, True)
    )
    top1, top5 = independent_top_k_errors(
        model, feeding.validation_dataset(source, augmentation, 256)
    )
    assert plain["top1_error"] == pytest.approx(top1, abs=1e-6)
    assert padded["top1_error"] == pytest.approx(top1, abs=1e-6)
    assert padded["top5_error"] == pytest.approx(top5, abs=1e-6)
    assert padded["loss"] == pytest.approx(plain["loss"], rel=1e-5)


@pytest.mark.parametrize("activation", ["softmax", None])
def test_a_zoo_model_without_its_softmax_trains_from_its_logits(tmp_path, activation):
    # From probabilities, JAX and PyTorch clip them at 1e-7 (no gradient from a saturated
    # softmax); from logits, every backend computes the same cross-entropy.
    kwargs = dict(TINY_MODEL, classifier_activation=activation)
    _, model = prepare_run(model_kwargs=kwargs, recipe=TINY_RECIPE, run_dir=tmp_path / "run")
    assert model.loss.get_config()["from_logits"] is (activation is None)
    images = np.zeros((1, *model.input.shape[1:]), "float32")
    sums = keras.ops.convert_to_numpy(keras.ops.sum(model.predict(images, verbose=0), axis=-1))
    assert bool(np.isclose(sums[0], 1.0)) is (activation == "softmax")
