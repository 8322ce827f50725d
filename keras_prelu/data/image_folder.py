"""A folder of images with one subfolder per class."""

import logging
import os

import numpy as np
import tensorflow as tf

from keras_prelu.data.source import ListedSource
from keras_prelu.errors import InvalidValueError

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_VALIDATION_FRACTION", "ImageFolderSource"]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Images with more pixels by their header are skipped unread: Pillow's own limit
# against decompression bombs (a 23000x23000 PNG of 0.5 MB decodes to 1.6 GB).
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
# Training needs at least two classes: with one, every prediction is right.
MIN_CLASSES = 2
# Names accepted for the split subfolders of a folder that is already split.
SPLIT_FOLDERS = {"train": ("train",), "validation": ("validation", "val")}
DEFAULT_VALIDATION_FRACTION = 0.1
# The per-class split of an unsplit folder is the same on every machine and every run.
_SPLIT_SEED = 0


class ImageFolderSource(ListedSource):
    """Images in `root/<class>/...`, or in `root/train/<class>/...` and `root/val/<class>/...`.

    Class ids follow the sorted class folder names, as in
    `tfds.folder_dataset.ImageFolder`: ImageNet's synset folders (`n01440764`, ...)
    get the ids of tfds' `imagenet2012`. JPEG and PNG files (any case of
    `.jpg`, `.jpeg`, `.png`, also in nested folders) are read; grayscale, RGBA and
    CMYK images come out as RGB. Only regular files are listed (a FIFO or a socket
    named `x.png` is skipped: opening it would block). Files that cannot be decoded
    (corrupt, truncated, not an image) or whose header gives more than `max_pixels`
    pixels are skipped by the pipelines of `keras_prelu.data` before decoding; each
    skipped file is logged once with its path and listed in `undecodable_files`.
    The training split must have images in at least two classes.

    Args:
        root: the folder.
        validation_fraction: for a folder without `train`/`val` (or `validation`)
            subfolders, the fraction of each class held out for "validation"
            (a fixed choice); defaults to 0.1. Not accepted for a split folder.
        max_pixels: the largest image, `height * width` from the file's header;
            defaults to `DEFAULT_MAX_PIXELS` (89,478,485, Pillow's limit).
    """

    def __init__(self, root, *, validation_fraction=None, max_pixels=DEFAULT_MAX_PIXELS):
        if not (
            isinstance(max_pixels, int) and not isinstance(max_pixels, bool) and max_pixels > 0
        ):
            raise InvalidValueError(
                f"`max_pixels` must be a positive integer. Received: max_pixels={max_pixels!r}"
            )
        self.max_pixels = max_pixels
        skipped = []
        split_roots = _split_folders(root)
        if split_roots and validation_fraction is not None:
            raise InvalidValueError(
                "`validation_fraction` applies to a folder of class folders only; "
                f"{root} is already split into {sorted(split_roots.values())}. "
                f"Received: validation_fraction={validation_fraction}"
            )
        if split_roots:
            class_names = _class_folders(split_roots["train"], skipped)
            files = {
                split: _list_images(folder, class_names, skipped)
                for split, folder in split_roots.items()
            }
        else:
            if validation_fraction is None:
                validation_fraction = DEFAULT_VALIDATION_FRACTION
            if not 0 <= validation_fraction < 1:
                raise InvalidValueError(
                    "`validation_fraction` must be in [0, 1). "
                    f"Received: validation_fraction={validation_fraction}"
                )
            class_names = _class_folders(root, skipped)
            files = _split_by_fraction(
                _list_images(root, class_names, skipped), validation_fraction
            )
        _check_classes(root, class_names, files["train"][1])
        listed = {
            split: (np.array(paths, dtype=str), labels) for split, (paths, labels) in files.items()
        }
        super().__init__(os.fspath(root), class_names, listed)
        for path, reason in skipped:
            self.report_undecodable(path, reason)

    def training_subset(self, num_examples):
        raise InvalidValueError(
            "A training subset (`name[:N]`) of an image folder would hold its first classes "
            "only (files are listed class by class); make a folder with fewer files per class "
            f"instead. Received: name={self.name!r}[:{num_examples}]"
        )

    def dataset(self, split, *, shuffle=False, seed=None, reshuffle_each_iteration=True):
        # File names are small: all of them are shuffled before anything is read.
        files = self.listed_examples(
            split, shuffle=shuffle, seed=seed, reshuffle_each_iteration=reshuffle_each_iteration
        )
        return files.map(
            lambda path, label: {"image": tf.io.read_file(path), "label": label, "path": path},
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )


