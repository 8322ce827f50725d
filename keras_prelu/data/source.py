"""The interface every data source implements."""

import abc
import copy
import logging

import numpy as np
import tensorflow as tf

from keras_prelu.data.augmentation import Augmentation

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation")


class Source(abc.ABC):
    """A labelled image dataset split into "train" and "validation".

    `dataset(split)` gives the raw examples as a `tf.data.Dataset` of dicts with
    `"image"` (encoded bytes, or decoded `(height, width, channels)` pixels, `uint8`
    or `float32` in [0, 255]), `"label"` (an integer class id, the index of its name
    in `class_names`) and, for sources that read files, `"path"`. The transforms of
    `keras_prelu.data` accept both kinds of image.

    Attributes:
        name: the name given to `keras_prelu.data.get_source`.
        class_names: the class names, in class-id order.
        undecodable_files: the paths of the files skipped so far because they
            could not be decoded, were not regular files or had more than
            `max_pixels` pixels.
        max_pixels: files whose header gives more pixels are skipped without
            being decoded; None for no limit (sources without files).
    """

    max_pixels = None

    def __init__(self, name, class_names):
        self.name = name
        self.class_names = tuple(class_names)
        self.undecodable_files = set()

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
        """The training augmentation fitted to this source: the paper's by default."""
        return Augmentation()

    def training_subset(self, num_examples):
        """This source with only the first `num_examples` examples of its training split.

        `get_source("name[:N]")` calls it; the validation split stays whole.
        """
        raise ValueError(
            f"A training subset (`name[:N]`) is not available for {type(self).__name__} "
            f"sources. Received: name={self.name!r}"
        )

    def _subset_copy(self, num_examples):
        """A copy named `name[:num_examples]`, once `num_examples` is checked."""
        available = self.num_examples("train")
        if not 1 <= num_examples <= available:
            raise ValueError(
                f"A training subset `[:N]` of {self.name!r} must have 1 <= N <= {available} "
                f"(its training examples). Received: N={num_examples}"
            )
        subset = copy.copy(self)
        subset.name = f"{self.name}[:{num_examples}]"
        subset.undecodable_files = set()
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


def check_split(split, accepted=SPLITS):
    if split not in accepted:
        raise ValueError(f"`split` must be one of {accepted}. Received: split={split!r}")
    return split
