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
"""

import json

import keras
import numpy as np

from keras_prelu.evaluation.trained import ANY_SIZE
from keras_prelu.evaluation.trained import any_size
from keras_prelu.evaluation.trained import load_trained

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
    prints the metadata.

    Returns:
        `path`.
    """
    import tensorflow as tf

    served, metadata = _serving(load_trained(model), mean, class_names)
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
    return path


def export_onnx(model, path, *, mean=None, class_names=None, opset=None):
    """Writes `serving_model(model, mean=mean)` as an ONNX file at `path`.

    `class_names` name the outputs (default: the run's or the preset's).

    One input `images`, float32 `(batch, height, width, 3)` RGB in [0, 255]
    with every dimension but the channels dynamic; one output `probabilities`.
    `serving_metadata(model)` is stored in the model's metadata properties
    (JSON values; `onnxruntime.InferenceSession(path).get_modelmeta()
    .custom_metadata_map`). Needs the `onnx` extra (`tf2onnx`, `onnx`); check it
    with `onnxruntime`.

    Returns:
        `path`.
    """
    import onnx

    served, metadata = _serving(load_trained(model), mean, class_names)
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
    return path


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


def _serving(trained, mean, class_names=None):
    """`(serving model, metadata)` of a `Trained` with the mean it subtracts."""
    from keras_prelu import __version__

    if mean is None:
        mean = trained.mean
    if mean is None:
        raise ValueError(
            "Argument `mean` is needed for a model without a run or preset folder: the mean "
            "its training subtracted, e.g. keras_prelu.data.IMAGENET_RGB_MEAN, or 0 for none. "
            "Received: mean=None"
        )
    mean = np.asarray(mean, dtype=np.float32)
    if mean.ndim == 3 and mean.shape[-1] == 3:
        mean = mean.reshape(-1, 3).mean(axis=0)
    if mean.shape not in ((), (3,)):
        raise ValueError(
            "Argument `mean` must be a scalar, (3,) or (crop, crop, 3). "
            f"Received: mean of shape {mean.shape}"
        )
    if not np.isfinite(mean).all():
        raise ValueError(f"Argument `mean` must be finite numbers. Received: mean={mean.tolist()}")
    class_names = list((trained.class_names or ()) if class_names is None else class_names)
    classes = int(trained.model.output.shape[-1])
    if class_names and len(class_names) != classes:
        raise ValueError(
            f"Argument `class_names` must name the model's {classes} classes. "
            f"Received: {len(class_names)} names"
        )
    network = any_size(trained.model)
    images = keras.Input(ANY_SIZE, name="image")
    centred = keras.layers.Rescaling(1.0, offset=(-mean).tolist(), name="subtract_mean")(images)
    served = keras.Model(images, network(centred), name=f"{trained.name}_serving")
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
