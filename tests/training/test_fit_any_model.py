"""`fit` of the user's own models and data: arrays, datasets, image folders, builders."""

import dataclasses
import json
import signal
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_prelu import data
from keras_prelu import evaluation
from keras_prelu.saving import run_folder
from keras_prelu.training import BUNDLED_RECIPE
from keras_prelu.training import fit
from tests.helpers.images import smooth_pixels
from tests.helpers.images import write_image
from tests.helpers.processes import Child
from tests.helpers.processes import free_ports
from tests.helpers.processes import python_env
from tests.helpers.processes import run_python
from tests.helpers.run_folders import epochs_completed

# 3 epochs of 4 steps of 16 on 12x12 images, whose fitted crop is 32.
SMALL_RECIPE = dataclasses.replace(BUNDLED_RECIPE, epochs=3, batch_size=16, patience=1)
CLASSES = 3

# Trains a small functional Keras model (built the same in every process) on
# the user's data of kind argv[2] in run folder argv[1]. With argv[3] a file
# name, it creates that file at the start of the second epoch, once the first
# is checkpointed, and waits there to be killed. Writes the final weights.
TRAIN_SCRIPT = """
import dataclasses, sys, threading
from pathlib import Path
import keras, numpy as np, tensorflow as tf
from keras_prelu import data
from keras_prelu.training import BUNDLED_RECIPE, fit

run_dir, kind = Path(sys.argv[1]), sys.argv[2]
pause_file = Path(sys.argv[3]) if len(sys.argv) > 3 else None
rng = np.random.default_rng(0)
images = rng.integers(0, 256, (80, 12, 12, 3), dtype=np.uint8)
labels = np.arange(80) % 3
given = {}
if kind == "arrays":
    source = data.ArraySource((images[:64], labels[:64]), (images[64:], labels[64:]))
elif kind == "fit_arrays":  # as keras.Model.fit takes them, floats
    source = (images[:64].astype("float32"), labels[:64])
    given = {"validation_data": (images[64:], labels[64:])}
elif kind == "fit_dataset":  # batched, as keras.Model.fit takes it
    pairs = lambda part: tf.data.Dataset.from_tensor_slices((images[part], labels[part])).batch(8)
    source, given = pairs(slice(0, 64)), {"validation_data": pairs(slice(64, None))}
elif kind == "dataset":
    pairs = lambda part: tf.data.Dataset.from_tensor_slices((images[part], labels[part]))
    source = data.DatasetSource(pairs(slice(0, 64)), pairs(slice(64, None)))
else:
    source = kind  # an image folder

keras.utils.set_random_seed(0)
inputs = keras.Input((32, 32, 3))
x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
x = keras.layers.GlobalAveragePooling2D()(x)
x = keras.layers.Dropout(0.5)(x)
outputs = keras.layers.Dense(3, activation="softmax")(x)
model = keras.Model(inputs, outputs)

class PauseOnce(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1 and pause_file is not None:
            pause_file.touch()
            threading.Event().wait()  # until killed

recipe = dataclasses.replace(BUNDLED_RECIPE, epochs=3, batch_size=16, patience=1)
result = fit(
    model, source, recipe=recipe, run_dir=run_dir, verbose=0, callbacks=[PauseOnce()], **given
)
np.savez(run_dir / "final.npz", *[keras.ops.convert_to_numpy(w) for w in result.model.weights])
print("epochs:", result.epochs_completed)
"""


def write_folder(root, rng):
    """Class folders of 12x12 PNGs: 27 images a class, a tenth held out."""
    for label in range(CLASSES):
        (root / str(label)).mkdir(parents=True)
        for index in range(27):
            pixels = smooth_pixels(rng, (12, 12), 3)
            write_image(root / str(label) / f"{index}.png", pixels, "RGB", "PNG")


def train(tmp_path, run_dir, kind, *pause, backend="tensorflow"):
    return Child(
        [sys.executable, str(tmp_path / "train.py"), str(run_dir), kind, *map(str, pause)],
        env=python_env(backend),
    )


