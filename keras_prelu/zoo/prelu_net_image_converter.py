"""`PReLUNetImageConverter`: raw images to the paper's centre view, minus the mean."""

import keras
import numpy as np
from keras.src.utils import backend_utils
from keras.src.utils.backend_utils import in_grain_data_pipeline
from keras_hub.layers import ImageConverter
from keras_hub.src.utils.tensor_utils import convert_preprocessing_outputs_grain

from keras_prelu.errors import InvalidValueError
from keras_prelu.zoo.prelu_net_backbone import PReLUNetBackbone

__all__ = ["PReLUNetImageConverter"]


@keras.saving.register_keras_serializable(package="keras_prelu")
class PReLUNetImageConverter(ImageConverter):
    """RGB images in [0, 255], uint8 or float, of any size, to what the model was tested on.

    The single-view test of the paper (Sec. 3): the image resized so that its
    shorter side is `evaluation_scale`, its central `crop_size x crop_size`
    crop, minus the training mean in [0, 255] units. The crop is taken in the
    original pixels (the window that becomes the crop after resizing) and
    resized once, bilinear and antialiased, as `keras_prelu.evaluation`'s
    centre view is; a batch shares one window, so its images share a size.
    Unlike keras-hub's default converter, which resizes the largest central
    window, the window keeps the margin of the evaluation scale.

    Inside `tf.data` (where keras-hub tasks preprocess) it computes with
    TensorFlow's Keras backend, elsewhere with the active one, as Keras'
    preprocessing layers do.

    Args:
        evaluation_scale: the shorter side the image is resized to.
        crop_size: the side of the central crop (the model's input).
        mean: the mean subtracted: a number, 3 numbers (RGB) or
            `(crop_size, crop_size, 3)` numbers.
        antialias: whether a shrinking resize is antialiased (as the evaluation's
            is); False gives plain bilinear, which ONNX exports can express.
    """

    backbone_cls = PReLUNetBackbone

    def __init__(self, evaluation_scale=None, crop_size=None, mean=0.0, antialias=True, **kwargs):
        for name in ("image_size", "scale", "offset", "crop_to_aspect_ratio"):
            kwargs.pop(name, None)  # keras-hub's resizing; this class makes its own view
        for name, value in (("evaluation_scale", evaluation_scale), ("crop_size", crop_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidValueError(
                    f"Argument `{name}` must be a positive integer. Received: {name}={value!r}"
                )
        mean = np.asarray(mean, dtype="float32")
        if mean.ndim == 0:
            mean = np.full(3, mean, "float32")
        if mean.shape not in ((3,), (crop_size, crop_size, 3)) or not np.isfinite(mean).all():
            raise InvalidValueError(
                f"Argument `mean` must be finite numbers of shape (3,) or ({crop_size}, "
                f"{crop_size}, 3). Received: mean of shape {mean.shape}"
            )
        super().__init__(image_size=(crop_size, crop_size), antialias=antialias, **kwargs)
        self.evaluation_scale = evaluation_scale
        self.crop_size = crop_size
        self.mean = mean
        self.backend = backend_utils.DynamicBackend()

    def call(self, inputs):
        if backend_utils.in_tf_graph() or type(inputs).__module__.startswith("tensorflow"):
            self.backend.set_backend("tensorflow")
        try:
            view = self._center_view(inputs)
        finally:
            self.backend.reset()
        if in_grain_data_pipeline():
            # Grain pickles its elements across worker processes: NumPy, not tensors.
            return convert_preprocessing_outputs_grain(view)
        return view

    def compute_output_shape(self, input_shape):
        # The view's size is known without running it (a Keras model built on JAX's
        # tracer cannot slice by sizes it only knows at run time).
        return (*input_shape[:-3], self.crop_size, self.crop_size, input_shape[-1])

    def _center_view(self, images):
        ops = self.backend
        images = ops.cast(ops.convert_to_tensor(images), "float32")
        unbatched = len(images.shape) == 3
        if unbatched:
            images = ops.numpy.expand_dims(images, 0)
        if None in images.shape[1:3]:  # a TensorFlow graph traced for any size
            shape = ops.core.shape(images)
            top, left, side = self._window(shape[1], shape[2], ops.numpy, ops.cast)
        else:  # sizes known when traced: Python integers, which JAX's jit slices by
            top, left, side = map(int, self._window(*images.shape[1:3], np, np.asarray))
        window = images[:, top : top + side, left : left + side, :]
        crop = ops.image.resize(
            window,
            (self.crop_size, self.crop_size),
            interpolation="bilinear",
            antialias=self.antialias,
        )
        crop = crop - ops.convert_to_tensor(self.mean)
        return crop[0] if unbatched else crop

    def _window(self, height, width, numpy, cast):
        """`(top, left, side)` of the central square that becomes the crop once its
        shorter side is the evaluation scale, in float32 as every backend computes it."""
        shorter = numpy.minimum(height, width)
        side = numpy.round(self.crop_size * cast(shorter, "float32") / self.evaluation_scale)
        side = numpy.clip(cast(side, "int32"), 1, shorter)
        return (height - side) // 2, (width - side) // 2, side

    def get_config(self):
        config = super().get_config()
        for name in (
            "image_size",
            "scale",
            "offset",
            "crop_to_aspect_ratio",
            "pad_to_aspect_ratio",
            "interpolation",
            "bounding_box_format",
        ):
            config.pop(name, None)
        config.update(
            {
                "evaluation_scale": self.evaluation_scale,
                "crop_size": self.crop_size,
                "mean": self.mean.tolist(),
            }
        )
        return config
