import functools
import math

import keras
import ml_dtypes
from keras import ops

from keras_prelu.errors import InvalidValueError
from keras_prelu.paper import INITIAL_SLOPE

__all__ = ["CHANNEL_SHARED", "CHANNEL_WISE", "MODES", "PReLU", "prelu", "standardize_data_format"]

CHANNEL_WISE = "channel_wise"
CHANNEL_SHARED = "channel_shared"
MODES = (CHANNEL_WISE, CHANNEL_SHARED)
DATA_FORMATS = ("channels_last", "channels_first")


def standardize_data_format(data_format):
    """Returns `data_format`, or Keras' image data format when it is `None`."""
    if data_format is None:
        return keras.config.image_data_format()
    if data_format not in DATA_FORMATS:
        raise InvalidValueError(
            f"Argument `data_format` must be one of {DATA_FORMATS} or None. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


@functools.cache
def _cpu_only():
    """Whether Keras computes on CPUs only (no GPU or TPU)."""
    if keras.backend.backend() == "torch":
        # `keras.distribution` does not exist on the torch backend.
        import torch

        return not torch.cuda.is_available()
    devices = keras.distribution.list_devices()
    return all(device.lower().startswith("cpu") for device in devices)


def _sum_to_shape(values, shape, as_matmul):
    """Sums `values` over the axes along which `shape` was broadcast.

    With `as_matmul`, the sum over the leading axes is a product with a row of
    ones: XLA on CPU runs that as a matrix-vector product several times faster
    than the column reduction `ops.sum` becomes there. On GPUs the reduction
    fuses with the product that feeds it and is the faster of the two.
    """
    rank = len(values.shape)
    full_shape = (1,) * (rank - len(shape)) + tuple(shape)
    summed_axes = [axis for axis, size in enumerate(full_shape) if size == 1]
    if not summed_axes:
        return values
    if not as_matmul:
        return ops.reshape(ops.sum(values, axis=summed_axes), shape)
    # The leading summed axes, up to the first kept one, go to the product.
    split = next((axis for axis in range(rank) if axis not in summed_axes), rank - 1)
    trailing = ops.shape(values)[split:]
    matrix = ops.reshape(values, (-1, math.prod(trailing)))
    ones = ops.ones((1, ops.shape(matrix)[0]), dtype=values.dtype)
    summed = ops.reshape(ops.matmul(ones, matrix), trailing)
    rest = [axis - split for axis in summed_axes if axis >= split]
    if rest:
        summed = ops.sum(summed, axis=rest)
    return ops.reshape(summed, shape)


@ops.custom_gradient
def prelu(inputs, alpha):
    """PReLU of `inputs` with slopes `alpha` (broadcast against `inputs`).

    `f(y) = y` for `y > 0`, `a * y` for `y <= 0` (Eqn. 1), with the gradients
    of Eqn. 2-3 written out rather than derived by autodiff: `df/dy = 1` for
    `y > 0` and `a` otherwise; `dE/da = sum(dE/df * min(y, 0))` over every
    position that shares the slope (`slope_gradient`). Only `inputs` is kept
    for the backward pass, and no branch of a `where` is differentiated.
    """
    slope = ops.cast(alpha, inputs.dtype)
    # Where the slope is 0, -inf is first raised to the lowest finite value so
    # that the branch gives 0 (the ReLU limit) rather than 0 * -inf = NaN; the
    # floor has the slopes' shape, so this costs one elementwise maximum.
    dtype = keras.backend.standardize_dtype(inputs.dtype)
    lowest = float(ml_dtypes.finfo(dtype).min)
    floor = ops.cast(ops.where(slope == 0, lowest, float("-inf")), dtype)
    outputs = ops.where(inputs > 0, inputs, slope * ops.maximum(inputs, floor))

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        grad_inputs = ops.where(inputs > 0, upstream, slope * upstream)
        return grad_inputs, slope_gradient(upstream, inputs, alpha)

    return outputs, grad


def slope_gradient(upstream, inputs, alpha):
    """`dE/da = sum(dE/df * min(y, 0))` (Eqn. 2), summed in the dtype of `alpha`.

    The sum runs over every position that shares a slope, in the slopes'
    float32 under mixed precision. Each product is formed where it cannot
    overflow: float16 ends at 65504, so a loss-scaled `dE/df` times a large
    response would be inf before the float32 sum; its factors are cast to
    float32 first. bfloat16 has float32's range: its products are formed in
    bfloat16 and cast for the sum.
    """
    negative = ops.minimum(inputs, 0)
    if keras.backend.standardize_dtype(inputs.dtype) == "float16":
        products = ops.cast(upstream, alpha.dtype) * ops.cast(negative, alpha.dtype)
    else:
        products = ops.cast(upstream * negative, alpha.dtype)
    return _sum_to_shape(products, ops.shape(alpha), _cpu_only())


@keras.saving.register_keras_serializable(package="keras_prelu")
class PReLU(keras.layers.Layer):
    """Parametric Rectified Linear Unit of He et al. (2015).

    Formula (Eqn. 1):

    ```
    f(y_i) = y_i          if y_i > 0
    f(y_i) = a_i * y_i    if y_i <= 0
    ```

    The slope `a_i` is learned, one per channel (`mode="channel_wise"`) or one
    for the whole layer (`mode="channel_shared"`). After a `Dense` layer the
    units are the channels. `shared_axes`, as in `keras.layers.PReLU`, names
    the axes that share a slope instead: `[1, 2]` on `(batch, height, width,
    channels)` is channel-wise, every non-batch axis channel-shared, and any
    other choice learns one slope per position of the axes not shared, with
    the same gradients. The gradients are those of Eqn. 2-3, including at
    `y = 0`, where `df/dy = a` and `df/da = y`, as in the paper, Caffe and
    PyTorch. `a = 0` is ReLU and a small fixed `a` is Leaky ReLU.

    The slopes are initialized to 0.25 and carry no regularizer: weight decay
    would push them towards 0, i.e. towards ReLU (Sec. 2.1). They stay a
    float32 variable under mixed precision; the activation itself runs in the
    layer's compute dtype. Unlike `keras.layers.PReLU`, the layer accepts any
    height and width, and `y = -inf` with `a = 0` gives 0, not NaN.

    Args:
        mode: `"channel_wise"` (one slope per channel, default) or
            `"channel_shared"` (one slope per layer).
        shared_axes: instead of `mode`, the non-batch axes (an int or a list,
            negative ones counted from the end) along which the slopes are
            shared; the slopes then have `keras.layers.PReLU`'s shape, the
            input shape without the batch axis and with 1 on the shared axes.
        alpha_initializer: initializer of the slopes. Defaults to 0.25.
        alpha_regularizer: optional regularizer of the slopes.
        alpha_constraint: optional constraint on the slopes.
        data_format: `"channels_last"` or `"channels_first"`: where the
            channel axis is for inputs of rank 3 and more, with `mode`. Defaults to
            `keras.config.image_data_format()`.
        **kwargs: base layer keyword arguments, such as `name` and `dtype`.

    Raises:
        ValueError: `mode` or `data_format` is not one of those above; when
            built, inputs of rank < 2, or a channel-wise PReLU on inputs whose
            channel dimension is unknown.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from keras_prelu import PReLU
        >>> layer = PReLU()  # one slope per channel, 0.25 to start
        >>> keras.ops.convert_to_numpy(layer(np.array([[-2.0, 0.0, 3.0]])))
        array([[-0.5,  0. ,  3. ]], dtype=float32)

    Reference:
        K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers:
        Surpassing Human-Level Performance on ImageNet Classification",
        ICCV 2015, arXiv:1502.01852.
    """

    def __init__(
        self,
        mode=None,
        alpha_initializer=None,
        alpha_regularizer=None,
        alpha_constraint=None,
        data_format=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if shared_axes is None:
            mode = CHANNEL_WISE if mode is None else mode
            if mode not in MODES:
                raise InvalidValueError(
                    f"Argument `mode` must be one of {MODES}. Received: mode={mode!r}"
                )
        elif mode is not None:
            raise InvalidValueError(
                "Pass `mode` or `shared_axes`, not both. "
                f"Received: mode={mode!r}, shared_axes={shared_axes!r}"
            )
        elif isinstance(shared_axes, int):
            shared_axes = [shared_axes]
        self.mode = mode
        self.shared_axes = None if shared_axes is None else list(shared_axes)
        if alpha_initializer is None:
            alpha_initializer = keras.initializers.Constant(INITIAL_SLOPE)
        self.alpha_initializer = keras.initializers.get(alpha_initializer)
        self.alpha_regularizer = keras.regularizers.get(alpha_regularizer)
        self.alpha_constraint = keras.constraints.get(alpha_constraint)
        self.data_format = standardize_data_format(data_format)
        self.supports_masking = True

    def _channel_axis(self, rank):
        if self.data_format == "channels_first" and rank > 2:
            return 1
        return -1

    def _shared_axes_shape(self, input_shape):
        """The slopes' shape for `shared_axes`: 1 on the shared axes."""
        rank = len(input_shape)
        axes = range(1, rank)
        accepted = [*axes, *(axis - rank for axis in axes)]
        if not all(axis in accepted for axis in self.shared_axes):
            raise InvalidValueError(
                f"Argument `shared_axes` must name non-batch axes of inputs of rank {rank}: "
                f"{list(axes)} or {[axis - rank for axis in axes]}. "
                f"Received: shared_axes={self.shared_axes!r}"
            )
        shared = {axis % rank for axis in self.shared_axes}
        kept = {axis: input_shape[axis] for axis in axes if axis not in shared}
        unknown = [axis for axis, size in kept.items() if size is None]
        if unknown:
            raise InvalidValueError(
                f"PReLU's slopes need a known size on every axis not in `shared_axes`; "
                f"share axes {unknown} too or give their size. Received: "
                f"input_shape={input_shape}, shared_axes={self.shared_axes!r}"
            )
        self.input_spec = keras.layers.InputSpec(ndim=rank, axes=kept)
        return tuple(kept.get(axis, 1) for axis in axes)

    def build(self, input_shape):
        rank = len(input_shape)
        if rank < 2:
            raise InvalidValueError(
                "PReLU expects inputs of rank >= 2 (batch, ..., channels). "
                f"Received: input_shape={input_shape}"
            )
        if self.shared_axes is not None:
            self._add_alpha(self._shared_axes_shape(input_shape))
            self._alpha_broadcast_shape = self.alpha.shape
            return
        channel_axis = self._channel_axis(rank)
        channels = input_shape[channel_axis]
        if self.mode == CHANNEL_WISE:
            if channels is None:
                raise InvalidValueError(
                    "A channel-wise PReLU needs a known channel dimension "
                    f"(axis {channel_axis} for data_format="
                    f"{self.data_format!r}); use mode='channel_shared' or give the channel "
                    f"dimension. Received: input_shape={input_shape}"
                )
            alpha_shape = (channels,)
            self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={channel_axis: channels})
        else:
            alpha_shape = (1,)
        self._add_alpha(alpha_shape)
        # For channels_first inputs the slopes broadcast over the axes that
        # follow the channel axis.
        self._alpha_broadcast_shape = alpha_shape
        if channel_axis == 1 and self.mode == CHANNEL_WISE:
            self._alpha_broadcast_shape = alpha_shape + (1,) * (rank - 2)

    def _add_alpha(self, shape):
        self.alpha = self.add_weight(
            shape=shape,
            name="alpha",
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
            dtype=self.variable_dtype,
            autocast=False,  # `prelu` casts; the slope gradient stays float32
        )

    def call(self, inputs):
        return prelu(inputs, ops.reshape(self.alpha, self._alpha_broadcast_shape))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mode": self.mode,
                "alpha_initializer": keras.initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": keras.regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": keras.constraints.serialize(self.alpha_constraint),
                "data_format": self.data_format,
                "shared_axes": self.shared_axes,
            }
        )
        return config
