"""Taking a trained model elsewhere: a serving model, TF SavedModel and ONNX.

```python
import numpy as np
import tensorflow as tf

from keras_prelu import export

export.export_saved_model("runs/model_14-digits", "exported/model_14")
served = tf.saved_model.load("exported/model_14")
images = np.zeros((2, 37, 45, 3), "float32")  # RGB in [0, 255], any size
probabilities = served.serve(images)["probabilities"]  # (2, classes)

export.export_onnx("runs/model_14-digits", "exported/model_14.onnx")  # needs tf2onnx
```

What the exported model computes, for a batch `(batch, height, width, 3)` of raw RGB
pixels in [0, 255] (float32, or uint8 with `serve_uint8`) of any size: the run's centre
view (`PReLUNetImageConverter`: the shorter side resized to the evaluation scale, the
central crop, bilinear and antialiased, as `keras_prelu.evaluation` tests), minus the
run's mean, then the model; it returns the class probabilities `(batch, classes)`, the
same as the classifier's `predict` with its preprocessor (`with_preprocessor`). The ONNX
file resizes with plain bilinear interpolation (tf2onnx has no antialiased resizing):
the same wherever the window is enlarged or kept.

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

from keras_prelu._version import __version__
from keras_prelu.errors import InvalidValueError
from keras_prelu.errors import MissingDependencyError
from keras_prelu.evaluation.trained import load_trained
from keras_prelu.evaluation.trained import with_probabilities
from keras_prelu.saving.atomic import check_writable_file
from keras_prelu.saving.atomic import check_writable_folder
from keras_prelu.saving.atomic import write_file
from keras_prelu.saving.atomic import write_folder
from keras_prelu.saving.presets import PresetMetadata
from keras_prelu.saving.presets import write_preset
from keras_prelu.zoo import ANY_SIZE
from keras_prelu.zoo import PReLUNetImageClassifier
from keras_prelu.zoo import PReLUNetImageClassifierPreprocessor
from keras_prelu.zoo import PReLUNetImageConverter

__all__ = [
    "INPUT_NAME",
    "METADATA_ENDPOINT",
    "OUTPUT_NAME",
    "SERVING_ENDPOINT",
    "UINT8_ENDPOINT",
    "export_onnx",
    "export_saved_model",
    "save_preset",
    "serving_metadata",
    "serving_model",
    "with_preprocessor",
]

SERVING_ENDPOINT = "serve"
UINT8_ENDPOINT = "serve_uint8"
METADATA_ENDPOINT = "metadata"
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"


def save_preset(
    model,
    preset,
    *,
    class_names=None,
    mean=None,
    evaluation_scale=None,
    crop_size=None,
    overwrite=False,
):
    """Writes `model` with its preprocessing as a keras-hub preset folder `preset`.

    `keras_hub.models.ImageClassifier.from_preset(preset)` loads it after `import
    keras_prelu` (see `keras_prelu.saving.presets` for the files).

    Args:
        model: a run folder of `keras_prelu.training.fit` (its final model, class
            names, mean, scales, recipe and results), a preset folder, a `.keras`
            file or a `PReLUNetImageClassifier`.
        preset: the folder to write; it must not exist unless `overwrite`.
        class_names: the class names, instead of the run's.
        mean: the mean the training subtracted, instead of the run's
            (a number, `(3,)` or `(crop, crop, 3)`, pixels in [0, 255]).
        evaluation_scale: the centre view's shorter side, instead of the run's
            (default: the crop size).
        crop_size: the centre view's crop, instead of the run's (default: the
            model's input side).
        overwrite: whether to replace an existing preset folder (whole: a kill
            leaves the old preset or the new one).

    Returns:
        The preset folder, as a `Path`.
    """
    trained = load_trained(model)
    classifier = with_preprocessor(
        trained, mean=mean, evaluation_scale=evaluation_scale, crop_size=crop_size
    )
    converter = classifier.preprocessor.image_converter
    metadata = PresetMetadata(
        class_names=_class_names(trained, class_names, classifier.num_classes) or None,
        mean=converter.mean,
        evaluation_scale=converter.evaluation_scale,
        crop_size=converter.crop_size,
        scale_range=trained.scale_range,
        flip=trained.flip,
        data=trained.data,
        recipe=trained.recipe,
        results=trained.results,
        keras_prelu_version=__version__,
    )
    return write_preset(classifier, preset, metadata, overwrite=overwrite)


def with_preprocessor(model, *, mean=None, evaluation_scale=None, crop_size=None):
    """A copy of a zoo classifier with the preprocessor of its run attached.

    The preprocessor (`PReLUNetImageClassifierPreprocessor`) takes raw RGB images
    in [0, 255] of any size to the run's centre view minus its mean, so that
    `predict` on raw images gives what `keras_prelu.evaluation.evaluate` computes
    with `views="center"`. The model given keeps no preprocessor: training feeds
    it views that are already centred.

    Args:
        model: as `save_preset`'s.
        mean: the mean, instead of the run's (see `save_preset`).
        evaluation_scale: the centre view's shorter side, instead of the run's.
        crop_size: the centre view's crop, instead of the run's.
    """
    trained = load_trained(model)
    network = trained.model
    if not isinstance(network, PReLUNetImageClassifier):
        raise InvalidValueError(
            "Argument `model` must be a zoo classifier (keras_prelu.zoo.ModelA(...) and the "
            "others, include_top=True) or its run: a preset is a keras-hub ImageClassifier. "
            f"Received: a {type(network).__name__}"
        )
    converter = _center_view(trained, mean, evaluation_scale, crop_size)
    config = network.get_config()
    config["preprocessor"] = PReLUNetImageClassifierPreprocessor(converter)
    config["compile"] = True  # keras-hub's tasks come compiled with their defaults
    copy = type(network).from_config(config)
    copy.set_weights(network.get_weights())
    return copy


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
    _check_output(format, path)
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Whole or not at all: a kill or a full disk leaves the previous export or the new one.
    write_folder(path, lambda folder: archive.write_out(str(folder), verbose=False), overwrite=True)


def _write_onnx(trained, path, mean, class_names, opset=None):
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(
            "ONNX export needs tf2onnx, onnx and onnxruntime: pip install 'keras-prelu[onnx]'."
        ) from None

    # tf2onnx has no antialiased resizing (ScaleAndTranslate): the ONNX view is plain
    # bilinear, equal to predict's wherever the window is not shrunk.
    served, metadata = _serving(trained, mean, class_names, antialias=False)

    def write(temporary):
        served.export(
            str(temporary),
            format="onnx",
            input_signature=[
                keras.InputSpec(shape=(None,) + ANY_SIZE, dtype="float32", name=INPUT_NAME)
            ],
            opset_version=opset,
            verbose=False,
        )
        exported = onnx.load(str(temporary))
        _rename_onnx_tensor(exported.graph, exported.graph.input[0].name, INPUT_NAME)
        _rename_onnx_tensor(exported.graph, exported.graph.output[0].name, OUTPUT_NAME)
        del exported.metadata_props[:]
        for name, value in metadata.items():
            exported.metadata_props.add(key=name, value=json.dumps(value))
        onnx.save(exported, str(temporary))

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_file(path, write)  # whole or not at all, as the SavedModel


def _check_output(format, path):
    """Refuses an output `path` that cannot be written, before any work is done.

    A SavedModel is a folder: a new one, an empty one or a SavedModel to replace. An
    ONNX model is a file. Missing folders above either are created.
    """
    path = Path(path)
    if format == "onnx":
        check_writable_file(path, "path", create_folder=True)
        return
    check_writable_folder(path, "path")
    if path.is_dir() and any(path.iterdir()) and not (path / "saved_model.pb").is_file():
        raise InvalidValueError(
            f"{path} is a folder that holds other files than a SavedModel: choose a new or "
            "empty folder, or a SavedModel to replace."
        )


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
    mean = _known_mean(trained, mean)  # bad values are refused here, before the process
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


def _known_mean(trained, mean):
    """`mean` if given, else the run's or preset's: float32 `(3,)` or `(crop, crop, 3)`."""
    if mean is None:
        mean = trained.mean
    if mean is None:
        raise InvalidValueError(
            "Argument `mean` is needed for a model without a run or preset folder: the mean "
            "its training subtracted, e.g. keras_prelu.data.IMAGENET_RGB_MEAN, or 0 for none. "
            "Received: mean=None"
        )
    mean = np.asarray(mean, dtype=np.float32)
    if mean.ndim == 0:
        mean = np.full(3, mean, np.float32)
    if not (mean.shape == (3,) or (mean.ndim == 3 and mean.shape[-1] == 3)):
        raise InvalidValueError(
            "Argument `mean` must be a scalar, (3,) or (crop, crop, 3). "
            f"Received: mean of shape {mean.shape}"
        )
    if not np.isfinite(mean).all():
        non_finite = int((~np.isfinite(mean)).sum())
        raise InvalidValueError(
            "Argument `mean` must be finite numbers. Received: mean with "
            f"{non_finite} NaN or infinite of {mean.size} values"
        )
    return mean


def _class_names(trained, class_names, classes):
    """`class_names`, else the run's, as a list of strings (empty when unknown)."""
    names = (trained.class_names or ()) if class_names is None else class_names
    if isinstance(names, str):
        names = list(names) if class_names is not None else [names]
    names = [str(name) for name in names]
    if names and len(names) != classes:
        raise InvalidValueError(
            f"Argument `class_names` must name the model's {classes} classes. "
            f"Received: {len(names)} names"
        )
    return names


def _center_view(trained, mean, evaluation_scale=None, crop_size=None, antialias=True):
    """The `PReLUNetImageConverter` of a `Trained`: its run's centre view minus its mean."""
    crop_size = crop_size or trained.crop_size
    if crop_size is None:
        raise InvalidValueError(
            "Argument `crop_size` is needed for a model of any input size without a run: the "
            "side of the centre crop it was tested on. Received: crop_size=None"
        )
    mean = _known_mean(trained, mean)
    if mean.ndim == 3 and mean.shape[:2] != (crop_size, crop_size):
        mean = mean.reshape(-1, 3).mean(axis=0)
    return PReLUNetImageConverter(
        evaluation_scale=evaluation_scale or trained.scale or crop_size,
        crop_size=crop_size,
        mean=mean,
        antialias=antialias,
        name="center_view",
    )


def _serving(trained, mean, class_names=None, antialias=True):
    """`(serving model, metadata)` of a `Trained`: raw images in, probabilities out."""
    converter = _center_view(trained, mean, antialias=antialias)
    resizing = "bilinear and antialiased" if antialias else "plain bilinear"
    classes = int(trained.model.output.shape[-1])
    class_names = _class_names(trained, class_names, classes)
    images = keras.Input(ANY_SIZE, name="image")
    scores = with_probabilities(trained.model)(converter(images))
    served = keras.Model(images, scores, name=f"{trained.name}_serving")
    metadata = {
        "class_names": class_names,
        "mean": converter.mean.reshape(-1, 3).mean(axis=0).astype(float).tolist(),
        "evaluation_scale": int(converter.evaluation_scale),
        "crop_size": int(converter.crop_size),
        "input": f"{INPUT_NAME}: (batch, height, width, 3) RGB in [0, 255], any size; the "
        "model takes the centre view itself (shorter side to evaluation_scale, central "
        f"crop_size crop, {resizing}) and subtracts mean",
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
