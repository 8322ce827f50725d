import json
import sys

import keras
import numpy as np
import onnxruntime
import pytest
import tensorflow as tf

from keras_prelu import SpatialPyramidPooling
from keras_prelu import data
from keras_prelu import export
from keras_prelu.data import transforms
from keras_prelu.errors import InvalidValueError
from keras_prelu.training import CaffeSGD
from keras_prelu.zoo import Model14
from keras_prelu.zoo import PReLUNetImageClassifier
from tests.helpers.run_folders import write_run_folder

# Runs in the TensorFlow session only: SavedModel and ONNX export go through TensorFlow.
pytestmark = pytest.mark.backend("tensorflow")

MEAN = np.array([30.0, 60.0, 90.0], dtype="float32")
SIZES = [(2, 32, 32, 3), (1, 45, 61, 3)]
# ONNX views are plain bilinear (tf2onnx has no antialiased resizing): equal to the
# evaluation's where the centre window is enlarged or kept, as at these sizes.
ONNX_SIZES = [(2, 32, 32, 3), (1, 24, 30, 3)]


def small_model(input_shape=(32, 32, 3)):
    return Model14(input_shape=input_shape, fc_units=(32, 32), num_classes=10, seed=0)


def expected(model, images, mean=MEAN, scale=32):
    """The model on the evaluation's centre views of the images (keras_prelu.data.transforms):
    shorter side `scale`, the central 32 x 32 crop, minus `mean`."""
    views = [transforms.center_view(tf.constant(image), scale, 32, mean) for image in images]
    return np.asarray(model(np.stack(views)))


def images_of(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape).astype("uint8")


