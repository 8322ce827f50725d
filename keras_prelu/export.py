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
"""

import keras
import numpy as np

from keras_prelu.evaluation.trained import ANY_SIZE
from keras_prelu.evaluation.trained import any_size
from keras_prelu.evaluation.trained import load_trained

SERVING_ENDPOINT = "serve"
UINT8_ENDPOINT = "serve_uint8"
OUTPUT_NAME = "probabilities"


def serving_model(model, *, mean=None):
    """`model` behind its mean subtraction, for images of any size.

    Args:
        model: a model, a `.keras` file or a run folder of
            `keras_prelu.training.fit` (whose `mean.json` is the default `mean`).
        mean: the mean the training subtracted, `(3,)` or `(crop, crop, 3)` in
            [0, 255] units (a per-pixel mean is averaged per channel), or 0 for
            none. Required unless `model` is a run folder.

    Returns:
        A `keras.Model` from RGB images in [0, 255] to the model's outputs:
        `Rescaling(offset=-mean)` named "subtract_mean", then the model (any
        size). It saves and loads as a `.keras` file.
    """
    trained = load_trained(model)
    if mean is None:
        mean = trained.mean
    if mean is None:
        raise ValueError(
            "`mean` is needed for a model without a run folder: the mean its training "
            "subtracted, e.g. keras_prelu.data.IMAGENET_RGB_MEAN, or 0 for none."
        )
    mean = np.asarray(mean, dtype=np.float32)
    if mean.ndim == 3 and mean.shape[-1] == 3:
        mean = mean.reshape(-1, 3).mean(axis=0)
    if mean.shape not in ((), (3,)):
        raise ValueError(
            f"`mean` must be a scalar, (3,) or (crop, crop, 3). Received shape {mean.shape}."
        )
    if not np.isfinite(mean).all():
        raise ValueError(f"`mean` must be finite numbers. Received: mean={mean.tolist()}")
    network = any_size(trained.model)
    images = keras.Input(ANY_SIZE, name="image")
    centred = keras.layers.Rescaling(1.0, offset=(-mean).tolist(), name="subtract_mean")(images)
    return keras.Model(images, network(centred), name=f"{trained.name}_serving")


def export_saved_model(model, path, *, mean=None):
    """Writes a TF SavedModel of `serving_model(model, mean=mean)` to `path`.

    Endpoints (also the signatures, `serve` the default one, "serving_default"):

    - `serve(images)`: float32 `(batch, height, width, 3)`, RGB in [0, 255];
    - `serve_uint8(images)`: the same as uint8;

    both return `{"probabilities": (batch, classes)}`. Reload it without Keras
    or this package: `tf.saved_model.load(path).serve(images)`.

    Returns:
        `path`.
    """
    import tensorflow as tf

    served = serving_model(model, mean=mean)
    archive = keras.export.ExportArchive()
    archive.track(served)

    def serve(images):
        return {OUTPUT_NAME: served(images, training=False)}

    def serve_uint8(images):
        return serve(tf.cast(images, tf.float32))

    for name, fn, dtype in (
        (SERVING_ENDPOINT, serve, tf.float32),
        (UINT8_ENDPOINT, serve_uint8, tf.uint8),
    ):
        archive.add_endpoint(
            name, fn, input_signature=[tf.TensorSpec([None, None, None, 3], dtype, name="images")]
        )
    archive.write_out(path, verbose=False)
    return path


def export_onnx(model, path, *, mean=None, opset=None):
    """Writes `serving_model(model, mean=mean)` as an ONNX file at `path`.

    One input, float32 `(batch, height, width, 3)` RGB in [0, 255] with every
    dimension but the channels dynamic; one output, the probabilities. Needs the
    `onnx` extra (`tf2onnx`, `onnx`); check it with `onnxruntime`.

    Returns:
        `path`.
    """
    served = serving_model(model, mean=mean)
    served.export(
        str(path),
        format="onnx",
        input_signature=[keras.InputSpec(shape=(None,) + ANY_SIZE, dtype="float32")],
        opset_version=opset,
        verbose=False,
    )
    return path
