"""Presets are keras-hub's: written by its saver, loaded by its `from_preset`, checked
field by field when read, and written whole or not at all."""

import json
import os
import signal
import sys

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import keras_prelu
from keras_prelu.data import transforms
from keras_prelu.saving import presets
from keras_prelu.zoo import Model14
from keras_prelu.zoo import ModelA
from keras_prelu.zoo import PReLUNetBackbone
from keras_prelu.zoo import PReLUNetImageClassifier
from tests.helpers.processes import Child
from tests.helpers.processes import python_env

# Runs in the TensorFlow session only: the reference views are TensorFlow's data pipeline.
pytestmark = pytest.mark.backend("tensorflow")

# He-initialized fc layers and logits out: scores that move with the pixels.
SMALL = dict(fc_units=(16, 16), num_classes=4, seed=0, fc_initializer="he")
SENSITIVE = dict(SMALL, classifier_activation=None)
MEAN = np.array([10.0, 20.0, 30.0], np.float32)
# The view of the presets below: shorter side 36, central 32 x 32 crop. A scale other than
# the crop makes a second resizing visible; a non-zero mean makes a second subtraction visible.
SCALE, CROP = 36, 32


def raw_images(height, width, count=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def evaluation_views(images, scale=SCALE, crop=CROP, mean=MEAN):
    """The evaluation's centre views (keras_prelu.data.transforms), one image at a time."""
    return np.stack(
        [transforms.center_view(tf.constant(image), scale, crop, mean).numpy() for image in images]
    )


@pytest.fixture(scope="module")
def model():
    return Model14(input_shape=(CROP, CROP, 3), **SENSITIVE)


@pytest.fixture(scope="module")
def preset(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("presets") / "model_14"
    return keras_prelu.save_preset(
        model, folder, mean=MEAN, class_names="abcd", evaluation_scale=SCALE
    )


def test_keras_hub_loads_the_preset_and_predicts_from_raw_images_once_preprocessed(model, preset):
    assert sorted(path.name for path in preset.iterdir()) == sorted(presets.FILES)
    classifier = keras_hub.models.ImageClassifier.from_preset(str(preset))
    assert type(classifier) is PReLUNetImageClassifier
    assert isinstance(classifier.backbone, keras_hub.models.Backbone)
    assert type(keras_hub.models.Backbone.from_preset(str(preset))) is PReLUNetBackbone
    assert type(PReLUNetImageClassifier.from_preset(str(preset))) is PReLUNetImageClassifier
    for height, width in ((50, 41), (32, 32)):
        images = raw_images(height, width)
        expected = model.predict(evaluation_views(images), verbose=0)
        for given in (images, images.astype("float32")):
            np.testing.assert_allclose(
                classifier.predict(given, verbose=0), expected, rtol=1e-4, atol=1e-6
            )
    # Subtracting the mean twice, or resizing a view again, gives other scores.
    twice = model.predict(evaluation_views(evaluation_views(raw_images(50, 41))), verbose=0)
    assert np.abs(classifier.predict(raw_images(50, 41), verbose=0) - twice).max() > 1e-2


def test_the_model_a_builder_makes_carries_no_preprocessor():
    """Training feeds centred views: a builder's model passes its inputs through as given."""
    model = Model14(input_shape=(CROP, CROP, 3), **SMALL)
    assert model.preprocessor is None
    views = evaluation_views(raw_images(CROP, CROP))
    np.testing.assert_array_equal(model.predict(views, verbose=0), model(views).numpy())


def test_metadata_travels_in_the_preset(model, preset):
    metadata = keras_prelu.load_preset_metadata(preset)
    assert metadata.class_names == ("a", "b", "c", "d")
    np.testing.assert_array_equal(metadata.mean, MEAN)
    assert (metadata.evaluation_scale, metadata.crop_size) == (SCALE, CROP)
    assert metadata.parameter_count == model.backbone.count_params()
    assert metadata.keras_version == keras.version()
    assert metadata.keras_prelu_version == keras_prelu.__version__
    config = json.loads((preset / "config.json").read_text())
    assert config["registered_name"] == "keras_prelu>PReLUNetBackbone"


def test_keras_hub_upload_check_passes(preset):
    from keras_hub.src.utils.preset_utils import _validate_backbone

    _validate_backbone(str(preset))  # what keras_hub.upload_preset checks before uploading


def test_builders_take_a_preset_as_weights(model, preset):
    any_size = Model14(input_shape=(None, None, 3), **SENSITIVE, weights=preset)
    views = evaluation_views(raw_images(40, 40))
    np.testing.assert_allclose(
        any_size.predict(views, verbose=0), model.predict(views, verbose=0), rtol=1e-6
    )
    headless = Model14(include_top=False, weights=preset)
    np.testing.assert_array_equal(
        headless.get_layer("act3_6").get_weights()[0], model.get_layer("act3_6").get_weights()[0]
    )
    with pytest.raises(ValueError, match="do not fit"):
        ModelA(weights=preset, **SMALL)


def test_writing_over_a_preset_needs_overwrite(model, preset, tmp_path):
    with pytest.raises(ValueError, match="--overwrite"):
        keras_prelu.save_preset(model, preset, mean=MEAN)
    with pytest.raises(ValueError, match="4 classes"):
        keras_prelu.save_preset(model, tmp_path / "other", mean=MEAN, class_names=["a"])
    with pytest.raises(ValueError, match="finite"):
        keras_prelu.save_preset(model, tmp_path / "other", mean=[0, np.nan, 0])
    assert not (tmp_path / "other").exists()


def _damage(folder, name, change):
    path = folder / name
    value = json.loads(path.read_text())
    path.write_text(json.dumps(change(value)))


def _set(section, field, value):
    def change(fields):
        fields[section][field] = value
        return fields

    return change


DAMAGES = {
    "metadata.json holds a list": ("metadata.json", lambda v: [1, 2], "metadata.json must hold"),
    "config.json holds [1, 2]": ("config.json", lambda v: [1, 2], "config.json must hold"),
    "class_names is a string": (
        "metadata.json",
        _set("keras_prelu", "class_names", "ab"),
        r"metadata.json: field `class_names` must be a list of strings",
    ),
    "class_names of another count": (
        "metadata.json",
        _set("keras_prelu", "class_names", ["a", "b"]),
        r"field `class_names` must name the model's 4 classes",
    ),
    "crop_size is a word": (
        "image_converter.json",
        _set("config", "crop_size", "big"),
        r"image_converter.json: field `crop_size` must be a positive integer",
    ),
    "evaluation_scale is negative": (
        "image_converter.json",
        _set("config", "evaluation_scale", -3),
        r"image_converter.json: field `evaluation_scale` must be a positive integer",
    ),
    "a NaN mean": (
        "image_converter.json",
        _set("config", "mean", [1.0, float("nan"), 2.0]),
        r"image_converter.json: field `mean` must be finite",
    ),
    "a mean of another shape": (
        "image_converter.json",
        _set("config", "mean", [1.0, 2.0]),
        r"image_converter.json: field `mean` must be 3 numbers",
    ),
    "scale_range upside down": (
        "metadata.json",
        _set("keras_prelu", "scale_range", [300, 200]),
        r"metadata.json: field `scale_range`",
    ),
    "task.json without num_classes": (
        "task.json",
        lambda v: {**v, "config": {k: x for k, x in v["config"].items() if k != "num_classes"}},
        r"task.json: field `num_classes`",
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGES))
def test_a_damaged_preset_gets_one_line_naming_the_file_and_field(preset, tmp_path, case):
    import shutil

    name, change, message = DAMAGES[case]
    folder = tmp_path / "damaged"
    shutil.copytree(preset, folder)
    _damage(folder, name, change)
    for read in (keras_prelu.from_preset, keras_prelu.load_preset_metadata):
        with pytest.raises(ValueError, match=message) as caught:
            read(folder)
        assert "\n" not in str(caught.value) and str(folder / name) in str(caught.value)


def test_another_models_weights_are_named_briefly(preset, tmp_path):
    import shutil

    other = Model14(input_shape=(CROP, CROP, 3), fc_units=(8, 8), num_classes=4, seed=1)
    elsewhere = keras_prelu.save_preset(other, tmp_path / "other", mean=MEAN)
    folder = tmp_path / "mixed"
    shutil.copytree(preset, folder)
    shutil.copy(elsewhere / "task.weights.h5", folder / "task.weights.h5")
    with pytest.raises(ValueError, match="task.weights.h5 does not hold the weights") as caught:
        keras_prelu.from_preset(folder)
    assert len(str(caught.value)) < 400 and "\n" not in str(caught.value)


def test_a_preset_of_the_earlier_layout_says_how_to_re_export(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {"class_name": "Model14", "registered_name": "keras_prelu>Model14", "config": {}}
        )
    )
    (folder / "model.weights.h5").write_bytes(b"")
    (folder / "metadata.json").write_text("{}")
    with pytest.raises(ValueError, match="earlier layout.*--format preset --overwrite") as caught:
        keras_prelu.from_preset(folder)
    assert "\n" not in str(caught.value)


# A child that writes a preset over `target` and stops before each change of the files
# under `target`'s folder until the parent writes a line to the FIFO `go`.
OVERWRITER = """
import os, sys
import numpy as np
import keras_prelu
from keras_prelu.zoo import Model14
target, go = sys.argv[1:]
parent = os.path.dirname(target).encode()
model = Model14(input_shape=(32, 32, 3), fc_units=(8, 8), num_classes=4, seed=7)
waiting = open(go)
changes = 0

def pause_before_change(event, args):
    global changes
    if event == "open" and (args[1] or "r") == "r":
        return
    if event in ("open", "os.rename", "os.remove", "os.rmdir", "os.mkdir", "shutil.rmtree",
                 "tempfile.mkdtemp", "ctypes.call_function"):
        paths = [os.fsencode(a) for a in args if isinstance(a, (str, bytes))]
        paths += [a for a in (args[1] if event == "ctypes.call_function" else ())
                  if isinstance(a, bytes)]
        if any(p.startswith(parent) for p in paths):
            changes += 1
            print("change", changes, event, flush=True)
            waiting.readline()

sys.addaudithook(pause_before_change)
keras_prelu.save_preset(model, target, mean=[1.0, 2.0, 3.0], overwrite=True)
print("written", flush=True)
"""


@pytest.mark.slow
def test_a_kill_at_any_change_leaves_a_loadable_preset(preset, tmp_path):
    """Before every change the writer makes, the folder holds a whole preset (the old one,
    then the new one): the state a SIGKILL at that moment leaves. The writer is then
    killed at its last pause before the commit, and the old preset is what is left."""
    import shutil

    target = tmp_path / "presets" / "model_14"
    shutil.copytree(preset, target)
    old_weights = (target / "task.weights.h5").read_bytes()
    go = tmp_path / "go"
    os.mkfifo(go)
    child = Child([sys.executable, "-c", OVERWRITER, str(target), str(go)], env=python_env())
    holds_old = []  # at each pause: whether the folder holds the old preset
    try:
        with open(go, "w") as release:
            while True:
                seen = len(holds_old)
                child.wait_for(
                    lambda seen=seen: (
                        "written" in child.stdout or child.stdout.count("change") > seen
                    ),
                    timeout=300,
                    what=f"change {seen + 1}",
                )
                if child.stdout.count("change") == seen:
                    break
                # What a kill now leaves, read as a new process would (which puts back a
                # preset left aside): a copy, so that the writer's folders stay as they are.
                left = tmp_path / f"left_{seen}"
                shutil.copytree(target.parent, left)
                keras_prelu.from_preset(left / target.name)
                holds_old.append(
                    (left / target.name / "task.weights.h5").read_bytes() == old_weights
                )
                release.write("go\n")
                release.flush()
        assert child.finish(timeout=120) == 0, child.stderr[-4000:]
    finally:
        child.kill()
    # The old preset until one change, the new one after it.
    commit = holds_old.count(True)
    assert len(holds_old) >= 5 and holds_old == [True] * commit + [False] * (
        len(holds_old) - commit
    ), child.stdout
    assert (target / "task.weights.h5").read_bytes() != old_weights

    # Killed at the commit: the old preset is left whole, and a next write succeeds.
    shutil.rmtree(target)
    shutil.copytree(preset, target)
    child = Child([sys.executable, "-c", OVERWRITER, str(target), str(go)], env=python_env())
    try:
        with open(go, "w") as release:
            for k in range(1, commit + 1):
                child.wait_for(lambda k=k: child.stdout.count("change") >= k, 300, f"change {k}")
                if k < commit:
                    release.write("go\n")
                    release.flush()
            child.send(signal.SIGKILL)
            child.finish(timeout=60)
    finally:
        child.kill()
    keras_prelu.from_preset(target)
    assert (target / "task.weights.h5").read_bytes() == old_weights
    other = Model14(input_shape=(CROP, CROP, 3), **SMALL)
    keras_prelu.save_preset(other, target, mean=MEAN, overwrite=True)
    keras_prelu.from_preset(target)
