"""Taking a trained model elsewhere: a serving model, TF SavedModel and ONNX.

```python
from keras_prelu import export

export.export_saved_model("runs/model_14-digits", "exported/model_14")
served = tf.saved_model.load("exported/model_14")
probabilities = served.serve(images)["probabilities"]  # float32 images, any size

export.export_onnx("runs/model_14-digits", "exported/model_14.onnx")  # needs tf2onnx
```

What the exported model computes, for a batch `(batch, height, width, 3)` of RGB
pixels in [0, 255] (float32, or uint8 with `serve_uint8`): it subtracts the
training run's per-channel mean and returns the class probabilities
`(batch, classes)`. Any height and width work (SPP pools any map into the same
vector), down to the model's smallest input (32 pixels for the zoo models with a
7x7/2 stem). It does not resize or crop: give it the image the way the model was
tested, e.g. resized so that the shorter side is the evaluation scale (256 for
the paper's ImageNet models, 32 for the bundled digits) with bilinear,
antialiased resizing, or a crop of it. A per-pixel mean (`mean="compute"` in
`fit`) is reduced to its per-channel average, as the dense evaluation does.

The exported files describe themselves: the SavedModel and the ONNX file take
an input named `images` and return an output named `probabilities`, and carry
the class names, the mean, the evaluation scale and the crop size (the
SavedModel as its `metadata` signature, the ONNX file as metadata properties),
so that a file received alone can be used correctly.

On every backend the exports are the same files. On TensorFlow they are written
in this process. On JAX and PyTorch, whose Keras cannot export an any-size
SavedModel (Keras' `ExportArchive` needs TensorFlow, or traces JAX with symbolic
sizes), the model and its metadata are written to a temporary preset, rebuilt
from it in a TensorFlow process of this Python and this keras-prelu, and
exported there. That process prints nothing; its error comes back as one line
(Python's `ValueError`, `OSError` and `ImportError` as themselves, others as a
`ChildProcessError`), and one that runs past an hour is stopped (`TimeoutError`).
Keras' own paths were not taken: `jax2tf` traces the any-size input with
symbolic sizes that spatial pyramid pooling's bins cannot be computed from, and
PyTorch has no SavedModel. `serving_model` (and so a `.keras` export) needs no
TensorFlow.
"""

import builtins
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np

from keras_prelu.errors import InvalidValueError
from keras_prelu.errors import MissingDependencyError
from keras_prelu.evaluation.trained import ANY_SIZE
from keras_prelu.evaluation.trained import any_size
from keras_prelu.evaluation.trained import load_trained
from keras_prelu.evaluation.trained import with_probabilities
from keras_prelu.presets import checked_mean
from keras_prelu.presets import save_preset

SERVING_ENDPOINT = "serve"
UINT8_ENDPOINT = "serve_uint8"
METADATA_ENDPOINT = "metadata"
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"


def serving_model(model, *, mean=None):
    """`model` behind its mean subtraction, for images of any size.

    Args:
        model: a model, a `.keras` file, a run folder of
            `keras_prelu.training.fit` or a preset folder (whose mean is the
            default `mean`).
        mean: the mean the training subtracted, `(3,)` or `(crop, crop, 3)` in
            [0, 255] units (a per-pixel mean is averaged per channel), or 0 for
            none. Required unless `model` is a run or preset folder.

    Returns:
        A `keras.Model` from RGB images in [0, 255] to the model's outputs:
        `Rescaling(offset=-mean)` named "subtract_mean", then the model (any
        size). It saves and loads as a `.keras` file.
    """
    return _serving(load_trained(model), mean)[0]


def serving_metadata(model, *, mean=None, class_names=None):
    """What the exported files record about `model`: a dict of JSON values.

    `class_names` (a list: `class_names`, else the run's or preset's, else
    empty), `mean` (the per-channel mean
    subtracted, 3 floats), `evaluation_scale` and `crop_size` (ints, 0 when
    unknown), `input` and `output` (what the tensors hold) and
    `keras_prelu_version`.
    """
    return _serving(load_trained(model), mean, class_names)[1]


