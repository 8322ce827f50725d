"""Export from JAX and PyTorch: the files a TensorFlow export writes, with the predictions of
the model on its own backend. Each backend runs in a fresh process; the tests compare its
files here, on TensorFlow, with onnxruntime and with a TensorFlow export of the same model."""

import json
import re
import sys
import textwrap

import keras
import numpy as np
import onnxruntime
import pytest
import tensorflow as tf

from keras_prelu import export
from keras_prelu.saving.run_folder import RunFolder
from tests.helpers.processes import Child
from tests.helpers.processes import keras_prelu_command
from tests.helpers.processes import python_env

MEAN = [30.0, 60.0, 90.0]
NAMES = [f"class {i}" for i in range(10)]
# Raw images whose centre window is kept or enlarged: there the ONNX export's plain
# bilinear view equals the antialiased one of `predict` (see keras_prelu.export).
SIZES = [(2, 32, 32, 3), (1, 24, 30, 3)]

# In a process of another backend: the predictions of `model` with its preprocessor (the
# centre view minus `mean`) on raw uint8 images of each of `sizes`, saved beside the images.
SAVE_PREDICTIONS = """
def save_predictions(model, mean, sizes, out):
    classifier = export.with_preprocessor(model, mean=mean)
    for i, shape in enumerate(sizes):
        images = np.random.default_rng(i).integers(0, 256, shape).astype("uint8")
        predicted = classifier.predict(images, verbose=0)
        np.save(f"{out}/images_{i}.npy", images)
        np.save(f"{out}/predicted_{i}.npy", keras.ops.convert_to_numpy(predicted))
"""

TRAIN_AND_EXPORT = (
    SAVE_PREDICTIONS
    + """
import json, sys
import keras, numpy as np
import keras_prelu
import keras_prelu.evaluation
from keras_prelu import export
from keras_prelu.zoo import Model14
out, training, mean, names, sizes = sys.argv[1], sys.argv[2], *map(json.loads, sys.argv[3:])
model = Model14(input_shape=(32, 32, 3), fc_units=(16, 16), num_classes=10, seed=0)
rng = np.random.default_rng(0)
initial = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
if training == "fit":
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    images = rng.uniform(0, 255, (16, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, 16)
    model.fit(images - np.asarray(mean, "float32"), labels, batch_size=8, epochs=2, verbose=0)
else:  # weights set as training would move them: off the seed's, the slopes among them
    for w in model.trainable_weights:
        w.assign(initial[w.path] + rng.normal(0, 0.05, w.shape).astype("float32"))
moved = [w.path for w in model.weights
         if not np.array_equal(initial[w.path], keras.ops.convert_to_numpy(w))]
save_predictions(model, mean, sizes, out)
model.save(f"{out}/model.keras")
export.export_saved_model(model, f"{out}/saved", mean=mean, class_names=names)
export.export_onnx(model, f"{out}/model.onnx", mean=mean, class_names=names)
print(json.dumps({"kernels": [w.path for w in model.weights if w.path.endswith("kernel")],
                  "moved": moved}))
"""
)


def run_on(backend, source, *args, cwd, temporary):
    """Runs `source` on `backend` with its temporary files in `temporary`; its stdout and
    stderr."""
    child = Child(
        [sys.executable, "-c", textwrap.dedent(source), *map(str, args)],
        env=python_env(backend, TMPDIR=str(temporary)),
        cwd=cwd,
    )
    assert child.finish(timeout=900) == 0, child.stderr[-4000:]
    return child.stdout, child.stderr


# What TensorFlow itself prints when a process imports it (keras-hub imports it on every
# backend): its C++ start-up lines and absl's Python warnings. Anything else on stderr
# would be the export's.
TENSORFLOW_IMPORT_LINE = re.compile(
    r"^(WARNING: All log messages before absl|[IWE]\d{4} |WARNING:absl:)"
)


# Keras' warning, in the user's own `predict` of a keras-hub task on JAX, that the task's
# preprocessing dataset is not shuffled again; its second line quotes the source.
PREDICT_WARNING = "keras/src/trainers/epoch_iterator.py"


def export_output(stderr):
    """The lines of `stderr` that TensorFlow's import and Keras' `predict` did not print."""
    lines, skip = [], False
    for line in stderr.splitlines():
        if skip or TENSORFLOW_IMPORT_LINE.match(line):
            skip = False
        elif PREDICT_WARNING in line:
            skip = True
        else:
            lines.append(line)
    return lines


