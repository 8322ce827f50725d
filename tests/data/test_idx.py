"""The IDX reader and MNIST-style folders, on small files written here."""

import gzip
import struct

import numpy as np
import pytest
import tensorflow as tf

from keras_prelu import data
from keras_prelu.data import idx
from keras_prelu.data import registry
from keras_prelu.data import transforms
from tests.helpers.images import write_class_folders

# Runs in the TensorFlow session only: the data pipeline is TensorFlow's.
pytestmark = pytest.mark.backend("tensorflow")


def idx_bytes(array, type_code=0x08):
    """`array` in the IDX format, written from its definition."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(idx.IDX_DTYPES[type_code]).tobytes()


def write_idx_folder(root, rng, *, train=12, validation=5, size=(7, 5), compress=True):
    """The four files of an MNIST-style dataset: random images, labels 0..9 in turn."""
    root.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, count in (("train", train), ("validation", validation)):
        images = rng.integers(0, 256, (count, *size), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        for name, array in zip(idx.IDX_FILES[split], (images, labels)):
            contents = idx_bytes(array)
            path = root / (name + (".gz" if compress else ""))
            path.write_bytes(gzip.compress(contents) if compress else contents)
        written[split] = (images, labels)
    return written


@pytest.mark.parametrize("type_code", sorted(idx.IDX_DTYPES))
def test_read_idx_gives_back_every_type_and_shape(tmp_path, rng, type_code):
    array = (rng.standard_normal((3, 4, 2)) * 50).astype(
        idx.IDX_DTYPES[type_code].newbyteorder("=")
    )
    path = tmp_path / "array-idx3"
    path.write_bytes(idx_bytes(array, type_code))
    read = idx.read_idx(path)
    assert read.dtype == array.dtype and read.dtype.isnative
    np.testing.assert_array_equal(read, array)


def test_read_idx_reads_gzipped_files(tmp_path, rng):
    array = rng.integers(0, 256, (4, 3, 3), dtype=np.uint8)
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(idx.read_idx(path), array)


@pytest.mark.parametrize(
    "contents, message",
    [
        (b"", "does not start with an IDX magic number"),
        (b"\x00\x01\x08\x01" + struct.pack(">i", 1) + b"x", "does not start with an IDX magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">i", 1) + b"x", "does not start with an IDX magic"),
        (b"\x00\x00\x08\x03" + struct.pack(">i", 2), "truncated: its header needs 16 bytes"),
        (b"\x00\x00\x08\x02" + struct.pack(">2i", 2, 3) + b"\x01" * 5, "is truncated"),
        (b"\x00\x00\x08\x01" + struct.pack(">i", 2) + b"\x01" * 3, "has bytes after its data"),
    ],
)
def test_read_idx_names_the_file_and_what_is_wrong(tmp_path, contents, message):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(contents)
    with pytest.raises(ValueError, match=message) as error:
        idx.read_idx(path)
    assert str(path) in str(error.value)


def test_read_idx_names_a_truncated_gzip_file(tmp_path, rng):
    path = tmp_path / "cut-idx3-ubyte.gz"
    compressed = gzip.compress(idx_bytes(rng.integers(0, 256, (50, 9, 9), dtype=np.uint8)))
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match=f"{path} is a damaged or truncated gzip file"):
        idx.read_idx(path)


@pytest.mark.parametrize("compress", [True, False])
def test_a_folder_of_idx_files_is_a_source(tmp_path, rng, compress):
    written = write_idx_folder(tmp_path, rng, compress=compress)
    source = data.get_source(str(tmp_path))
    assert isinstance(source, data.IDXSource)
    assert source.class_names == tuple(str(label) for label in range(10))
    for split, (images, labels) in written.items():
        examples = list(source.dataset(split).as_numpy_iterator())
        assert len(examples) == source.num_examples(split) == len(labels)
        np.testing.assert_array_equal([e["image"][..., 0] for e in examples], images)
        np.testing.assert_array_equal([e["label"] for e in examples], labels)
    # The transforms turn the grayscale pixels into equal RGB channels.
    image = source.dataset("train").as_numpy_iterator().next()["image"]
    rgb = transforms.decode(tf.constant(image)).numpy()
    assert rgb.shape == (7, 5, 3) and (rgb == image).all()


def test_idx_default_augmentation_is_fitted_to_the_data(tmp_path, rng):
    images = write_idx_folder(tmp_path, rng)["train"][0]
    augmentation = data.get_source(str(tmp_path)).default_augmentation()
    assert augmentation.crop_size == 32 and augmentation.scale_range == (32, 40)
    assert augmentation.flip
    np.testing.assert_allclose(augmentation.mean, [images.mean()] * 3, rtol=1e-6)
    # PCA of grayscale pixels replicated to RGB: the covariance is Var[x] times a
    # matrix of ones, whose one non-zero eigenvalue is 3 Var[x], along (1, 1, 1).
    pixels = np.repeat((images / 255.0).reshape(-1, 1), 3, axis=1)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(pixels.T, bias=True))
    np.testing.assert_allclose(augmentation.pca_eigenvalues[0], eigenvalues[-1], rtol=1e-5)
    np.testing.assert_allclose(augmentation.pca_eigenvalues[1:], 0.0)
    axis = augmentation.pca_eigenvectors[:, 0]
    np.testing.assert_allclose(np.abs(axis), np.abs(eigenvectors[:, -1]), rtol=1e-5)
    np.testing.assert_allclose(
        augmentation.pca_eigenvectors.T @ augmentation.pca_eigenvectors, np.eye(3), atol=1e-6
    )


def test_idx_folder_errors_name_the_files(tmp_path, rng):
    write_idx_folder(tmp_path, rng, compress=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match="disagree: 5 images, 4 labels") as error:
        data.IDXSource(tmp_path)
    assert str(labels) in str(error.value)

    labels.write_bytes(idx_bytes(np.full(5, 3, np.uint8)))
    with pytest.raises(ValueError, match="labels-idx1-ubyte has label 9, but there are 2 class"):
        data.IDXSource(tmp_path, class_names=("a", "b"))

    images = tmp_path / "t10k-images-idx3-ubyte"
    images.write_bytes(idx_bytes(np.zeros((5, 7, 5), np.int32), type_code=0x0C))
    with pytest.raises(ValueError, match="must hold uint8 images") as error:
        data.IDXSource(tmp_path)
    assert str(images) in str(error.value)

    images.write_bytes(idx_bytes(np.zeros((5, 6, 6), np.uint8)))
    with pytest.raises(ValueError, match="images of different sizes per split"):
        data.IDXSource(tmp_path)

    images.unlink()
    with pytest.raises(ValueError, match="must be a folder with the four IDX files"):
        data.IDXSource(tmp_path)


def test_fashion_mnist_reads_the_debian_folder_when_tfds_has_not_prepared_it(
    tmp_path, rng, monkeypatch
):
    write_idx_folder(tmp_path / "debian", rng)
    monkeypatch.setattr(registry, "_DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "debian"))
    # tensorflow-datasets' data folder is empty here: fashion_mnist is not prepared.
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    source = data.get_source("fashion_mnist")
    assert isinstance(source, data.IDXSource) and source.name == "fashion_mnist"
    assert source.class_names[0] == "T-shirt/top" and source.num_classes == 10
    # Asking tensorflow-datasets for its own data still goes to tensorflow-datasets.
    with pytest.raises(FileNotFoundError, match="fashion_mnist is not prepared"):
        data.get_source("fashion_mnist", data_dir=str(tmp_path / "tfds"))


def test_a_training_subset_keeps_the_first_examples_and_the_whole_validation(tmp_path, rng):
    written = write_idx_folder(tmp_path, rng)
    subset = data.get_source(f"{tmp_path}[:7]")
    assert subset.name == f"{tmp_path}[:7]"
    assert subset.num_examples("train") == 7
    assert subset.num_examples("validation") == len(written["validation"][1])
    labels = [e["label"] for e in subset.dataset("train").as_numpy_iterator()]
    np.testing.assert_array_equal(labels, written["train"][1][:7])
    shuffled = [e["label"] for e in subset.dataset("train", shuffle=True, seed=0)]
    assert sorted(shuffled) == sorted(labels)
    # The subset's augmentation is fitted to the subset's pixels.
    np.testing.assert_allclose(
        subset.default_augmentation().mean[0], written["train"][0][:7].mean(), rtol=1e-6
    )
    digits = data.get_source("digits[:100]")
    assert digits.num_examples("train") == 100


def test_a_training_subset_must_fit_the_training_split(tmp_path, rng):
    write_idx_folder(tmp_path / "idx", rng, train=12)
    with pytest.raises(ValueError, match=r"must have 1 <= N <= 12.*Received: N=13"):
        data.get_source(f"{tmp_path / 'idx'}[:13]")
    with pytest.raises(ValueError, match=r"Received: N=0"):
        data.get_source("digits[:0]")
    write_class_folders(tmp_path / "folder", ["a", "b"], rng)
    with pytest.raises(ValueError, match="would hold its first classes only"):
        data.get_source(f"{tmp_path / 'folder'}[:3]")