def final_weights(run_dir):
    with np.load(run_dir / "final.npz") as weights:
        return [weights[name] for name in weights.files]


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, backend",
    [
        ("arrays", "tensorflow"),
        ("dataset", "tensorflow"),
        ("folder", "tensorflow"),
        ("fit_arrays", "tensorflow"),
        ("fit_arrays", "jax"),
        # Keras' Dropout without a seed masks from PyTorch's global generator there: its
        # state travels in the checkpoint.
        ("fit_arrays", "torch"),
        ("fit_dataset", "tensorflow"),
    ],
)
def test_a_users_model_killed_and_resumed_ends_with_the_uninterrupted_weights(
    tmp_path, rng, kind, backend
):
    (tmp_path / "train.py").write_text(TRAIN_SCRIPT)
    if kind == "folder":
        write_folder(tmp_path / "images", rng)
        kind = str(tmp_path / "images")
    whole_dir, killed_dir, pause_file = tmp_path / "whole", tmp_path / "killed", tmp_path / "paused"
    whole = train(tmp_path, whole_dir, kind, backend=backend)
    killed = train(tmp_path, killed_dir, kind, pause_file, backend=backend)
    killed.wait_for(pause_file.exists, 300, "the pause after the first checkpoint")
    assert epochs_completed(killed_dir) == 1
    killed.kill()
    assert killed.finish(30) == -signal.SIGKILL

    resumed = train(tmp_path, killed_dir, kind, backend=backend)
    for child in (resumed, whole):
        assert child.finish(300) == 0, child.stderr[-4000:]
        assert "epochs: 3" in child.stdout
    assert [row["epoch"] for row in run_folder.RunFolder(killed_dir).read_log()] == [1, 2, 3]
    for resumed_weight, whole_weight in zip(
        final_weights(killed_dir), final_weights(whole_dir), strict=True
    ):
        np.testing.assert_array_equal(resumed_weight, whole_weight)
    record = run_folder.RunFolder(killed_dir).read_run()
    assert record.architecture is not None and record.crop_size == 32
    assert record.data_given == (kind in ("arrays", "dataset", "fit_arrays", "fit_dataset"))


def small_model(num_classes=CLASSES, side=32, activation="softmax"):
    inputs = keras.Input((side, side, 3))
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation=activation)(x))


def array_source(rng, count=48):
    images = rng.integers(0, 256, (count + 16, 12, 12, 3), dtype=np.uint8)
    labels = np.arange(count + 16) % CLASSES
    return data.ArraySource((images[:count], labels[:count]), (images[count:], labels[count:]))


def test_a_run_on_arrays_evaluates_with_its_data_given_again(tmp_path, rng):
    source = array_source(rng)
    recipe = dataclasses.replace(SMALL_RECIPE, epochs=1)
    result = fit(small_model(), source, recipe=recipe, run_dir=tmp_path / "run", verbose=0)
    record = run_folder.RunFolder(tmp_path / "run").read_run()
    assert record.model == result.model.name and record.data == "arrays" and record.data_given

    with pytest.raises(ValueError, match="`data` is required .* cannot rebuild"):
        evaluation.evaluate(tmp_path / "run")
    measured = evaluation.evaluate(tmp_path / "run", data=source)
    # NumPy's top-1 error of the trained model on the centre crops of the arrays.
    mean = np.asarray(record.mean_rgb, np.float32)
    batches = data.evaluation_dataset(source, 16, scale=32, crop_size=32, mean=mean)
    wrong = count = 0
    for images, labels in batches.as_numpy_iterator():
        scores = keras.ops.convert_to_numpy(result.model(images))
        wrong += int((scores.argmax(axis=1) != labels).sum())
        count += len(labels)
    assert measured.top1_error == pytest.approx(wrong / count)
    np.testing.assert_allclose(result.evaluation["top1_error"], wrong / count)