def export_saved_model(model, path, *, mean=None, class_names=None):
    """Writes a TF SavedModel of `serving_model(model, mean=mean)` to `path`.

    `class_names` name the outputs (default: the run's or the preset's).

    Endpoints (also the signatures, `serve` the default one, "serving_default"):

    - `serve(images)`: float32 `(batch, height, width, 3)`, RGB in [0, 255];
    - `serve_uint8(images)`: the same as uint8;
    - `metadata()`: `serving_metadata(model)` as constant tensors
      (`class_names`, `mean`, `evaluation_scale`, `crop_size`, ...).

    The image endpoints return `{"probabilities": (batch, classes)}`. Reload it
    without Keras or this package: `tf.saved_model.load(path).serve(images)`;
    `saved_model_cli show --dir path --all` lists the signatures and
    `saved_model_cli run --dir path --tag_set serve --signature_def metadata`
    prints the metadata. On JAX and PyTorch it is written by a TensorFlow
    process (see the module's docstring).

    Returns:
        `path`.
    """
    return _export("saved_model", model, path, mean, class_names)


def export_onnx(model, path, *, mean=None, class_names=None, opset=None):
    """Writes `serving_model(model, mean=mean)` as an ONNX file at `path`.

    `class_names` name the outputs (default: the run's or the preset's).

    One input `images`, float32 `(batch, height, width, 3)` RGB in [0, 255]
    with every dimension but the channels dynamic; one output `probabilities`.
    `serving_metadata(model)` is stored in the model's metadata properties
    (JSON values; `onnxruntime.InferenceSession(path).get_modelmeta()
    .custom_metadata_map`). Needs the `onnx` extra (`tf2onnx`, `onnx`); check it
    with `onnxruntime`. On JAX and PyTorch it is written by a TensorFlow process
    (see the module's docstring).

    Returns:
        `path`.
    """
    return _export("onnx", model, path, mean, class_names, opset=opset)


def _export(format, model, path, mean, class_names, **options):
    """Writes `format` of `model` here on TensorFlow, else in a TensorFlow process."""
    trained = load_trained(model)
    if keras.backend.backend() == "tensorflow":
        _WRITERS[format](trained, path, mean, class_names, **options)
    else:
        _write_in_tensorflow(format, trained, path, mean, class_names, options)
    return path


def _write_saved_model(trained, path, mean, class_names):
    import tensorflow as tf

    served, metadata = _serving(trained, mean, class_names)
    archive = keras.export.ExportArchive()
    archive.track(served)

    def serve(images):
        return {OUTPUT_NAME: served(images, training=False)}

    def serve_uint8(images):
        return serve(tf.cast(images, tf.float32))

    def describe():
        return {
            name: tf.constant(value, dtype=_METADATA_DTYPES[name])
            for name, value in metadata.items()
        }

    for name, fn, dtype in (
        (SERVING_ENDPOINT, serve, tf.float32),
        (UINT8_ENDPOINT, serve_uint8, tf.uint8),
    ):
        archive.add_endpoint(
            name,
            fn,
            input_signature=[tf.TensorSpec([None, None, None, 3], dtype, name=INPUT_NAME)],
        )
    archive.add_endpoint(METADATA_ENDPOINT, describe, input_signature=[])
    archive.write_out(path, verbose=False)


def _write_onnx(trained, path, mean, class_names, opset=None):
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(
            "ONNX export needs tf2onnx, onnx and onnxruntime: pip install 'keras-prelu[onnx]'."
        ) from None

    served, metadata = _serving(trained, mean, class_names)
    served.export(
        str(path),
        format="onnx",
        input_signature=[
            keras.InputSpec(shape=(None,) + ANY_SIZE, dtype="float32", name=INPUT_NAME)
        ],
        opset_version=opset,
        verbose=False,
    )
    exported = onnx.load(str(path))
    _rename_onnx_tensor(exported.graph, exported.graph.input[0].name, INPUT_NAME)
    _rename_onnx_tensor(exported.graph, exported.graph.output[0].name, OUTPUT_NAME)
    del exported.metadata_props[:]
    for name, value in metadata.items():
        exported.metadata_props.add(key=name, value=json.dumps(value))
    onnx.save(exported, str(path))


