"""The user's own images as sources: NumPy arrays, or `tf.data.Dataset`s of pairs."""

import numpy as np
import tensorflow as tf

from keras_prelu.data.source import SPLITS
from keras_prelu.data.source import ListedSource
from keras_prelu.data.source import Source
from keras_prelu.data.source import check_split
from keras_prelu.errors import DataError
from keras_prelu.errors import InvalidValueError
from keras_prelu.errors import summarize

__all__ = ["ArraySource", "DatasetSource"]

ARRAY_SOURCE_NAME = "arrays"
DATASET_SOURCE_NAME = "dataset"
# Pixel values are in [0, 255], as the transforms' mean and colour noise expect.
PIXEL_RANGE = (0, 255)
# Examples summarized per step when a dataset is read once at construction.
_SUMMARY_BATCH = 256


class ArraySource(ListedSource):
    """Images and labels in NumPy arrays, one pair for "train" and one for "validation".

    The pairs are those of `keras.datasets`:
    `ArraySource(*keras.datasets.cifar10.load_data())` is a source.

    Images are `(N, H, W)` or `(N, H, W, 1)` (grayscale) or `(N, H, W, 3)` (RGB),
    any `H, W >= 1`, `uint8` or any integer or floating type with values in [0, 255];
    floats keep their precision (as float32). Labels are integer class ids, `(N,)` or
    `(N, 1)`. The arrays are held in memory and fed by `tf.data` from there.

    `default_augmentation()` is `fitted_augmentation` of the training images' size,
    with their per-channel mean: small images get a crop and scales fitted to them,
    ImageNet-sized ones the paper's.

    Args:
        train: `(images, labels)` of "train": at least two classes.
        validation: `(images, labels)` of "validation"; its size may differ.
        class_names: the class names in class-id order; defaults to "0", "1", ...
            up to the largest label.
        name: the source's name, used in logs and run folders.
    """

    def __init__(self, train, validation, *, class_names=None, name=ARRAY_SOURCE_NAME):
        splits = {
            "train": _check_array_pair(train, "train"),
            "validation": _check_array_pair(validation, "validation"),
        }
        label_ranges = {
            split: (int(labels.min()), int(labels.max())) for split, (_, labels) in splits.items()
        }
        super().__init__(_check_name(name), _class_names(class_names, label_ranges), splits)

    def dataset(self, split, *, shuffle=False, seed=None, reshuffle_each_iteration=True):
        examples = self.listed_examples(
            split, shuffle=shuffle, seed=seed, reshuffle_each_iteration=reshuffle_each_iteration
        )
        return examples.map(lambda image, label: {"image": image, "label": label})

    def training_image_statistics(self):
        images = self._splits["train"][0]
        mean = np.broadcast_to(images.mean(axis=(0, 1, 2), dtype=np.float64), (3,))
        return np.full(len(images), min(images.shape[1:3])), mean


