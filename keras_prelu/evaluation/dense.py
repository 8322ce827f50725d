"""The paper's dense "multi-view testing on feature maps" (He et al. 2015, Sec. 4).

The conv layers run once on the whole image; every `window x window` window of the
last conv feature map is pooled by the SPP layer and scored by the fc layers. Here
the windows are never cut out: the max (or mean) over bin `(i, j)` of the window
at `(y, x)` is the `kh x kw` max pooling, stride 1, of the whole map read at
`(y + r0, x + c0)`, where `[r0, r0 + kh) x [c0, c0 + kw)` is that bin in window
coordinates. Bin edges depend only on the window size, so each level is a few
stride-1 poolings of the map and one slice per bin: the cost grows with the map's
area, and the windows are scored by the fc layers in chunks of bounded memory.
"""

import keras
import numpy as np
from keras import ops

from keras_prelu.errors import InvalidValueError
from keras_prelu.layers.spatial_pyramid_pooling import SpatialPyramidPooling
from keras_prelu.layers.spatial_pyramid_pooling import bin_edges

__all__ = ["DEFAULT_MAX_WINDOWS", "DenseScorer", "feature_map_size", "split_at_spp"]

# Windows scored by the fc layers at once: bounds the memory of the pooled vectors
# (windows x channels x bins floats; 64 MB for model A's 512 x 63 bins).
DEFAULT_MAX_WINDOWS = 512


def split_at_spp(model):
    """`(features, spp, head)`: the model before, at and after its SPP layer.

    `features` maps images to the pre-SPP feature map, `head` maps the SPP
    vector to the model's output (the fc layers and the classifier). The model
    must take images of any size (see `keras_prelu.zoo.with_input_shape`).

    Raises:
        ValueError: the model has no `SpatialPyramidPooling` layer named "spp".
    """
    try:
        spp = model.get_layer("spp")
    except ValueError:
        spp = None
    if not isinstance(spp, SpatialPyramidPooling):
        raise InvalidValueError(
            "Argument `model` must have a SpatialPyramidPooling layer named 'spp' and the "
            "fc layers after it for dense testing (a zoo model with include_top=True). "
            f"Received: model={model.name!r}"
        )
    if spp.data_format != "channels_last":
        raise InvalidValueError("Dense testing supports channels_last models only.")
    features = keras.Model(model.input, spp.input, name=f"{model.name}_features")
    head = keras.Model(spp.output, model.output, name=f"{model.name}_head")
    return features, spp, head


def feature_map_size(features, crop_size):
    """`(height, width)` of the map `features` gives for a `crop_size` square image."""
    shape = features.compute_output_shape((1, crop_size, crop_size, 3))
    return int(shape[1]), int(shape[2])