def test_trained_model_keras_round_trip(tmp_path):
    model = small_model()
    model.compile(optimizer=CaffeSGD(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    source = data.get_source(data.DEFAULT_SOURCE)
    model.fit(data.training_dataset(source, 32, seed=0).take(3), verbose=0)
    images = images_of((4, 32, 32, 3)).astype("float32")
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(loaded) is PReLUNetImageClassifier
    np.testing.assert_array_equal(loaded(images), model(images))
    for weight, reloaded in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(weight, reloaded)


def test_saved_model_serves_images_of_any_size(tmp_path):
    model = small_model()
    export.export_saved_model(model, str(tmp_path / "saved"), mean=MEAN)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    signature = served.signatures["serving_default"]
    for shape in SIZES:
        images = images_of(shape)
        truth = expected(model, images)
        np.testing.assert_allclose(
            served.serve(images.astype("float32"))["probabilities"], truth, rtol=1e-5, atol=1e-7
        )
        np.testing.assert_allclose(
            served.serve_uint8(images)["probabilities"], truth, rtol=1e-5, atol=1e-7
        )
        np.testing.assert_allclose(
            signature(images=tf.constant(images, tf.float32))["probabilities"],
            truth,
            rtol=1e-5,
            atol=1e-7,
        )
        np.testing.assert_allclose(truth.sum(axis=1), 1.0, rtol=1e-5)


def test_a_model_that_outputs_logits_serves_their_softmax(tmp_path):
    def logits_model(input_shape):
        return Model14(
            input_shape=input_shape,
            fc_units=(32, 32),
            num_classes=10,
            seed=0,
            classifier_activation=None,
        )

    export.export_saved_model(logits_model((32, 32, 3)), str(tmp_path / "saved"), mean=MEAN)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    images = images_of((3, 40, 36, 3))
    logits = expected(logits_model((32, 32, 3)), images)
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        served.serve(images.astype("float32"))["probabilities"], softmax, rtol=1e-5, atol=1e-7
    )


def test_onnx_agrees_with_keras_at_two_sizes(tmp_path):
    model = small_model()
    path = export.export_onnx(model, str(tmp_path / "model.onnx"), mean=MEAN)
    session = onnxruntime.InferenceSession(path)
    (input_,) = session.get_inputs()
    for shape in ONNX_SIZES:
        images = images_of(shape, seed=1)
        (probabilities,) = session.run(None, {input_.name: images.astype("float32")})
        np.testing.assert_allclose(probabilities, expected(model, images), rtol=1e-5, atol=1e-7)


def test_run_folder_mean_per_pixel_mean_and_keras_round_trip(tmp_path):
    model = small_model()
    per_pixel = np.broadcast_to(MEAN, (32, 32, 3)).copy()
    per_pixel[0, 0, 0] += 32 * 32 * 3.0  # channel 0 averages to MEAN[0] + 3
    run_dir = write_run_folder(tmp_path / "run", model, mean=per_pixel)
    serving = export.serving_model(str(run_dir))
    np.testing.assert_array_equal(serving.get_layer("center_view").mean, per_pixel)
    serving.save(tmp_path / "serving.keras")
    reloaded = keras.saving.load_model(tmp_path / "serving.keras")
    images = images_of((1, 40, 36, 3)).astype("float32")
    np.testing.assert_allclose(reloaded(images), serving(images), rtol=1e-6)
    np.testing.assert_allclose(
        serving(images),
        expected(model, images.astype("uint8"), mean=per_pixel),
        rtol=1e-5,
        atol=1e-7,
    )


def test_exports_of_a_preset_carry_class_names_and_preprocessing(tmp_path):
    import shutil
    import subprocess
    from pathlib import Path

    import onnx

    from keras_prelu import save_preset

    names = [f"class {i}" for i in range(10)]
    preset = save_preset(small_model(), tmp_path / "preset", mean=MEAN, class_names=names)
    described = {
        "class_names": names,
        "mean": MEAN.tolist(),
        "evaluation_scale": 32,  # a bare model's: its input side
        "crop_size": 32,
    }
    saved = export.export_saved_model(preset, str(tmp_path / "saved"))
    metadata = tf.saved_model.load(saved).signatures["metadata"]()
    assert [name.decode() for name in metadata["class_names"].numpy()] == names
    np.testing.assert_array_equal(metadata["mean"], MEAN)
    assert int(metadata["crop_size"]) == 32
    assert "RGB in [0, 255]" in metadata["input"].numpy().decode()
    cli = Path(shutil.which("saved_model_cli", path=str(Path(sys.executable).parent)))
    shown = subprocess.run(
        [cli, "show", "--dir", saved, "--all"], capture_output=True, text=True, check=True
    ).stdout
    for text in (
        "signature_def['metadata']",
        "outputs['class_names']",
        "inputs['images']",
        "outputs['probabilities']",
    ):
        assert text in shown

    path = export.export_onnx(preset, str(tmp_path / "model.onnx"))
    session = onnxruntime.InferenceSession(path)
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    properties = {
        key: json.loads(value) for key, value in session.get_modelmeta().custom_metadata_map.items()
    }
    assert {key: properties[key] for key in described} == described
    onnx.checker.check_model(onnx.load(path))
    images = images_of((2, 28, 36, 3))
    (probabilities,) = session.run(None, {"images": images.astype("float32")})
    np.testing.assert_allclose(probabilities, expected(small_model(), images), rtol=1e-5, atol=1e-7)


def test_a_bare_model_needs_its_mean():
    with pytest.raises(ValueError, match="mean"):
        export.serving_model(small_model())
    with pytest.raises(ValueError, match="mean"):
        export.serving_model(small_model(), mean=np.zeros((2, 3)))
    for mean in ([float("nan")] * 3, [0.0, float("inf"), 0.0]):
        with pytest.raises(ValueError, match="`mean` must be finite numbers"):
            export.serving_model(small_model(), mean=mean)
    assert (
        export.serving_model(small_model(), mean=0).count_params() == small_model().count_params()
    )
    with pytest.raises(ValueError, match="crop_size"):
        export.serving_model(small_model((None, None, 3)), mean=0)


def test_features_by_layer_name_and_include_top_false_share_the_pre_spp_map():
    top = small_model((None, None, 3))
    base = Model14(input_shape=(None, None, 3), include_top=False, seed=0)
    features = keras.Model(
        top.input,
        [
            top.get_layer("act2_4").output,
            top.get_layer("act3_6").output,
            top.get_layer("spp").output,
        ],
    )
    images = images_of((2, 48, 40, 3)).astype("float32") - MEAN
    stage_2, pre_spp, vector = features(images)
    # Same seed, same conv weights: the headless model returns the pre-SPP map.
    np.testing.assert_allclose(base(images), pre_spp, rtol=1e-6)
    assert stage_2.shape[1:] == (7, 5, 128) and pre_spp.shape[1:] == (3, 2, 256)
    # The SPP vector: level 6 of channel 0, bin (0, 0) is the max of map rows/cols [0, 1).
    assert vector.shape[1:] == (256 * (36 + 9 + 4 + 1),)
    np.testing.assert_allclose(vector[:, 0], np.asarray(pre_spp)[:, 0, 0, 0])
    # The 1x1 level (last 256 values): the global max of each channel.
    np.testing.assert_allclose(vector[:, -256:], np.asarray(pre_spp).max(axis=(1, 2)))


def test_fine_tune_a_new_head_on_a_frozen_base():
    base = Model14(input_shape=(32, 32, 3), include_top=False, seed=0)
    base.trainable = False
    frozen = [np.array(w) for w in base.weights]
    inputs = keras.Input((32, 32, 3))
    x = SpatialPyramidPooling((2, 1), name="spp")(base(inputs, training=False))
    outputs = keras.layers.Dense(3, activation="softmax", name="new_head")(x)
    model = keras.Model(inputs, outputs)
    source = data.get_source(data.DEFAULT_SOURCE)

    def three_classes(dataset):
        return dataset.unbatch().filter(lambda image, label: label < 3).batch(32)

    train = three_classes(data.training_dataset(source, 64, seed=0)).cache()
    validation = three_classes(data.evaluation_dataset(source, 64)).cache()
    model.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    before = model.evaluate(validation, return_dict=True, verbose=0)
    model.fit(train, epochs=4, verbose=0)
    after = model.evaluate(validation, return_dict=True, verbose=0)
    assert after["loss"] < before["loss"]
    assert after["accuracy"] > 0.8  # chance: 1/3
    for weight, start in zip(base.weights, frozen):
        np.testing.assert_array_equal(weight, start)


def test_onnx_export_without_the_onnx_extra_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'keras-prelu\[onnx\]'"):
        export.export_onnx(small_model(), tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def file_digests(folder):
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_a_failing_export_leaves_the_previous_saved_model_and_onnx_file(tmp_path, monkeypatch):
    """Written whole or not at all: a write that fails halfway (a full disk, a kill) keeps
    the previous export, and nothing half-written is left beside it."""
    model = small_model()
    saved = export.export_saved_model(model, str(tmp_path / "exports" / "saved"), mean=MEAN)
    onnx_file = export.export_onnx(model, str(tmp_path / "exports" / "model.onnx"), mean=MEAN)
    before = file_digests(tmp_path / "exports")

    def half_written(path):
        with open(path, "wb") as file:
            file.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(
        tf.saved_model, "save", lambda _, folder, **__: half_written(f"{folder}/saved_model.pb")
    )
    with pytest.raises(OSError, match="No space left on device"):
        export.export_saved_model(small_model(), saved, mean=MEAN)
    import onnx

    monkeypatch.setattr(onnx, "save", lambda _, path: half_written(path))
    with pytest.raises(OSError, match="No space left on device"):
        export.export_onnx(small_model(), onnx_file, mean=MEAN)
    assert file_digests(tmp_path / "exports") == before
    images = images_of(SIZES[0])
    loaded = tf.saved_model.load(saved)  # kept: its functions use its variables
    served = loaded.serve(images.astype("float32"))["probabilities"]
    np.testing.assert_allclose(served, expected(model, images), rtol=1e-5, atol=1e-6)


def test_a_saved_model_replaces_a_saved_model_but_no_other_folder(tmp_path):
    saved = tmp_path / "saved"
    export.export_saved_model(small_model(), str(saved), mean=MEAN)
    export.export_saved_model(small_model(), str(saved), mean=0)  # a second export: replaced
    assert tf.saved_model.load(str(saved)).metadata()["mean"].numpy().tolist() == [0, 0, 0]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep")
    with pytest.raises(
        ValueError, match=r"^\S*notes is a folder that holds other files than a SavedModel"
    ):
        export.export_saved_model(small_model(), str(notes), mean=MEAN)
    assert [path.name for path in notes.iterdir()] == ["todo.txt"]


def test_an_output_path_under_a_file_is_refused_before_the_model_is_read(tmp_path):
    (tmp_path / "file").write_text("")
    missing_run = str(tmp_path / "no-run")  # never read: the path is refused first
    with pytest.raises(InvalidValueError, match="`path` must be a folder.*lies under .*file"):
        export.export_saved_model(missing_run, str(tmp_path / "file" / "saved"))
    with pytest.raises(InvalidValueError, match="`path` must be a file.*lies under .*file"):
        export.export_onnx(missing_run, str(tmp_path / "file" / "a" / "model.onnx"))
    with pytest.raises(InvalidValueError, match="`path` must be a file.*which is a folder"):
        export.export_onnx(missing_run, str(tmp_path))
    assert [path.name for path in tmp_path.iterdir()] == ["file"]
