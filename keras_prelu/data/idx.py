"""MNIST-style datasets: the IDX file format and a source of its four files.

IDX (the format of MNIST and Fashion-MNIST, as `keras.datasets` and
tensorflow-datasets download them): two zero bytes, a type code (0x08 for
unsigned bytes), the number of dimensions `d`, then `d` sizes as big-endian
int32, then the values, big-endian, in row-major order. The files usually come
gzipped (`.gz`).
"""

import dataclasses
import gzip
import os
import zlib

import numpy as np

from keras_prelu.data.source import ListedSource
from keras_prelu.errors import InvalidValueError

__all__ = [
    "FASHION_MNIST_CLASSES",
    "IDX_DTYPES",
    "IDX_FILES",
    "IDXSource",
    "find_idx_files",
    "read_idx",
]

# The type codes of the IDX format and the NumPy dtypes they stand for.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# The four files of an MNIST-style folder, `{split: (images, labels)}`; each is
# read gzipped (the name + ".gz", as downloaded) or not.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "validation": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Fashion-MNIST's classes, in label order (Xiao et al., 2017).
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path):
    """The array stored in the IDX file `path`, gzipped or not.

    Returns:
        A NumPy array of the file's shape and type, in native byte order.

    Raises:
        ValueError: the file is not IDX (wrong magic number or type code), is
            truncated, or holds more bytes than its sizes say; the message names
            the file.
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        contents = file.read()
    if contents[:2] == _GZIP_MAGIC:
        try:
            contents = gzip.decompress(contents)
        except (EOFError, OSError, zlib.error) as error:
            raise InvalidValueError(
                f"IDX file {path} is a damaged or truncated gzip file: {error}"
            ) from error
    if len(contents) < 4 or contents[:2] != b"\0\0" or contents[2] not in IDX_DTYPES:
        raise InvalidValueError(
            f"IDX file {path} does not start with an IDX magic number (two zero bytes, a type "
            f"code in {sorted(IDX_DTYPES)}, the number of dimensions). "
            f"Received: {contents[:4].hex(' ') or 'an empty file'}"
        )
    dtype, ndim = IDX_DTYPES[contents[2]], contents[3]
    header_size = 4 + 4 * ndim
    if len(contents) < header_size:
        raise InvalidValueError(
            f"IDX file {path} is truncated: its header needs {header_size} bytes for "
            f"{ndim} dimension sizes, the file has {len(contents)}."
        )
    shape = tuple(int(size) for size in np.frombuffer(contents, ">i4", ndim, offset=4))
    expected = header_size + dtype.itemsize * int(np.prod(shape))
    if len(contents) != expected:
        problem = "is truncated" if len(contents) < expected else "has bytes after its data"
        raise InvalidValueError(
            f"IDX file {path} {problem}: its header gives shape {shape}, {expected} bytes in "
            f"all, the file has {len(contents)}."
        )
    values = np.frombuffer(contents, dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def find_idx_files(root):
    """`{split: (images path, labels path)}` of an MNIST-style folder, or None.

    None unless all four files (`IDX_FILES`, each gzipped or not) are there.
    """
    found = {}
    for split, names in IDX_FILES.items():
        paths = []
        for name in names:
            candidates = [os.path.join(root, name + ending) for ending in (".gz", "")]
            present = [path for path in candidates if os.path.isfile(path)]
            if not present:
                return None
            paths.append(present[0])
        found[split] = tuple(paths)
    return found


class IDXSource(ListedSource):
    """An MNIST-style dataset: a folder of its four IDX files, e.g. Fashion-MNIST.

    The folder holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`
    ("train") and `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`
    ("validation"), each gzipped (`.gz`, as downloaded) or not: the files of
    MNIST and Fashion-MNIST. Images are kept in memory as grayscale `uint8`
    `(height, width, 1)`; the transforms turn them into RGB.

    `default_augmentation()` is the paper's recipe at sizes fitted to the images
    (`fitted_augmentation`: for 28x28, shorter side 32-40, 32x32 crops), with
    horizontal flips (a mirrored garment is the same garment; for handwritten
    digits, train with `augmentation={"flip": False}`), the training split's
    mean, and AlexNet's colour altering computed on this data: the principal
    components of its pixels, which for grayscale images replicated to RGB are
    one, brightness, with eigenvalue `3 Var[x]` (pixels in [0, 1]).

    Args:
        root: the folder.
        name: the source's name (default: `root`).
        class_names: one name per label (default: "0", "1", ...).

    Raises:
        ValueError: a file is missing or broken, the images are not `uint8`
            `(count, height, width)`, images and labels disagree in count, a
            label has no class, or the two splits differ in image size.
    """

    def __init__(self, root, *, name=None, class_names=None):
        root = os.fspath(root)
        files = find_idx_files(root)
        if files is None:
            raise InvalidValueError(
                f"`root` must be a folder with the four IDX files "
                f"{[name for names in IDX_FILES.values() for name in names]} (each may end in "
                f".gz). Received: root={root!r}"
            )
        splits = {split: _read_split(*paths) for split, paths in files.items()}
        sizes = {split: images.shape[1:3] for split, (images, _) in splits.items()}
        if len(set(sizes.values())) != 1:
            raise InvalidValueError(
                f"The IDX files in {root} hold images of different sizes per split: {sizes}."
            )
        num_classes = max(int(labels.max(initial=0)) for _, labels in splits.values()) + 1
        if class_names is None:
            class_names = [str(label) for label in range(num_classes)]
        for split, (_, labels) in splits.items():
            if labels.size and labels.max() >= len(class_names):
                raise InvalidValueError(
                    f"IDX file {files[split][1]} has label {int(labels.max())}, but there are "
                    f"{len(class_names)} class names: {list(class_names)}."
                )
        self.files = files
        super().__init__(root if name is None else name, class_names, splits)

    def dataset(self, split, *, shuffle=False, seed=None, reshuffle_each_iteration=True):
        examples = self.listed_examples(
            split, shuffle=shuffle, seed=seed, reshuffle_each_iteration=reshuffle_each_iteration
        )
        return examples.map(lambda image, label: {"image": image, "label": label})

    def training_image_statistics(self):
        pixels = self._splits["train"][0]
        mean = float(pixels.mean(dtype=np.float64))
        return np.full(len(pixels), min(pixels.shape[1:3])), (mean, mean, mean)

    def default_augmentation(self):
        variance = float((self._splits["train"][0] / 255.0).var(dtype=np.float64))
        return dataclasses.replace(
            super().default_augmentation(),
            pca_eigenvalues=(3.0 * variance, 0.0, 0.0),
            pca_eigenvectors=_GRAY_PRINCIPAL_AXES,
        )


# Columns: brightness (1, 1, 1) / sqrt(3), then two axes orthogonal to it.
_GRAY_PRINCIPAL_AXES = np.stack(
    [
        np.array([1.0, 1.0, 1.0]) / np.sqrt(3.0),
        np.array([1.0, -1.0, 0.0]) / np.sqrt(2.0),
        np.array([1.0, 1.0, -2.0]) / np.sqrt(6.0),
    ],
    axis=1,
)


def _read_split(images_path, labels_path):
    """`(images (n, h, w, 1) uint8, labels (n,) int32)` of one split's files."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise InvalidValueError(
            f"IDX file {images_path} must hold uint8 images of shape (count, height, width). "
            f"Received: {images.dtype} of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise InvalidValueError(
            f"IDX file {labels_path} must hold uint8 labels of shape (count,). "
            f"Received: {labels.dtype} of shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise InvalidValueError(
            f"IDX files {images_path} and {labels_path} disagree: {len(images)} images, "
            f"{len(labels)} labels."
        )
    return images[..., np.newaxis], labels.astype(np.int32)