class DenseScorer:
    """Scores every window of a model's last conv feature map, densely.

    The window is the feature map of the training crop: 14x14 for models A, B
    and C at 224 (the paper's "14x14 windows"), 18x18 for the 14-layer model.
    A map smaller than the window along an axis is one window along it.

    Args:
        model: a zoo model with `include_top=True` (SPP then fc layers) that
            takes images of any size.
        crop_size: the training crop side, from which the window is derived.
        window: `(height, width)` or an int, instead of deriving it.
        max_windows: windows scored by the fc layers at once (memory bound).

    Examples:
        >>> import numpy as np
        >>> from keras_prelu.evaluation import DenseScorer
        >>> from keras_prelu.zoo import Model14
        >>> model = Model14(input_shape=(None, None, 3), fc_units=(16, 16), num_classes=10)
        >>> scorer = DenseScorer(model, crop_size=64)  # trained on 64x64 crops
        >>> scorer.window
        (4, 4)
        >>> scorer(np.zeros((2, 96, 96, 3))).shape  # windows and flips averaged
        (2, 10)
    """

    def __init__(self, model, *, crop_size=None, window=None, max_windows=DEFAULT_MAX_WINDOWS):
        self.features, self.spp, self.head = split_at_spp(model)
        if window is None:
            if not isinstance(crop_size, int) or crop_size < 1:
                raise InvalidValueError(
                    "`crop_size` (the training crop, a positive int) is needed to derive "
                    f"the window when `window` is None. Received: crop_size={crop_size!r}"
                )
            window = feature_map_size(self.features, crop_size)
        elif isinstance(window, int):
            window = (window, window)
        window = tuple(window)
        if len(window) != 2 or not all(isinstance(w, int) and w >= 1 for w in window):
            raise InvalidValueError(
                f"`window` must be a positive int or (height, width). Received: window={window!r}"
            )
        if not isinstance(max_windows, int) or max_windows < 1:
            raise InvalidValueError(
                f"`max_windows` must be a positive int. Received: max_windows={max_windows!r}"
            )
        self.window = window
        self.max_windows = max_windows
        # One compiled window scorer per window shape (the window is clipped on
        # maps smaller than it).
        self._window_scorers = {}

    def __call__(self, images, flip=True):
        """Mean scores of all windows of `images` (and of their horizontal flips).

        `images`: `(batch, height, width, 3)`, preprocessed as the model was trained.
        Returns `(batch, classes)` as a NumPy array.
        """
        images = np.asarray(images, dtype="float32")
        if flip:
            images = np.concatenate([images, images[:, :, ::-1]], axis=0)
        maps = self.features.predict_on_batch(images)
        scores = np.stack(
            [self.window_scores(maps[i : i + 1]).mean(axis=0) for i in range(len(maps))]
        )
        return scores.reshape(2 if flip else 1, -1, scores.shape[-1]).mean(axis=0)

    def window_shape(self, height, width):
        """The window used on a `height x width` map (clipped to the map)."""
        return min(self.window[0], height), min(self.window[1], width)

    def window_scores(self, feature_map):
        """Scores of every window of one feature map `(1, height, width, channels)`.

        Returns `(windows, classes)` as a NumPy array, windows in row-major order
        of their top-left corner.
        """
        height, width = int(feature_map.shape[1]), int(feature_map.shape[2])
        win_h, win_w = self.window_shape(height, width)
        rows, cols = height - win_h + 1, width - win_w + 1
        chunk_rows = max(1, self.max_windows // cols)
        scorer = self._window_scorer(win_h, win_w)
        return np.concatenate(
            [
                scorer.predict_on_batch(
                    feature_map[:, top : min(top + chunk_rows, rows) + win_h - 1]
                )
                for top in range(0, rows, chunk_rows)
            ]
        )

    def _window_scorer(self, win_h, win_w):
        """A model from a slab of map rows to the scores of all its windows.

        Keras compiles its `predict_on_batch` the backend's way: one TensorFlow
        graph for every slab size, one XLA program per slab size on JAX, eager
        PyTorch without autograd.
        """
        if (win_h, win_w) not in self._window_scorers:
            slab = keras.Input(batch_shape=(1, None, None, self.spp.input.shape[-1]))
            pyramid = WindowPyramid((win_h, win_w), self.spp.levels, self.spp.pooling)
            self._window_scorers[win_h, win_w] = keras.Model(slab, self.head(pyramid(slab)))
        return self._window_scorers[win_h, win_w]


class WindowPyramid(keras.layers.Layer):
    """The SPP vector of every `window` of a map, windows in row-major order.

    `(1, height, width, channels)` -> `(windows, channels * sum(n * n))`, each
    vector ordered as `SpatialPyramidPooling` orders it (level by level,
    channel-major). Bin `(i, j)` of level `n` of the window at `(y, x)` is the
    `kh x kw` stride-1 pooling of the whole map read at `(y + r0, x + c0)`,
    where `[r0, r0 + kh) x [c0, c0 + kw)` is that bin in window coordinates.
    """

    def __init__(self, window, levels, pooling="max", **kwargs):
        super().__init__(**kwargs)
        self.window = tuple(window)
        self.levels = tuple(levels)
        self.pooling = pooling

    def call(self, slab):
        win_h, win_w = self.window
        rows = ops.shape(slab)[1] - win_h + 1
        cols = ops.shape(slab)[2] - win_w + 1
        pool = ops.max_pool if self.pooling == "max" else ops.average_pool
        pooled = {}
        vectors = []
        for n in self.levels:
            bins = []
            for r0, r1 in bin_edges(win_h, n):
                for c0, c1 in bin_edges(win_w, n):
                    size = (r1 - r0, c1 - c0)
                    if size not in pooled:
                        pooled[size] = pool(slab, size, strides=1, padding="valid")
                    bins.append(pooled[size][0, r0 : r0 + rows, c0 : c0 + cols])
            # (rows, cols, channels, n * n): channel-major within the level.
            bins = ops.stack(bins, axis=-1)
            vectors.append(ops.reshape(bins, (-1, bins.shape[2] * n * n)))
        return ops.concatenate(vectors, axis=-1)

    def compute_output_shape(self, input_shape):
        return (None, input_shape[-1] * sum(n * n for n in self.levels))