class Unregistered(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(CLASSES, activation="softmax")

    def call(self, images):
        return self.dense(keras.ops.mean(images, axis=(1, 2)))


@keras.saving.register_keras_serializable(package="tests")
class Registered(Unregistered):
    def get_config(self):
        return {}


def test_a_model_that_cannot_be_recreated_is_refused_before_anything_is_written(tmp_path, rng):
    model = Unregistered()
    model(np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="cannot be re-created from its Keras serialization"):
        fit(model, array_source(rng), recipe=SMALL_RECIPE, run_dir=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "model, kwargs, match",
    [
        (lambda: small_model(side=24), {}, r"take the 32x32 RGB crops.*\(None, 24, 24, 3\)"),
        (lambda: small_model(num_classes=5), {}, "3 classes.*output shape \\(None, 5\\)"),
        (lambda: "not a model", {}, "returns a keras.Model"),
        (small_model, {"model_kwargs": {"dropout": 0.1}}, "zoo's models only"),
        (42, {}, "`model` must be one of"),
    ],
)
def test_a_model_that_does_not_fit_the_data_is_refused(tmp_path, rng, model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(model, array_source(rng), recipe=SMALL_RECIPE, run_dir=tmp_path / "run", **kwargs)
    assert not (tmp_path / "run" / run_folder.RUN_FILENAME).exists()


def test_a_registered_subclass_and_a_logits_model_train(tmp_path, rng):
    source = array_source(rng)
    recipe = dataclasses.replace(SMALL_RECIPE, epochs=1)
    result = fit(Registered(), source, recipe=recipe, run_dir=tmp_path / "sub", verbose=0)
    assert isinstance(result.model, Registered)
    assert isinstance(run_folder.RunFolder(tmp_path / "sub").load_model(), Registered)
    logits = fit(
        small_model(activation=None), source, recipe=recipe, run_dir=tmp_path / "logits", verbose=0
    )
    assert logits.model.loss.get_config()["from_logits"]
    assert not result.model.loss.get_config()["from_logits"]


# Trains the same builder with the recipe's strategy argv[3] in run folder
# argv[1] ("mirrored" on two logical CPUs, then "none" on one device in the
# same process; or "auto" in JAX process argv[4] of two, joined on port
# argv[5]); writes each run's weights and where the builder was called.
BUILDER_SCRIPT = """
import dataclasses, json, sys
from pathlib import Path
import numpy as np
import tensorflow as tf
run_dir, out, strategies = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(",")
if "mirrored" in strategies:
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
import keras
from keras_prelu import data
from keras_prelu.training import BUNDLED_RECIPE, distribution, fit

name = "one"
if len(sys.argv) > 4:
    name = sys.argv[4]
    distribution.initialize_processes(f"127.0.0.1:{sys.argv[5]}", 2, int(name))
rng = np.random.default_rng(0)
images = rng.integers(0, 256, (80, 12, 12, 3), dtype=np.uint8)
labels = np.arange(80) % 3
source = data.ArraySource((images[:64], labels[:64]), (images[64:], labels[64:]))
scopes = []

def small_convnet():
    if keras.backend.backend() == "jax":
        scopes.append(keras.distribution.distribution() is not None)
    else:
        scopes.append(tf.distribute.get_strategy().num_replicas_in_sync)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))

for strategy in strategies:
    recipe = dataclasses.replace(
        BUNDLED_RECIPE, epochs=2, batch_size=16, patience=1, strategy=strategy
    )
    result = fit(small_convnet, source, recipe=recipe, run_dir=run_dir / strategy, verbose=0)
    np.savez(out / f"{strategy}-{name}.npz", *result.model.get_weights())
(out / f"scopes-{name}.json").write_text(json.dumps(scopes))
"""


def load_arrays(path):
    with np.load(path) as arrays:
        return [arrays[f"arr_{index}"] for index in range(len(arrays.files))]


@pytest.mark.slow
def test_a_builder_under_mirrored_strategy_reaches_the_weights_of_one_device(tmp_path):
    run_python(BUILDER_SCRIPT, tmp_path / "runs", tmp_path, "mirrored,none", timeout=400)
    # The builder ran in each strategy's scope: two replicas, then one.
    assert json.loads((tmp_path / "scopes-one.json").read_text()) == [2, 1]
    mirrored = load_arrays(tmp_path / "mirrored-one.npz")
    single = load_arrays(tmp_path / "none-one.npz")
    for two_replicas, one_device in zip(mirrored, single, strict=True):
        np.testing.assert_allclose(two_replicas, one_device, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_a_builder_in_two_jax_processes_reaches_the_weights_of_one_process(tmp_path):
    (port,) = free_ports()
    workers = [
        Child(
            [
                sys.executable,
                "-c",
                textwrap.dedent(BUILDER_SCRIPT),
                str(tmp_path / "runs"),
                str(tmp_path),
                "auto",
                str(index),
                str(port),
            ],
            env=python_env("jax"),
        )
        for index in range(2)
    ]
    try:
        for worker in workers:
            assert worker.finish(600) == 0, worker.stderr[-4000:]
    finally:
        for worker in workers:
            worker.kill()
    run_python(BUILDER_SCRIPT, tmp_path / "one", tmp_path, "auto", backend="jax", timeout=300)
    for index in range(2):
        assert json.loads((tmp_path / f"scopes-{index}.json").read_text()) == [True]
    reference = load_arrays(tmp_path / "auto-one.npz")
    for index in range(2):
        for worker, one in zip(load_arrays(tmp_path / f"auto-{index}.npz"), reference, strict=True):
            np.testing.assert_allclose(worker, one, rtol=1e-4, atol=1e-5)
