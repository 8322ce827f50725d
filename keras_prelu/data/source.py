"""The interface every data source implements."""

import abc
import copy
import logging

import numpy as np
import tensorflow as tf

from keras_prelu.data import transforms
from keras_prelu.data.augmentation import IMAGENET_RGB_MEAN
from keras_prelu.data.augmentation import Augmentation
from keras_prelu.data.augmentation import fitted_augmentation
from keras_prelu.data.augmentation import is_imagenet_sized
from keras_prelu.errors import InvalidValueError

__all__ = ["SPLITS", "ListedSource", "Source", "check_split"]

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation")
# The training images whose sizes fit the default augmentation of a source that does
# not hold its images in memory (image folders, tensorflow-datasets): a fixed sample.
IMAGE_SIZE_SAMPLE = 1000


class Source(abc.ABC):
    """A labelled image dataset split into "train" and "validation".

    `dataset(split)` gives the raw examples as a `tf.data.Dataset` of dicts with
    `"image"` (encoded bytes, or decoded `(height, width, channels)` pixels, `uint8`
    or `float32` in [0, 255]), `"label"` (an integer class id, the index of its name
    in `class_names`) and, for sources that read files, `"path"`. The transforms of
    `keras_prelu.data` accept both kinds of image.

    Attributes:
        name: the name given to `keras_prelu.data.get_source`.
        flip: whether a mirrored image shows the same class, so that training may
            flip images (True, except for the bundled digits).
        class_names: the class names, in class-id order.
        undecodable_files: the paths of the files skipped so far because they
            could not be decoded, were not regular files or had more than
            `max_pixels` pixels.
        max_pixels: files whose header gives more pixels are skipped without
            being decoded; None for no limit (sources without files).
    """

    max_pixels = None
    flip = True

    def __init__(self, name, class_names):
        self.name = name
        self.class_names = tuple(class_names)
        self.undecodable_files = set()
        self._default_augmentation = None

    @property
    def num_classes(self):
        return len(self.class_names)

    @abc.abstractmethod
    def num_examples(self, split):
        """The number of examples in `split`."""

    @abc.abstractmethod
    def dataset(self, split, *, shuffle=False, seed=None, reshuffle_each_iteration=True):
        """The raw examples of `split`.

        With `shuffle`, in a random order (the same one on every run if `seed`),
        new on every iteration unless `reshuffle_each_iteration` is False.
        """

    def default_augmentation(self):
        """The training augmentation fitted to this source's images (computed once).

        `fitted_augmentation` of the training images' shorter sides and per-channel
        mean (`training_image_statistics`): the paper's scales and 224 crops for
        ImageNet-sized images, smaller ones for smaller images. The choice is logged.
        """
        if self._default_augmentation is None:
            shorter_sides, mean = self.training_image_statistics()
            if not len(shorter_sides):
                logger.warning(
                    "%s: no training image has a readable size; its augmentation is the paper's.",
                    self.name,
                )
                self._default_augmentation = Augmentation(flip=self.flip)
                return self._default_augmentation
            augmentation = fitted_augmentation(shorter_sides, mean=mean, flip=self.flip)
            low, high = augmentation.scale_range
            logger.info(
                "%s: training images of median shorter side %g px (%d measured): "
                "shorter side s ~ U[%d, %d], %dx%d crops%s%s.",
                self.name,
                float(np.median(shorter_sides)),
                len(shorter_sides),
                low,
                high,
                augmentation.crop_size,
                augmentation.crop_size,
                "" if self.flip else ", no flips",
                " (the paper's)" if is_imagenet_sized(shorter_sides) else "",
            )
            self._default_augmentation = augmentation
        return self._default_augmentation

    def training_image_statistics(self):
        """`(shorter sides, per-channel RGB mean)` of the training images.

        Here of a fixed sample of up to `IMAGE_SIZE_SAMPLE` of them: the sizes read
        from the files' headers (nothing is decoded; files that are not whole
        images and images of more than `max_pixels` are left out), and for images smaller than
        ImageNet's the mean of the sample, decoded; ImageNet-sized images keep
        ImageNet's mean. Sources that hold
        their images in memory give exact values.
        """
        sample = self.dataset("train", shuffle=True, seed=0, reshuffle_each_iteration=False).take(
            IMAGE_SIZE_SAMPLE
        )
        sized = (
            sample.map(
                lambda example: (example["image"], _image_size(example["image"])),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            .ignore_errors()
            .filter(lambda image, size: self._is_decodable_size(size))
        )
        shorter_sides = np.fromiter(
            sized.map(lambda image, size: tf.reduce_min(size)).as_numpy_iterator(), dtype=np.int64
        )
        if not len(shorter_sides) or is_imagenet_sized(shorter_sides):
            return shorter_sides, IMAGENET_RGB_MEAN
        sums = sized.map(
            lambda image, size: _channel_sums(transforms.decode(image)),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).ignore_errors()
        totals = sum(sums.as_numpy_iterator(), np.zeros(4))
        if not totals[3]:  # no image of the sample decodes
            return shorter_sides, IMAGENET_RGB_MEAN
        return shorter_sides, totals[:3] / totals[3]

    def _is_decodable_size(self, size):
        """Whether an image of `(height, width)` `size` has pixels, at most `max_pixels`."""
        pixels = size[0] * size[1]
        if self.max_pixels is None:
            return pixels > 0
        return (pixels > 0) & (pixels <= self.max_pixels)

    def training_subset(self, num_examples):
        """This source with only the first `num_examples` examples of its training split.

        `get_source("name[:N]")` calls it; the validation split stays whole.
        """
        raise InvalidValueError(
            f"A training subset (`name[:N]`) is not available for {type(self).__name__} "
            f"sources. Received: name={self.name!r}"
        )

    def _subset_copy(self, num_examples):
        """A copy named `name[:num_examples]`, once `num_examples` is checked."""
        available = self.num_examples("train")
        if not 1 <= num_examples <= available:
            raise InvalidValueError(
                f"A training subset `[:N]` of {self.name!r} must have 1 <= N <= {available} "
                f"(its training examples). Received: N={num_examples}"
            )
        subset = copy.copy(self)
        subset.name = f"{self.name}[:{num_examples}]"
        subset.undecodable_files = set()
        subset._default_augmentation = None
        return subset

    def report_undecodable(self, path, reason="it cannot be decoded"):
        """Records and logs (once per file) that the file `path` is skipped, and why."""
        if path not in self.undecodable_files:
            self.undecodable_files.add(path)
            logger.warning(
                "Skipped %s: %s (%d skipped files so far in %s).",
                path,
                reason,
                len(self.undecodable_files),
                self.name,
            )

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, num_classes={self.num_classes})"


