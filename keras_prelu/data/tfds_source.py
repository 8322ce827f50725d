"""Any tensorflow-datasets image classification dataset."""

import os

import tensorflow as tf
import tensorflow_datasets as tfds

from keras_prelu.data.names import DIGITS
from keras_prelu.data.source import Source
from keras_prelu.data.source import check_split
from keras_prelu.errors import InvalidValueError

__all__ = ["TFDSSource"]

# Datasets whose builders need files that the user downloads by hand, by name.
MANUAL_FILES = {"imagenet2012": ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")}


class TFDSSource(Source):
    """A tensorflow-datasets image classification dataset, e.g. "imagenet2012".

    Images are read as their encoded bytes (`tfds.decode.SkipDecoding`), so that the
    transforms can fuse the crop into JPEG decoding. A dataset without a
    "validation" split (e.g. "mnist") uses its "test" split for "validation".

    Args:
        name: the tfds name, with an optional config and version ("name/config:1.0.0").
        data_dir: the tfds data folder (default: tfds' own, `~/tensorflow_datasets`).
        download: whether to download and prepare the dataset if it is not prepared.
        manual_dir: where the files of a manual-download dataset are (default:
            `<data_dir>/downloads/manual`).
        download_config: a `tfds.download.DownloadConfig` passed on to
            `download_and_prepare` (its `manual_dir` is set from `manual_dir`).
    """

    def __init__(
        self, name, *, data_dir=None, download=False, manual_dir=None, download_config=None
    ):
        try:
            self._builder = tfds.builder(name, data_dir=data_dir)
        except (tfds.core.registered.DatasetNotFoundError, ValueError) as error:
            raise InvalidValueError(_unknown_name_message(name)) from error
        self._image_key, self._label_key = self._builder.info.supervised_keys or ("image", "label")
        features = self._builder.info.features
        feature_types = dict(features.items()) if hasattr(features, "items") else {}
        if not (
            isinstance(feature_types.get(self._image_key), tfds.features.Image)
            and isinstance(feature_types.get(self._label_key), tfds.features.ClassLabel)
        ):
            raise InvalidValueError(
                "`name` must be a tensorflow-datasets image classification dataset (an "
                f"Image and a ClassLabel feature). Received: name={name!r} with {features}"
            )
        if not self._builder.is_prepared():
            self._prepare(download, manual_dir, download_config or tfds.download.DownloadConfig())
        self._num_examples = {}
        self._train_examples = None
        super().__init__(name, features[self._label_key].names)

    def training_subset(self, num_examples):
        """The first `num_examples` of tfds' order, which it shuffled when preparing."""
        subset = self._subset_copy(num_examples)
        subset._train_examples = num_examples
        subset._num_examples = {}
        return subset

    def _prepare(self, download, manual_dir, download_config):
        name = self._builder.name
        manual_dir = (
            manual_dir
            or download_config.manual_dir
            or os.path.join(self._builder.data_dir_root, "downloads", "manual")
        )
        missing = [
            file
            for file in MANUAL_FILES.get(name, ())
            if not os.path.isfile(os.path.join(manual_dir, file))
        ]
        if missing:
            needs = (
                f"{name} needs files that you download yourself: put {' and '.join(missing)} "
                f"in {manual_dir}"
            )
            raise _not_prepared(
                f"{needs} (or pass manual_dir=...), then call get_source({name!r}, "
                "download=True) once to prepare it.",
                f"{needs}, then run the command once with --download to prepare it.",
            )
        if not download:
            unprepared = f"{name} is not prepared in {self._builder.data_dir}."
            raise _not_prepared(
                f"{unprepared} Pass download=True to download and prepare it, or data_dir= "
                "the folder where it is prepared.",
                f"{unprepared} Add --download to download and prepare it, or --data-dir "
                "the folder where it is prepared.",
            )
        download_config.manual_dir = manual_dir
        self._builder.download_and_prepare(download_config=download_config)

    def _tfds_split(self, split):
        known = set(self._builder.info.splits) | {"train", "validation"}
        split = check_split(split, accepted=tuple(sorted(known)))
        if (
            split == "validation"
            and "test" in self._builder.info.splits
            and ("validation" not in self._builder.info.splits)
        ):
            return "test"
        return split

    def num_examples(self, split):
        if split == "train" and self._train_examples is not None:
            return self._train_examples
        split = self._tfds_split(split)
        if split in self._builder.info.splits:
            return self._builder.info.splits[split].num_examples
        # Splits without recorded sizes (mocked datasets) are counted once.
        if split not in self._num_examples:
            self._num_examples[split] = int(
                self.dataset(split).reduce(0, lambda count, _: count + 1)
            )
        return self._num_examples[split]

    def dataset(self, split, *, shuffle=False, seed=None, reshuffle_each_iteration=True):
        split = self._tfds_split(split)
        if split == "train" and self._train_examples is not None:
            split = f"train[:{self._train_examples}]"
        examples = self._builder.as_dataset(
            split=split,
            shuffle_files=shuffle,
            decoders={self._image_key: tfds.decode.SkipDecoding()},
            read_config=tfds.ReadConfig(
                shuffle_seed=seed, shuffle_reshuffle_each_iteration=reshuffle_each_iteration
            ),
        )
        return examples.map(
            lambda example: {
                "image": example[self._image_key],
                "label": tf.cast(example[self._label_key], tf.int32),
            },
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )


def _not_prepared(message, command_line_message):
    """A `FileNotFoundError` with the advice for Python and, for `keras-prelu`, its options."""
    error = FileNotFoundError(message)
    error.command_line_message = command_line_message
    return error


def _unknown_name_message(name):
    return (
        f"`name` must be {DIGITS!r} (the bundled default source), a path to a "
        "folder of class folders, or a tensorflow-datasets image classification dataset such as "
        f"'imagenet2012' or 'mnist' (see tfds.list_builders()). Received: name={name!r}"
    )
