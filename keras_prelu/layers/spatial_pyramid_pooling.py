import keras
from keras import ops

from keras_prelu.errors import InvalidValueError
from keras_prelu.layers.prelu import standardize_data_format
from keras_prelu.paper import LARGE_MODEL_LEVELS

__all__ = ["SpatialPyramidPooling", "bin_edges"]

POOLING_MODES = ("max", "average")


def bin_edges(size, bins):
    """Start and end of each of `bins` pooling bins along an axis of `size`.

    Bin `i` covers `[floor(i * size / bins), ceil((i + 1) * size / bins))`, the
    rule of the SPP-net authors' released code: exactly `bins` bins for every
    `size >= 1` (also `size < bins`), none empty, the border always covered.
    Integer arithmetic only; `size` may be a Python int or an integer tensor.
    The ceiling is written `(p + q - 1) // q`, which ONNX converts exactly.

    Returns:
        A list of `(start, end)` pairs.
    """
    return [((i * size) // bins, ((i + 1) * size + bins - 1) // bins) for i in range(bins)]


def validate_levels(levels):
    """Returns `levels` as a tuple of positive ints, or raises `ValueError`."""
    if isinstance(levels, int) or not levels:
        raise InvalidValueError(
            "Argument `levels` must be a non-empty sequence of positive integers, "
            f"e.g. {LARGE_MODEL_LEVELS}. Received: levels={levels!r}"
        )
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int) or level < 1:
            raise InvalidValueError(
                "Argument `levels` must be a non-empty sequence of positive integers, "
                f"e.g. {LARGE_MODEL_LEVELS}. Received: levels={levels!r}"
            )
    return tuple(levels)


@keras.saving.register_keras_serializable(package="keras_prelu")
class SpatialPyramidPooling(keras.layers.Layer):
    """Spatial pyramid pooling of He et al. (SPP-net, 2014).

    Pools a feature map of any height `h` and width `w` into `n x n` bins for
    every pyramid level `n`, and concatenates the flattened levels into one
    vector of fixed length `channels * sum(n * n)`. Along an axis of size `a`,
    bin `i` of level `n` spans

    ```
    [floor(i * a / n), ceil((i + 1) * a / n))
    ```

    so that every level has exactly `n` bins, none of them empty, for every
    `a >= 1` (even `a < n`) and the borders are never dropped. Height and width
    are binned independently, so non-square maps are fine.

    Output order: level by level in the order of `levels`; within a level,
    channel-major: the value of channel `c`, bin row `i`, bin column `j` of
    level `n` is at offset `sum(previous levels' c * m * m) + c * n * n +
    i * n + j`. This is the order of the authors' Caffe layer, so their `fc6`
    weights apply unchanged.

    Args:
        levels: pyramid levels, a non-empty sequence of positive integers.
            Defaults to `(7, 3, 2, 1)`, the levels of models A, B and C.
        pooling: `"max"` (the paper) or `"average"` (divides by the true size
            of each bin).
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.
        **kwargs: base layer keyword arguments, such as `name` and `dtype`.

    Raises:
        ValueError: `levels` is not a non-empty sequence of positive ints,
            `pooling` or `data_format` is not one of those above.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from keras_prelu import SpatialPyramidPooling
        >>> spp = SpatialPyramidPooling(levels=(2, 1))  # 4 + 1 bins per channel
        >>> tuple(keras.ops.shape(spp(np.ones((4, 13, 9, 8)))))
        (4, 40)

    Reference:
        K. He, X. Zhang, S. Ren, J. Sun, "Spatial Pyramid Pooling in Deep
        Convolutional Networks for Visual Recognition", ECCV 2014,
        arXiv:1406.4729.
    """

    def __init__(
        self,
        levels=LARGE_MODEL_LEVELS,
        pooling="max",
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.levels = validate_levels(levels)
        if pooling not in POOLING_MODES:
            raise InvalidValueError(
                f"Argument `pooling` must be one of {POOLING_MODES}. Received: pooling={pooling!r}"
            )
        self.pooling = pooling
        self.data_format = standardize_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    @property
    def num_bins(self):
        """Bins per channel: `sum(n * n)` over the levels."""
        return sum(n * n for n in self.levels)

    def _pool_axis(self, inputs, axis, bins):
        """Pools `axis` of `inputs` into `bins` bins, stacked on that axis."""
        size = ops.shape(inputs)[axis]
        pooled = []
        for start, end in bin_edges(size, bins):
            window = inputs[(slice(None),) * axis + (slice(start, end),)]
            if self.pooling == "max":
                # An initial value spares JAX's export from proving that a
                # symbolic bin is not empty, which it cannot decide.
                pooled.append(ops.max(window, axis=axis, keepdims=True, initial=float("-inf")))
            else:
                pooled.append(ops.sum(window, axis=axis, keepdims=True))
        return ops.concatenate(pooled, axis=axis)

    def build(self, input_shape):
        self._check_not_empty(input_shape)

    def call(self, inputs):
        self._check_not_empty(ops.shape(inputs))
        if self.data_format == "channels_first":
            inputs = ops.transpose(inputs, (0, 2, 3, 1))
        height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
        outputs = []
        for n in self.levels:
            # Max and sum over a rectangle are separable: pool the rows into
            # bins first, then the columns, 2n reductions instead of n * n.
            pooled = self._pool_axis(self._pool_axis(inputs, 1, n), 2, n)
            if self.pooling == "average":
                pooled = pooled / self._bin_areas(height, width, n, pooled)
            pooled = ops.transpose(pooled, (0, 3, 1, 2))
            outputs.append(ops.reshape(pooled, (-1, pooled.shape[1] * n * n)))
        return ops.concatenate(outputs, axis=-1)

    def _check_not_empty(self, shape):
        """Refuses a map of height or width 0, whose bins would pool nothing (a max of
        -inf, an average of NaN); a side known only at run time is not checked."""
        spatial = shape[2:] if self.data_format == "channels_first" else shape[1:3]
        if any(isinstance(side, int) and side < 1 for side in spatial):
            raise InvalidValueError(
                f"{type(self).__name__} {self.name!r} needs a feature map of height and width "
                f">= 1. Received: inputs of shape {tuple(shape)}"
            )

    @staticmethod
    def _bin_areas(height, width, n, like):
        """The number of positions in each of the `n x n` bins, `(1,n,n,1)`."""
        rows = [end - start for start, end in bin_edges(height, n)]
        cols = [end - start for start, end in bin_edges(width, n)]
        rows = ops.cast(ops.stack(rows), like.dtype)
        cols = ops.cast(ops.stack(cols), like.dtype)
        return ops.reshape(ops.outer(rows, cols), (1, n, n, 1))

    def compute_output_shape(self, input_shape):
        channel_axis = 1 if self.data_format == "channels_first" else -1
        channels = input_shape[channel_axis]
        if channels is None:
            return (input_shape[0], None)
        return (input_shape[0], channels * self.num_bins)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "levels": list(self.levels),
                "pooling": self.pooling,
                "data_format": self.data_format,
            }
        )
        return config