# The writers of the formats, by name.
_WRITERS = {"saved_model": _write_saved_model, "onnx": _write_onnx}
# The longest a TensorFlow process may take to export before it is stopped.
_EXPORT_TIMEOUT_S = 3600
# The folder holding this keras-prelu, first on the TensorFlow process's import path.
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# The TensorFlow process: `python -c _EXPORTER root format preset path name options`.
_EXPORTER = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from keras_prelu import export; sys.exit(export._export_here(*sys.argv[1:]))"
)
# An error of the TensorFlow process comes back as one line: this prefix, then JSON.
_ERROR_PREFIX = "keras_prelu.export error: "
# The errors of a user's mistake or the environment, raised again as themselves (by their
# built-in class); any other comes back as a ChildProcessError.
_REPORTED_ERRORS = (ValueError, OSError, ImportError)


def _write_in_tensorflow(format, trained, path, mean, class_names, options):
    """Writes `format` of `trained` in a TensorFlow process of this Python and keras-prelu.

    The model and its metadata travel as a preset (backend-neutral files) in a
    temporary folder, removed afterwards; the process runs there (no module of the
    user's working directory shadows Keras), its output is kept from the user, and
    its error comes back as one line: the same exception for Python's own of
    `_REPORTED_ERRORS` (`ValueError`, `FileNotFoundError`...), else a
    `ChildProcessError` naming it;
    a process past `_EXPORT_TIMEOUT_S` is stopped with a `TimeoutError`.
    """
    mean = _subtracted_mean(trained, mean)  # bad values are refused here, before the process
    foreign = sorted(_foreign_classes(keras.saving.serialize_keras_object(trained.model)))
    if foreign:
        raise InvalidValueError(
            f"Argument `model` holds objects of its own ({', '.join(foreign)}), which the "
            f"TensorFlow process that exports for the {keras.backend.backend()} backend cannot "
            "import (it imports Keras and keras_prelu only): export it on the TensorFlow "
            f"backend, with their module imported. Received: model={trained.name!r}"
        )
    environment = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    environment["CUDA_VISIBLE_DEVICES"] = ""  # exporting needs no GPU; this process holds it
    with tempfile.TemporaryDirectory(prefix="keras_prelu_export_") as folder:
        preset = save_preset(trained, Path(folder) / "preset", mean=mean, class_names=class_names)
        command = [sys.executable, "-c", _EXPORTER, str(_PACKAGE_ROOT), format, str(preset)]
        command += [os.path.abspath(path), trained.name, json.dumps(options)]
        try:
            finished = subprocess.run(
                command,
                env=environment,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=_EXPORT_TIMEOUT_S,
                cwd=folder,
            )
        except subprocess.TimeoutExpired:
            raise TimeoutError(
                f"The TensorFlow process exporting {trained.name!r} to {path} did not finish "
                f"in {_EXPORT_TIMEOUT_S} s and was stopped."
            ) from None
    if finished.returncode == 0:
        return
    failed = f"The TensorFlow process exporting {trained.name!r} to {path} failed"
    for line in reversed(finished.stderr.splitlines()):
        if line.startswith(_ERROR_PREFIX):
            error = json.loads(line[len(_ERROR_PREFIX) :])
            kind = getattr(builtins, error["type"], None)
            if isinstance(kind, type) and issubclass(kind, _REPORTED_ERRORS):
                try:
                    rebuilt = kind(error["message"])
                except TypeError:  # a class with other arguments (UnicodeDecodeError)
                    rebuilt = None
                if rebuilt is not None:
                    raise rebuilt
            message = " ".join(error["message"].split())
            raise ChildProcessError(f"{failed}: {error['type']}: {message}")
    last_line = next((line for line in reversed(finished.stderr.splitlines()) if line), "")
    raise ChildProcessError(f"{failed} with exit code {finished.returncode}. {last_line}".rstrip())


