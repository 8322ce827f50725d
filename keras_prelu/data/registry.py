"""`get_source`: a source by its name (bundled, IDX or image folder, tensorflow-datasets)."""

import logging
import os
import re

from keras_prelu.data.digits import DigitsSource
from keras_prelu.data.idx import FASHION_MNIST_CLASSES
from keras_prelu.data.idx import IDXSource
from keras_prelu.data.idx import find_idx_files
from keras_prelu.data.image_folder import ImageFolderSource
from keras_prelu.data.names import DEFAULT_SOURCE
from keras_prelu.data.names import FASHION_MNIST
from keras_prelu.data.source import Source
from keras_prelu.data.tfds_source import TFDSSource
from keras_prelu.errors import InvalidValueError
from keras_prelu.errors import summarize

__all__ = ["get_source"]

logger = logging.getLogger(__name__)

# The folder where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST's
# four original IDX files.
_DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
# `name[:N]`: the first N training examples of source `name` (tfds' slicing syntax).
_SUBSET = re.compile(r"(?P<name>.+)\[:(?P<count>\d+)\]")


def get_source(name, *, data_dir=None, download=False, **kwargs):
    """Returns the `Source` called `name`.

    Args:
        name: one of
            - `DEFAULT_SOURCE` ("digits", bundled, offline);
            - a folder with the four IDX files of an MNIST-style dataset
              (`IDXSource`), or else of class folders (`ImageFolderSource`);
            - "fashion_mnist": tensorflow-datasets' when it is prepared (or
              `data_dir` or `download` is given), else the IDX files of Debian's
              `dataset-fashion-mnist` package in /usr/share/datasets/fashion-mnist when
              they are there;
            - a tensorflow-datasets image classification dataset such as
              "imagenet2012" (`TFDSSource`);
            - any of these followed by `[:N]`, e.g. "fashion_mnist[:10000]": the
              first N examples of its training split (`Source.training_subset`),
              its validation split whole;
            - a `Source`, returned as it is (`ArraySource`, `DatasetSource`...).
        data_dir: tfds' data folder (tfds datasets only).
        download: whether tfds may download and prepare the dataset.
        **kwargs: passed on to the source: `validation_fraction` for a folder of
            class folders, `class_names` for an IDX folder; `manual_dir`,
            `download_config` for tfds.

    Raises:
        ValueError: `name` is none of these, or an option does not apply to it.
        FileNotFoundError: a tfds dataset is not prepared (for "imagenet2012": which
            files to put where).
    """
    if isinstance(name, Source):
        _check_no_options(name.name, kwargs, data_dir=data_dir, download=download)
        return name
    if not isinstance(name, (str, os.PathLike)):
        raise InvalidValueError(
            "`name` must be a string, a path or a keras_prelu.data.Source. "
            f"Received: name={summarize(name)}"
        )
    subset = _SUBSET.fullmatch(os.fspath(name))
    if subset:
        source = get_source(subset["name"], data_dir=data_dir, download=download, **kwargs)
        return source.training_subset(int(subset["count"]))
    if name == DEFAULT_SOURCE:
        _check_no_options(name, kwargs, data_dir=data_dir, download=download)
        return DigitsSource()
    if os.path.isdir(name):
        _check_no_options(name, {}, data_dir=data_dir, download=download)
        if find_idx_files(name) is not None:
            _check_no_options(name, {k: v for k, v in kwargs.items() if k != "class_names"})
            return IDXSource(name, **kwargs)
        return ImageFolderSource(name, **kwargs)
    if name == FASHION_MNIST and _use_debian_fashion_mnist(data_dir, download, kwargs):
        logger.info(
            "%s: tensorflow-datasets has not prepared it; reading Debian's IDX files in %s.",
            FASHION_MNIST,
            _DEBIAN_FASHION_MNIST_DIR,
        )
        return IDXSource(_DEBIAN_FASHION_MNIST_DIR, name=name, class_names=FASHION_MNIST_CLASSES)
    return TFDSSource(os.fspath(name), data_dir=data_dir, download=download, **kwargs)


def _use_debian_fashion_mnist(data_dir, download, kwargs):
    """Whether "fashion_mnist" is read from Debian's folder rather than tfds'."""
    if data_dir or download or kwargs or find_idx_files(_DEBIAN_FASHION_MNIST_DIR) is None:
        return False
    import tensorflow_datasets as tfds

    return not tfds.builder(FASHION_MNIST).is_prepared()


def _check_no_options(name, kwargs, **tfds_options):
    given = sorted(kwargs) + [key for key, value in tfds_options.items() if value]
    if given:
        raise InvalidValueError(
            f"Options {given} do not apply to the source name={name!r}; they apply to "
            "tensorflow-datasets sources (data_dir, download), folders of class folders "
            "(validation_fraction) or IDX folders (class_names)."
        )
