"""`get_source`: one name for every kind of source."""

import os

from keras_prelu.data.digits import DIGITS_SOURCE_NAME
from keras_prelu.data.digits import DigitsSource
from keras_prelu.data.image_folder import ImageFolderSource
from keras_prelu.data.source import Source
from keras_prelu.data.tfds_source import TFDSSource

# The source used when none is named: offline, small and real (see `DigitsSource`).
DEFAULT_SOURCE = DIGITS_SOURCE_NAME


def get_source(name, *, data_dir=None, download=False, **kwargs):
    """Returns the `Source` called `name`.

    Args:
        name: `DEFAULT_SOURCE` ("digits", bundled, offline), a path to a folder of
            class folders (`ImageFolderSource`), a tensorflow-datasets image
            classification dataset such as "imagenet2012" (`TFDSSource`), or a
            `Source`, returned as it is (`ArraySource`, `DatasetSource`...).
        data_dir: tfds' data folder (tfds datasets only).
        download: whether tfds may download and prepare the dataset.
        **kwargs: passed on to the source: `validation_fraction` for a folder;
            `manual_dir`, `download_config` for tfds.

    Raises:
        ValueError: `name` is none of these, or an option does not apply to it.
        FileNotFoundError: a tfds dataset is not prepared (for "imagenet2012": which
            files to put where).
    """
    if isinstance(name, Source):
        _check_no_options(name.name, kwargs, data_dir=data_dir, download=download)
        return name
    if not isinstance(name, (str, os.PathLike)):
        raise ValueError(
            f"`name` must be a string, a path or a keras_prelu.data.Source. Received: name={name!r}"
        )
    if name == DEFAULT_SOURCE:
        _check_no_options(name, kwargs, data_dir=data_dir, download=download)
        return DigitsSource()
    if os.path.isdir(name):
        _check_no_options(name, {}, data_dir=data_dir, download=download)
        return ImageFolderSource(name, **kwargs)
    return TFDSSource(os.fspath(name), data_dir=data_dir, download=download, **kwargs)


def _check_no_options(name, kwargs, **tfds_options):
    given = sorted(kwargs) + [key for key, value in tfds_options.items() if value]
    if given:
        raise ValueError(
            f"Options {given} do not apply to the source name={name!r}; they apply to "
            "tensorflow-datasets sources (data_dir, download) or image folders."
        )