class DatasetSource(Source):
    """`tf.data.Dataset`s of unbatched `(image, label)` pairs, for "train" and "validation".

    Images are decoded `(H, W)`, `(H, W, 1)` or `(H, W, 3)` tensors whose channels
    are known, of any size `H, W >= 1` (they may differ from image to image), of an
    integer or floating type with values in [0, 255]; labels are integer class ids,
    scalars or of shape `(1,)`. Each dataset must be finite and yield the same
    pairs in the same order on every iteration: seeded runs, several processes and
    resumed runs rely on it.

    Both datasets are read once when the source is made, to count and check them
    and to measure the training images' shorter sides and mean, from which
    `default_augmentation()` is fitted (`fitted_augmentation`).

    Args:
        train: the "train" dataset: at least two classes.
        validation: the "validation" dataset.
        class_names: the class names in class-id order; defaults to "0", "1", ...
            up to the largest label.
        shuffle_buffer: the pairs held when shuffling; defaults to the whole split
            (a uniform shuffle, with the split in memory). Shuffle the files
            behind a dataset larger than memory and give a smaller buffer.
        name: the source's name, used in logs and run folders.
    """

    def __init__(
        self,
        train,
        validation,
        *,
        class_names=None,
        shuffle_buffer=None,
        name=DATASET_SOURCE_NAME,
    ):
        self._datasets = {
            "train": _check_dataset(train, "train"),
            "validation": _check_dataset(validation, "validation"),
        }
        if shuffle_buffer is not None and (
            isinstance(shuffle_buffer, bool)
            or not isinstance(shuffle_buffer, int)
            or shuffle_buffer < 1
        ):
            raise InvalidValueError(
                "Argument `shuffle_buffer` must be a positive integer or None (the whole "
                f"split). Received: shuffle_buffer={shuffle_buffer!r}"
            )
        self._shuffle_buffer = shuffle_buffer
        self._summaries = {split: _summarize(self._datasets[split], split) for split in SPLITS}
        label_ranges = {split: summary["labels"] for split, summary in self._summaries.items()}
        super().__init__(_check_name(name), _class_names(class_names, label_ranges))

    def num_examples(self, split):
        return self._summaries[check_split(split)]["count"]

    def dataset(self, split, *, shuffle=False, seed=None, reshuffle_each_iteration=True):
        examples = self._datasets[check_split(split)]
        if shuffle:
            examples = examples.shuffle(
                self._shuffle_buffer or self.num_examples(split),
                seed=seed,
                reshuffle_each_iteration=reshuffle_each_iteration,
            )
        return examples.map(
            lambda image, label: {"image": _pixels(image), "label": _class_id(label)},
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    def training_image_statistics(self):
        train = self._summaries["train"]
        return train["shorter_sides"], train["mean"]


def _check_array_pair(pair, argument):
    """`(images, labels)` of one split, checked; images uint8 or float32, (N, H, W, C)."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise InvalidValueError(
            f"Argument `{argument}` must be a pair (images, labels) of NumPy arrays. "
            f"Received: {argument} of type {type(pair).__name__}"
        )
    try:
        images, labels = np.asarray(pair[0]), np.asarray(pair[1])
    except ValueError:  # a ragged list
        raise DataError(
            f"Argument `{argument}` must hold images of one size and labels, as arrays "
            f"(images of several sizes: a DatasetSource). Received: {summarize(pair)}"
        ) from None
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or 0 in images.shape:
        raise InvalidValueError(
            f"Argument `{argument}` must hold images of shape (N, H, W), (N, H, W, 1) or "
            f"(N, H, W, 3) with N, H, W >= 1. Received: {argument} images of shape "
            f"{images.shape}"
        )
    if not _is_real(images.dtype):
        raise InvalidValueError(
            f"Argument `{argument}` must hold images of an integer or floating type. "
            f"Received: {argument} images of dtype {images.dtype}"
        )
    _check_pixels(argument, images.min(), images.max(), np.isfinite(images).all())
    is_float = np.issubdtype(images.dtype, np.floating)
    images = np.ascontiguousarray(images, dtype=np.float32 if is_float else np.uint8)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or not _is_integer(labels.dtype):
        raise InvalidValueError(
            f"Argument `{argument}` must hold integer class ids of shape (N,) or (N, 1). "
            f"Received: {argument} labels of shape {labels.shape} and dtype {labels.dtype}"
        )
    if len(labels) != len(images):
        raise InvalidValueError(
            f"Argument `{argument}` must hold as many labels as images. Received: "
            f"{argument} with {len(images)} images and {len(labels)} labels"
        )
    return images, labels


def _check_dataset(dataset, argument):
    """`dataset` after its element spec is checked: finite, unbatched (image, label) pairs."""
    if not isinstance(dataset, tf.data.Dataset):
        raise InvalidValueError(
            f"Argument `{argument}` must be a tf.data.Dataset of (image, label) pairs. "
            f"Received: {argument} of type {type(dataset).__name__}"
        )
    spec = dataset.element_spec
    if not (
        isinstance(spec, tuple)
        and len(spec) == 2
        and all(isinstance(part, tf.TensorSpec) for part in spec)
    ):
        raise InvalidValueError(
            f"Argument `{argument}` must yield (image, label) pairs of tensors. "
            f"Received: {argument} with element_spec={spec}"
        )
    image, label = spec
    if not (
        (image.dtype.is_integer or image.dtype.is_floating)
        and (image.shape.rank == 2 or (image.shape.rank == 3 and image.shape[-1] in (1, 3)))
    ):
        raise InvalidValueError(
            f"Argument `{argument}` must yield unbatched decoded images, (H, W), (H, W, 1) "
            "or (H, W, 3) with known channels, of an integer or floating type (unbatch a "
            "batched dataset; set the channels with tf.ensure_shape). Received: images "
            f"of shape {image.shape} and dtype {image.dtype.name}"
        )
    if not (label.dtype.is_integer and label.shape in ((), (1,))):
        raise InvalidValueError(
            f"Argument `{argument}` must yield integer class ids, scalars or of shape (1,). "
            f"Received: labels of shape {label.shape} and dtype {label.dtype.name}"
        )
    if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise InvalidValueError(
            f"Argument `{argument}` must be a finite dataset (one pass is one epoch): "
            "remove its repeat()."
        )
    return dataset


def _summarize(dataset, argument):
    """Reads `dataset` once: its size, label range, shorter sides and RGB mean, checked."""

    def summarize_example(image, label):
        pixels = tf.cast(_with_channels(image), tf.float64)
        height, width = tf.unstack(tf.shape(pixels)[:2])
        return {
            "label": _class_id(label),
            "shorter_side": tf.minimum(height, width),
            "sum": tf.reduce_sum(pixels, axis=[0, 1]) * tf.ones([3], tf.float64),
            "pixels": tf.cast(height * width, tf.float64),
            "low": tf.reduce_min(pixels),
            "high": tf.reduce_max(pixels),
            "finite": tf.reduce_all(tf.math.is_finite(pixels)),
        }

    parts = {key: [] for key in ("label", "shorter_side", "sum", "pixels", "low", "high")}
    all_finite = True
    summaries = dataset.map(summarize_example, num_parallel_calls=tf.data.AUTOTUNE)
    for batch in summaries.batch(_SUMMARY_BATCH).as_numpy_iterator():
        all_finite = all_finite and bool(batch["finite"].all())
        for key, values in parts.items():
            values.append(batch[key])
    if not parts["label"]:
        raise InvalidValueError(
            f"Argument `{argument}` must yield at least one (image, label) pair."
        )
    parts = {key: np.concatenate(values) for key, values in parts.items()}
    if parts["shorter_side"].min() < 1:
        raise InvalidValueError(
            f"Argument `{argument}` must yield images of at least 1x1 pixels. Received: "
            f"an image with a side of {parts['shorter_side'].min()}"
        )
    _check_pixels(argument, parts["low"].min(), parts["high"].max(), all_finite)
    labels = parts["label"]
    return {
        "count": len(labels),
        "labels": (int(labels.min()), int(labels.max())),
        "shorter_sides": parts["shorter_side"],
        "mean": parts["sum"].sum(axis=0) / parts["pixels"].sum(),
    }


def _with_channels(image):
    return image[..., tf.newaxis] if image.shape.rank == 2 else image


def _pixels(image):
    """An image as `(H, W, C)` pixels: uint8 for integer types, float32 for floats."""
    return tf.cast(_with_channels(image), tf.float32 if image.dtype.is_floating else tf.uint8)


def _class_id(label):
    return tf.reshape(tf.cast(label, tf.int32), [])


def _check_pixels(argument, low, high, all_finite):
    if not all_finite or low < PIXEL_RANGE[0] or high > PIXEL_RANGE[1]:
        received = "non-finite values" if not all_finite else f"values in [{low}, {high}]"
        raise InvalidValueError(
            f"Argument `{argument}` must hold finite pixel values in {list(PIXEL_RANGE)}. "
            f"Received: {received}"
        )


def _class_names(class_names, label_ranges):
    """The class names, checked against each split's `(lowest, highest)` label."""
    for split, (lowest, _) in label_ranges.items():
        if lowest < 0:
            raise InvalidValueError(
                f"Argument `{split}` must hold class ids >= 0. Received: a label of {lowest}"
            )
    lowest, highest = label_ranges["train"]
    if lowest == highest:
        raise InvalidValueError(
            "Argument `train` must hold examples of at least two classes. "
            f"Received: only class {lowest}"
        )
    largest = max(highest for _, highest in label_ranges.values())
    if class_names is None:
        return [str(class_id) for class_id in range(largest + 1)]
    names = class_names if isinstance(class_names, (list, tuple)) else None
    if (
        names is None
        or not all(isinstance(name, str) for name in names)
        or len(set(names)) != len(names)
    ):
        raise InvalidValueError(
            "Argument `class_names` must be a list or tuple of distinct strings. "
            f"Received: class_names={class_names!r}"
        )
    if len(names) <= largest:
        raise InvalidValueError(
            f"Argument `class_names` must name every class id up to the largest label, "
            f"{largest}. Received: {len(names)} class names"
        )
    return names


def _check_name(name):
    if not isinstance(name, str) or not name:
        raise InvalidValueError(
            f"Argument `name` must be a non-empty string. Received: name={name!r}"
        )
    return name


def _is_real(dtype):
    return _is_integer(dtype) or np.issubdtype(dtype, np.floating)


def _is_integer(dtype):
    return np.issubdtype(dtype, np.integer)