def exports_left(temporary):
    """The export's temporary folders left in `temporary` (torch keeps its compiler's there)."""
    return list(temporary.glob("keras_prelu_export_*"))


def saved_model_metadata(served):
    """The `metadata` signature of a loaded SavedModel as the JSON values it was made of."""
    metadata = {}
    for name, tensor in served.signatures["metadata"]().items():
        value = np.asarray(tensor.numpy()).tolist()
        if tensor.dtype == tf.string:
            value = [v.decode() for v in value] if isinstance(value, list) else value.decode()
        metadata[name] = value
    return metadata


def onnx_metadata(session):
    return {
        key: json.loads(value) for key, value in session.get_modelmeta().custom_metadata_map.items()
    }


def assert_serves(folder, index, saved, session, rtol):
    """The SavedModel (float32 and uint8 endpoints) and the ONNX session on images `index`
    give `folder`'s predictions to `rtol`."""
    images = np.load(folder / f"images_{index}.npy")
    predicted = np.load(folder / f"predicted_{index}.npy")
    for probabilities in (
        saved.serve(images.astype("float32"))["probabilities"],
        saved.serve_uint8(images)["probabilities"],
        session.run(["probabilities"], {"images": images.astype("float32")})[0],
    ):
        np.testing.assert_allclose(probabilities, predicted, rtol=rtol, atol=1e-7)


def assert_saved_model_names(saved):
    """Every image endpoint takes `images` and returns `probabilities`."""
    for name in ("serving_default", export.SERVING_ENDPOINT, export.UINT8_ENDPOINT):
        signature = saved.signatures[name]
        assert list(signature.structured_input_signature[1]) == ["images"]
        assert list(signature.structured_outputs) == ["probabilities"]


def assert_onnx_names(session):
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]


# How each backend's model gets its weights: `model.fit`, or set directly on PyTorch, where
# PReLU's backward pass fails for now (`keras.distribution` is None there).
TRAINING = {"jax": "fit", "torch": "weights"}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_model_trained_on_another_backend_exports_its_own_predictions(backend, tmp_path):
    """Trained with `model.fit` on `backend` (weights set directly on PyTorch), a live
    model exports the predictions it makes
    there, at two sizes, with a TensorFlow export's names and metadata, prints nothing and
    leaves no temporary file."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    printed, stderr = run_on(
        backend,
        TRAIN_AND_EXPORT,
        tmp_path,
        TRAINING[backend],
        json.dumps(MEAN),
        json.dumps(NAMES),
        json.dumps(SIZES),
        cwd=tmp_path,
        temporary=temporary,
    )
    assert export_output(stderr) == []  # the TensorFlow process's output is kept from the user
    trained = json.loads(printed)
    assert set(trained["kernels"]) <= set(trained["moved"])  # the weights are not the seed's
    saved = tf.saved_model.load(str(tmp_path / "saved"))
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    for index in range(len(SIZES)):
        # `predict` resizes the centre view with the backend's kernel, the export with
        # TensorFlow's: float32 round-off apart.
        assert_serves(tmp_path, index, saved, session, rtol=1e-4)
    assert_saved_model_names(saved)
    assert_onnx_names(session)
    on_tensorflow = export.serving_metadata(
        keras.saving.load_model(tmp_path / "model.keras"), mean=MEAN, class_names=NAMES
    )
    assert on_tensorflow["class_names"] == NAMES and on_tensorflow["mean"] == MEAN
    assert on_tensorflow["crop_size"] == 32
    assert saved_model_metadata(saved) == on_tensorflow
    # The ONNX file resizes with plain bilinear interpolation, and says so.
    plain = on_tensorflow["input"].replace("bilinear and antialiased", "plain bilinear")
    assert onnx_metadata(session) == dict(on_tensorflow, input=plain)
    assert not exports_left(temporary)


@pytest.fixture(scope="module")
def exported_on_tensorflow(trained_run, tmp_path_factory):
    """The SavedModel and the ONNX file of `trained_run`, exported here on TensorFlow."""
    folder = tmp_path_factory.mktemp("on_tensorflow")
    return {
        "saved_model": export.export_saved_model(trained_run, str(folder / "saved")),
        "onnx": export.export_onnx(trained_run, str(folder / "model.onnx")),
    }


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "format"), [("jax", "saved_model"), ("torch", "onnx")])
def test_the_export_command_on_another_backend_writes_what_tensorflow_does(
    trained_run, exported_on_tensorflow, backend, format, tmp_path
):
    """`keras-prelu export RUN` on `backend` prints its one line and writes the file that
    the TensorFlow backend writes: the same names, metadata and predictions."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    output = tmp_path / ("model.onnx" if format == "onnx" else "saved")
    child = Child(
        [*keras_prelu_command(), "export", str(trained_run), str(output), "--format", format],
        env=python_env(backend, TMPDIR=str(temporary)),
        cwd=tmp_path,
    )
    assert child.finish(timeout=600) == 0, child.stderr[-4000:]
    assert child.stdout == f"Exported {trained_run} ({format}) to {output}\n"
    assert not exports_left(temporary)
    reference = exported_on_tensorflow[format]
    images = [np.random.default_rng(i).uniform(0, 255, shape) for i, shape in enumerate(SIZES)]
    if format == "onnx":
        session, on_tensorflow = map(onnxruntime.InferenceSession, (str(output), reference))
        assert_onnx_names(session)
        metadata = onnx_metadata(session)
        assert metadata == onnx_metadata(on_tensorflow)
        for batch in images:
            feed = {"images": batch.astype("float32")}
            np.testing.assert_array_equal(session.run(None, feed), on_tensorflow.run(None, feed))
    else:
        saved, on_tensorflow = tf.saved_model.load(str(output)), tf.saved_model.load(reference)
        assert_saved_model_names(saved)
        metadata = saved_model_metadata(saved)
        assert metadata == saved_model_metadata(on_tensorflow)
        for batch in images:
            batch = tf.constant(batch, tf.float32)
            np.testing.assert_array_equal(
                saved.serve(batch)["probabilities"], on_tensorflow.serve(batch)["probabilities"]
            )
    np.testing.assert_allclose(
        metadata["mean"], RunFolder(trained_run).read_mean().reshape(-1, 3).mean(0), rtol=1e-6
    )
    assert metadata["evaluation_scale"] == metadata["crop_size"] == 32