def _foreign_classes(config):
    """The names of the objects in a serialized Keras config that come from neither Keras
    nor a `keras*` package (keras_prelu, keras_hub...): a class or function of the user's."""
    if isinstance(config, list):
        return set().union(*map(_foreign_classes, config))
    if not isinstance(config, dict):
        return set()
    found = set().union(*map(_foreign_classes, config.values()))
    if "module" in config and not (config["module"] or "").startswith("keras"):
        is_function = config["class_name"] == "function"
        found.add(str(config["config"]) if is_function else config["class_name"])
    return found


def _export_here(format, preset, path, name, options):
    """The TensorFlow process of `_write_in_tensorflow`: writes `format` of the preset as
    the model `name`; reports an error as one line; the exit code."""
    try:
        trained = dataclasses.replace(load_trained(preset), name=name)
        _WRITERS[format](trained, path, None, None, **json.loads(options))
    except Exception as error:
        report = json.dumps({"type": type(error).__name__, "message": str(error)})
        sys.stderr.write(_ERROR_PREFIX + report + "\n")
        return 1
    return 0


# The dtype of each metadata value in the SavedModel's `metadata` signature.
_METADATA_DTYPES = {
    "class_names": "string",
    "mean": "float32",
    "evaluation_scale": "int32",
    "crop_size": "int32",
    "input": "string",
    "output": "string",
    "keras_prelu_version": "string",
}


def _subtracted_mean(trained, mean):
    """The per-channel mean `(3,)` the serving model of `trained` subtracts.

    `mean` if given, else the run's or preset's; a per-pixel mean is averaged per channel.
    """
    if mean is None:
        mean = trained.mean
    if mean is None:
        raise InvalidValueError(
            "Argument `mean` is needed for a model without a run or preset folder: the mean "
            "its training subtracted, e.g. keras_prelu.data.IMAGENET_RGB_MEAN, or 0 for none. "
            "Received: mean=None"
        )
    mean = checked_mean(mean)
    return mean.reshape(-1, 3).mean(axis=0) if mean.ndim == 3 else mean


def _serving(trained, mean, class_names=None):
    """`(serving model, metadata)` of a `Trained` with the mean it subtracts."""
    from keras_prelu import __version__

    mean = _subtracted_mean(trained, mean)
    class_names = list((trained.class_names or ()) if class_names is None else class_names)
    classes = int(trained.model.output.shape[-1])
    if class_names and len(class_names) != classes:
        raise InvalidValueError(
            f"Argument `class_names` must name the model's {classes} classes. "
            f"Received: {len(class_names)} names"
        )
    network = any_size(trained.model)
    images = keras.Input(ANY_SIZE, name="image")
    centred = keras.layers.Rescaling(1.0, offset=(-mean).tolist(), name="subtract_mean")(images)
    scores = with_probabilities(network)(centred)
    served = keras.Model(images, scores, name=f"{trained.name}_serving")
    metadata = {
        "class_names": [str(name) for name in class_names],
        "mean": np.broadcast_to(mean, (3,)).astype(float).tolist(),
        "evaluation_scale": int(trained.scale or 0),
        "crop_size": int(trained.crop_size or 0),
        "input": f"{INPUT_NAME}: float32 (batch, height, width, 3), RGB in [0, 255], resized "
        "so that the shorter side is evaluation_scale (bilinear, antialiased)",
        "output": f"{OUTPUT_NAME}: float32 (batch, classes), in the order of class_names",
        "keras_prelu_version": __version__,
    }
    return served, metadata


def _rename_onnx_tensor(graph, old, new):
    """Renames the tensor `old` of an ONNX graph to `new` wherever it appears."""
    for value in list(graph.input) + list(graph.output):
        if value.name == old:
            value.name = new
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