def _split_folders(root):
    if not os.path.isdir(root):
        raise InvalidValueError(f"`root` must be a folder. Received: root={root!r}")
    found = {}
    for split, names in SPLIT_FOLDERS.items():
        for name in names:
            if os.path.isdir(os.path.join(root, name)):
                found[split] = os.path.join(root, name)
    if found and set(found) != set(SPLIT_FOLDERS):
        raise InvalidValueError(
            f"`root` must have both a train and a validation folder {SPLIT_FOLDERS}, or "
            f"neither (class folders only). Received: root={root!r} with {sorted(found)}"
        )
    return found


def _class_folders(folder, skipped):
    """The class folder names in `folder`; entries that cannot be read (a link loop)
    are appended to `skipped`."""
    with os.scandir(folder) as entries:
        names = sorted(
            entry.name
            for entry in entries
            if not entry.name.startswith(".") and _is_dir(entry, skipped, follow_symlinks=True)
        )
    if not names:
        raise InvalidValueError(f"`root` must hold one folder per class. Found none in {folder!r}")
    return names


def _list_images(folder, class_names, skipped):
    """(paths, labels) of the images under `folder/<class name>` for every class.

    Image names that are not regular files (FIFOs, sockets, devices, broken links)
    and entries that cannot be read (link loops, folders without permission) are
    appended to `skipped` as `(path, reason)`.
    """
    present = set(_class_folders(folder, skipped))
    unknown = present - set(class_names)
    if unknown:
        raise InvalidValueError(
            f"`root` has class folders in {folder!r} that the train folder lacks: {sorted(unknown)}"
        )
    paths, labels = [], []
    for label, name in enumerate(class_names):
        class_paths = (
            sorted(_walk_images(os.path.join(folder, name), skipped)) if name in present else []
        )
        paths += class_paths
        labels += [label] * len(class_paths)
    return paths, labels


def _walk_images(folder, skipped):
    """The image files under `folder`, at any depth (links to folders are not followed)."""
    try:
        with os.scandir(folder) as entries:
            entries = list(entries)
    except OSError as error:
        skipped.append((folder, f"it cannot be read ({error.strerror})"))
        return
    for entry in entries:
        if _is_dir(entry, skipped, follow_symlinks=False):
            yield from _walk_images(entry.path, skipped)
        elif entry.name.lower().endswith(IMAGE_EXTENSIONS) and not entry.name.startswith("."):
            try:
                is_file = entry.is_file()
            except OSError as error:  # a link loop
                skipped.append((entry.path, f"it cannot be read ({error.strerror})"))
                continue
            if is_file:
                yield entry.path
            else:
                skipped.append((entry.path, "it is not a regular file"))


def _is_dir(entry, skipped, *, follow_symlinks):
    """Whether `entry` is a folder; one that cannot be told (a link loop) is skipped."""
    try:
        return entry.is_dir(follow_symlinks=follow_symlinks)
    except OSError as error:
        skipped.append((entry.path, f"it cannot be read ({error.strerror})"))
        return False


def _check_classes(root, class_names, train_labels):
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=len(class_names))
    with_images = [name for name, count in zip(class_names, counts) if count]
    if len(with_images) < MIN_CLASSES:
        raise InvalidValueError(
            f"`root` must have training images in at least {MIN_CLASSES} class folders "
            f"(one class makes every prediction right). Received: root={os.fspath(root)!r} "
            f"with {'/'.join(IMAGE_EXTENSIONS)} images in {with_images or 'no class'} of "
            f"its class folders {list(class_names)}"
        )
    empty = [name for name, count in zip(class_names, counts) if not count]
    if empty:
        logger.warning(
            "%s: the class folders %s have no training images; the model learns no "
            "example of them.",
            os.fspath(root),
            empty,
        )


def _split_by_fraction(files, validation_fraction):
    """Holds out `validation_fraction` of every class, chosen at random with a fixed seed."""
    paths, labels = np.array(files[0], dtype=object), np.array(files[1])
    rng = np.random.default_rng(_SPLIT_SEED)
    is_validation = np.zeros(len(paths), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        held_out = round(validation_fraction * len(members))
        is_validation[rng.permutation(members)[:held_out]] = True
    return {
        "train": (list(paths[~is_validation]), list(labels[~is_validation])),
        "validation": (list(paths[is_validation]), list(labels[is_validation])),
    }