IN_PROCESS_FORMATS = """
import json, subprocess, sys
import keras, numpy as np
import keras_prelu
import keras_prelu.evaluation
from keras_prelu import export
from keras_prelu.zoo import Model14
out = sys.argv[1]
model = Model14(input_shape=(32, 32, 3), fc_units=(16, 16), num_classes=10, seed=0)
keras_prelu.save_preset(model, f"{out}/preset", mean=[30.0, 60.0, 90.0], class_names="abcdefghij")
export.serving_model(f"{out}/preset").save(f"{out}/api.keras")
# The command line imports TensorFlow's data pipeline for its other verbs: allowed from here.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_WithoutTensorFlow"]
started, run = [], subprocess.run  # the processes these exports start (none)
subprocess.run = lambda *args, **kwargs: started.append(args) or run(*args, **kwargs)
from keras_prelu import cli
cli.main(["export", f"{out}/preset", f"{out}/serving.keras", "--format", "keras"])
cli.main(["export", f"{out}/preset", f"{out}/copy", "--format", "preset"])
images = np.random.default_rng(0).uniform(0, 255, (2, 40, 36, 3)).astype("float32")
served = [keras.saving.load_model(f"{out}/{name}.keras")(images) for name in ("api", "serving")]
copy = keras_prelu.from_preset(f"{out}/copy")
truth = export.with_preprocessor(model, mean=[30.0, 60.0, 90.0]).predict(images, verbose=0)
metadata = keras_prelu.load_preset_metadata(f"{out}/copy")
print(json.dumps({
    "difference": max(float(np.abs(keras.ops.convert_to_numpy(s) - truth).max()) for s in served),
    "class_names": list(metadata.class_names),
    "mean": np.asarray(metadata.mean).tolist(),
    "weights": all(np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
                   for a, b in zip(copy.weights, model.weights)),
    "processes": len(started),
}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_keras_and_preset_exports_are_written_in_the_process(backend, tmp_path):
    """A `.keras` serving model is written in the process, and `keras-prelu export
    --format keras` and `--format preset` start no process: the `.keras` files serve the
    model's predictions on raw images, the preset holds its weights, class names and mean."""
    printed, _ = run_on(backend, IN_PROCESS_FORMATS, tmp_path, cwd=tmp_path, temporary=tmp_path)
    *exported, result = printed.splitlines()
    assert exported == [
        f"Exported {tmp_path}/preset (keras) to {tmp_path}/serving.keras",
        f"Exported {tmp_path}/preset (preset) to {tmp_path}/copy",
    ]
    result = json.loads(result)
    assert result["difference"] < 1e-5 and result["weights"] and result["processes"] == 0
    assert result["class_names"] == list("abcdefghij") and result["mean"] == MEAN