class ListedSource(Source):
    """A source whose examples are listed in memory, as `{split: (items, labels)}`."""

    def __init__(self, name, class_names, splits):
        super().__init__(name, class_names)
        self._splits = splits

    def num_examples(self, split):
        return len(self._splits[check_split(split)][1])

    def training_subset(self, num_examples):
        subset = self._subset_copy(num_examples)
        items, labels = self._splits["train"]
        subset._splits = dict(self._splits, train=(items[:num_examples], labels[:num_examples]))
        return subset

    def listed_examples(self, split, *, shuffle, seed, reshuffle_each_iteration):
        """`(item, int32 label)` pairs; the listing is shuffled in full."""
        items, labels = self._splits[check_split(split)]
        examples = tf.data.Dataset.from_tensor_slices((items, np.asarray(labels, dtype=np.int32)))
        if shuffle:
            examples = examples.shuffle(
                len(labels), seed=seed, reshuffle_each_iteration=reshuffle_each_iteration
            )
        return examples


def _image_size(image):
    """`(height, width)` of an image: from the header of encoded bytes, else its shape.

    `(0, 0)` for encoded bytes that are not a whole JPEG or PNG (a truncated file).
    """
    if image.dtype == tf.string:
        return tf.cond(
            transforms.is_complete_image(image),
            lambda: transforms.encoded_size(image),
            lambda: tf.zeros([2], tf.int64),
        )
    return tf.cast(tf.shape(image)[:2], tf.int64)


def _channel_sums(pixels):
    """The sums of an RGB image's three channels and its pixel count, float64."""
    pixels = tf.cast(pixels, tf.float64)
    count = tf.cast(tf.reduce_prod(tf.shape(pixels)[:2]), tf.float64)
    return tf.concat([tf.reduce_sum(pixels, axis=[0, 1]), [count]], axis=0)


def check_split(split, accepted=SPLITS):
    if split not in accepted:
        raise InvalidValueError(f"`split` must be one of {accepted}. Received: split={split!r}")
    return split