ERRORS = """
import json, subprocess, sys
import keras
import keras_prelu
from keras_prelu import export
from keras_prelu.zoo import Model14

@keras.saving.register_keras_serializable(package="mine")
class Doubling(keras.layers.Layer):
    def call(self, x):
        return 2 * x

out = sys.argv[1]
model = Model14(input_shape=(32, 32, 3), fc_units=(16, 16), num_classes=10, seed=0)
inputs = keras.Input((None, None, 3))
pooled = keras.layers.GlobalMaxPooling2D()(Doubling()(inputs))
own = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(pooled), name="own")
started = []
run = subprocess.run
subprocess.run = lambda *args, **kwargs: started.append(args) or run(*args, **kwargs)

def error_of(export_to, *args, **kwargs):
    before = len(started)
    try:
        export_to(*args, **kwargs)
    except Exception as error:
        return {"type": type(error).__name__, "message": str(error),
                "processes": len(started) - before}

errors = {
    "no mean": error_of(export.export_saved_model, model, f"{out}/a"),
    "class names": error_of(export.export_onnx, model, f"{out}/b.onnx", mean=0,
                            class_names=["one"]),
    "own classes": error_of(export.export_saved_model, own, f"{out}/c", mean=0),
    "no such run": error_of(export.export_onnx, f"{out}/missing", f"{out}/d.onnx"),
}
open(f"{out}/file", "w").close()
errors["under a file"] = error_of(export.export_saved_model, model, f"{out}/file/e", mean=0)
errors["fails there"] = error_of(export.export_onnx, model, f"{out}/e.onnx", mean=0, opset=99)
export._EXPORT_TIMEOUT_S = 0.5  # shorter than a TensorFlow process's start
errors["timeout"] = error_of(export.export_saved_model, model, f"{out}/f", mean=0)
print(json.dumps(errors))
"""


@pytest.mark.slow
def test_errors_on_another_backend_are_raised_as_on_tensorflow(tmp_path):
    """Bad arguments, and a model of classes the TensorFlow process cannot import, are
    refused before that process starts, with the TensorFlow backend's messages; an error in
    that process comes back as one line, and a process that runs past its time is stopped
    with a clear error; nothing is written and no temporary file is left."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    printed, stderr = run_on("jax", ERRORS, tmp_path, cwd=tmp_path, temporary=temporary)
    errors = json.loads(printed)
    assert export_output(stderr) == []
    from keras_prelu.zoo import Model14

    model = Model14(input_shape=(32, 32, 3), fc_units=(16, 16), num_classes=10, seed=0)
    for case, call in (
        ("no mean", lambda: export.export_saved_model(model, str(tmp_path / "a"))),
        (
            "class names",
            lambda: export.export_onnx(model, str(tmp_path / "b"), mean=0, class_names=["one"]),
        ),
    ):
        with pytest.raises(ValueError) as on_tensorflow:
            call()
        assert errors[case]["type"] == "InvalidValueError"  # keras-prelu's ValueError
        assert errors[case]["message"] == str(on_tensorflow.value)
    assert errors["own classes"]["type"] == "InvalidValueError"
    assert "Doubling" in errors["own classes"]["message"]
    assert "\n" not in errors["own classes"]["message"]
    assert errors["no such run"]["type"] == "FileNotFoundError"
    assert errors["under a file"]["type"] == "InvalidValueError"
    assert errors["under a file"]["message"].endswith(
        f"which lies under {tmp_path}/file, which is a file"
    )
    # An error of the TensorFlow process (tf2onnx's, an opset it does not know) comes back
    # as one line, as the same built-in class.
    assert errors["fails there"]["type"] == "ValueError"
    assert "Opset 99" in errors["fails there"]["message"]
    assert "\n" not in errors["fails there"]["message"]
    assert errors["timeout"]["type"] == "TimeoutError"
    assert "did not finish in 0.5 s" in errors["timeout"]["message"]
    assert [errors[case]["processes"] for case in errors] == [0, 0, 0, 0, 0, 1, 1]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file", "tmp"]
    assert list(temporary.iterdir()) == []
