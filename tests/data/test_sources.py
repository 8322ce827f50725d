import logging
import os
import zlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image
from sklearn.datasets import load_digits

from keras_prelu import data
from keras_prelu.data import transforms
from tests.data.image_files import FOLDER_IMAGE_KINDS
from tests.data.image_files import smooth_pixels
from tests.data.image_files import write_class_folders
from tests.data.image_files import write_image
from tests.helpers.processes import run_python

# Runs in the TensorFlow session only: the data pipeline is TensorFlow's.
pytestmark = pytest.mark.backend("tensorflow")

IMAGENET_MANUAL_FILES = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")


def test_bundled_default_is_scikit_learn_digits_split_four_to_one():
    source = data.get_source(data.DEFAULT_SOURCE)
    digits = load_digits()
    assert source.name == data.DEFAULT_SOURCE
    assert source.num_classes == 10 and source.class_names == tuple("0123456789")
    assert source.num_examples("train") + source.num_examples("validation") == len(digits.target)

    validation = list(source.dataset("validation").as_numpy_iterator())
    assert len(validation) == source.num_examples("validation") == len(digits.target) // 5
    expected = np.round(digits.images[4::5] * 255 / 16)
    np.testing.assert_array_equal([example["image"][..., 0] for example in validation], expected)
    np.testing.assert_array_equal([example["label"] for example in validation], digits.target[4::5])


def test_bundled_default_augmentation_fits_its_small_images():
    augmentation = data.get_source(data.DEFAULT_SOURCE).default_augmentation()
    assert augmentation.crop_size <= 64 and augmentation.scale_range[1] <= 64
    assert 0 < augmentation.mean[0] < 255


def test_image_folder_classes_follow_sorted_folder_names(tmp_path, rng):
    # Synset-like names whose creation order differs from their sorted order.
    write_class_folders(tmp_path, ["n02", "n10", "n01"], rng)
    source = data.get_source(str(tmp_path), validation_fraction=0.0)
    assert source.class_names == ("n01", "n02", "n10")
    examples = list(source.dataset("train").as_numpy_iterator())
    assert len(examples) == 3 * len(FOLDER_IMAGE_KINDS) == source.num_examples("train")
    for example in examples:
        class_folder = os.path.basename(os.path.dirname(example["path"].decode()))
        assert source.class_names[example["label"]] == class_folder


def test_image_folder_decodes_every_kind_to_pil_rgb(tmp_path, rng):
    paths = write_class_folders(tmp_path, ["only"], rng)
    for path in paths:
        with open(path, "rb") as file:
            decoded = transforms.decode(tf.constant(file.read())).numpy().astype(np.float32)
        reference = np.asarray(Image.open(path).convert("RGB"), np.float32)
        assert decoded.shape == reference.shape, path
        # CMYK conversions differ slightly between libjpeg and PIL.
        assert np.abs(decoded - reference).mean() < 2, path


def test_image_folder_with_split_folders(tmp_path, rng):
    write_class_folders(tmp_path / "train", ["a", "b"], rng)
    write_class_folders(tmp_path / "val", ["b"], rng)
    source = data.get_source(str(tmp_path))
    assert source.num_examples("train") == 2 * len(FOLDER_IMAGE_KINDS)
    assert source.num_examples("validation") == len(FOLDER_IMAGE_KINDS)
    labels = [example["label"] for example in source.dataset("validation").as_numpy_iterator()]
    assert set(labels) == {1}


def test_image_folder_split_fraction_is_per_class_disjoint_and_fixed(tmp_path, rng):
    write_class_folders(tmp_path, ["a", "b"], rng)
    splits = [
        {
            split: set(
                data.ImageFolderSource(str(tmp_path), validation_fraction=0.4)
                .dataset(split)
                .map(lambda e: e["path"])
                .as_numpy_iterator()
            )
            for split in ("train", "validation")
        }
        for _ in range(2)
    ]
    assert splits[0] == splits[1]
    assert not splits[0]["train"] & splits[0]["validation"]
    assert len(splits[0]["validation"]) == 2 * round(0.4 * len(FOLDER_IMAGE_KINDS))


def test_undecodable_files_are_skipped_and_reported_once(tmp_path, rng, caplog):
    paths = write_class_folders(tmp_path, ["a", "b"], rng)
    with open(paths[0], "rb") as file:
        jpeg = file.read()
    broken = {"truncated.jpg": jpeg[: len(jpeg) // 2], "text.png": b"not an image"}
    for name, contents in broken.items():
        (tmp_path / "b" / name).write_bytes(contents)
    # Whole (its start and end markers), but a header libjpeg cannot read: dropped
    # by tf.data's ignore_errors, which logs TensorFlow's error without the path.
    (tmp_path / "b" / "bad_header.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(64) + b"\xff\xd9")
    source = data.get_source(str(tmp_path), validation_fraction=0.0)
    augmentation = data.Augmentation(scale_range=(16, 20), crop_size=16)

    with caplog.at_level(logging.WARNING, logger="keras_prelu.data"):
        for _ in range(2):  # two epochs
            images = data.training_dataset(source, 1, augmentation=augmentation, seed=0)
            assert sum(1 for _ in images) == len(paths)
    broken_paths = {str(tmp_path / "b" / name) for name in broken}
    assert source.undecodable_files == broken_paths
    messages = [record.getMessage() for record in caplog.records]
    reports = [message.split(" (")[0] for message in messages if message.startswith("Skipped")]
    assert sorted(reports) == sorted(
        f"Skipped {path}: it is not a whole JPEG or PNG file" for path in broken_paths
    )


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("no_such_dataset", {}, "`name`"),
        ("/no/such/folder", {}, "`name`"),
        (3, {}, "`name`"),
        (data.DEFAULT_SOURCE, {"download": True}, "download"),
        (data.DEFAULT_SOURCE, {"validation_fraction": 0.2}, "validation_fraction"),
    ],
)
def test_get_source_rejects_bad_arguments(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.get_source(name, **kwargs)


def test_image_folder_rejects_bad_arguments(tmp_path, rng):
    write_class_folders(tmp_path / "train", ["a", "b"], rng)
    with pytest.raises(ValueError, match="train and a validation folder"):
        data.get_source(str(tmp_path))
    write_class_folders(tmp_path / "validation", ["a", "b"], rng)
    with pytest.raises(ValueError, match="validation_fraction"):
        data.get_source(str(tmp_path), validation_fraction=0.1)
    with pytest.raises(ValueError, match="validation_fraction"):
        data.get_source(str(tmp_path / "train"), validation_fraction=1.0)
    with pytest.raises(ValueError, match="`split`"):
        data.get_source(str(tmp_path)).dataset("test")
    (tmp_path / "empty" / "class").mkdir(parents=True)
    with pytest.raises(ValueError, match="at least 2 class folders.* in no class"):
        data.get_source(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="`max_pixels`"):
        data.get_source(str(tmp_path), max_pixels=0)


def test_tfds_source_runs_the_tfds_code_path_offline(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        source = data.get_source("mnist", data_dir=str(tmp_path), download=True)
        assert source.num_classes == 10
        assert source.num_examples("validation") == 6  # mnist's "test" split
        example = next(iter(source.dataset("train")))
        assert example["image"].dtype == tf.string  # encoded, for fused decoding
        augmentation = data.Augmentation(
            scale_range=(28, 32), crop_size=24, mean=(33.0, 33.0, 33.0)
        )
        images, labels = next(
            iter(data.training_dataset(source, 4, augmentation=augmentation, seed=0))
        )
    assert images.shape == (4, 24, 24, 3) and labels.dtype == tf.int32


def test_imagenet2012_runs_offline_with_its_manual_files_in_place(tmp_path):
    manual_dir = tmp_path / "manual"
    manual_dir.mkdir()
    for name in IMAGENET_MANUAL_FILES:
        (manual_dir / name).touch()
    with tfds.testing.mock_data(num_examples=5):
        source = data.get_source(
            "imagenet2012", data_dir=str(tmp_path), download=True, manual_dir=str(manual_dir)
        )
        assert source.num_classes == 1000
        assert source.class_names[:2] == ("n01440764", "n01443537")
        views = data.evaluation_dataset(source, 2, views="ten", scale=16, crop_size=8)
        shapes = [images.shape for images, _ in views]
    assert shapes == [(2, 10, 8, 8, 3), (2, 10, 8, 8, 3), (1, 10, 8, 8, 3)]


def test_imagenet2012_without_its_files_says_which_files_go_where(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        data.get_source("imagenet2012", data_dir=str(tmp_path), download=True)
    message = str(error.value)
    assert all(name in message for name in IMAGENET_MANUAL_FILES)
    assert os.path.join(str(tmp_path), "downloads", "manual") in message


def write_blank_png(path, width, height):
    """A valid grey PNG of `width` x `height` zeros, compressed row by row: a few
    hundred kB on disk for a gigapixel image."""
    compressor = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0, then the pixels
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind, body):
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_an_image_over_the_pixel_limit_is_skipped_from_its_header(tmp_path, rng, caplog):
    paths = write_class_folders(tmp_path, ["a", "b"], rng)
    huge = tmp_path / "b" / "huge.png"
    write_blank_png(huge, 10_000, 10_000)  # 100M pixels: 300 MB decoded, 100 kB on disk
    assert huge.stat().st_size < 1_000_000
    source = data.get_source(str(tmp_path), validation_fraction=0.0)
    assert source.max_pixels == 89_478_485 < 10_000 * 10_000
    augmentation = data.Augmentation(scale_range=(16, 20), crop_size=16)
    with caplog.at_level(logging.WARNING, logger="keras_prelu.data"):
        images = data.training_dataset(source, 1, augmentation=augmentation, seed=0)
        assert sum(1 for _ in images) == len(paths)
    assert source.undecodable_files == {str(huge)}
    assert (
        f"Skipped {huge}: its header gives 10000x10000 = 100,000,000 pixels, more than the "
        "limit of 89,478,485 (max_pixels)" in caplog.text
    )
    # The limit is the source's: the same images are all over a lower one.
    small_limit = data.get_source(str(tmp_path), validation_fraction=0.0, max_pixels=400)
    evaluated = data.evaluation_dataset(small_limit, 4, split="train", scale=16, crop_size=16)
    assert sum(len(labels) for _, labels in evaluated) == 0
    assert small_limit.undecodable_files == set(paths) | {str(huge)}


def test_a_fifo_named_like_an_image_is_skipped_not_opened(tmp_path, rng):
    paths = write_class_folders(tmp_path, ["a", "b"], rng)
    os.mkfifo(tmp_path / "a" / "x.png")  # opening it would block until a writer came
    output = run_python(
        """
        import sys
        from keras_prelu import data
        source = data.get_source(sys.argv[1], validation_fraction=0.0)
        augmentation = data.Augmentation(scale_range=(16, 20), crop_size=16)
        images = data.training_dataset(source, 1, augmentation=augmentation, seed=0)
        print(sum(1 for _ in images), sorted(source.undecodable_files))
        """,
        tmp_path,
        timeout=120,
    )
    assert output.split(maxsplit=1) == [str(len(paths)), f"{[str(tmp_path / 'a' / 'x.png')]}\n"]


def test_one_class_or_one_full_and_one_empty_class_is_refused(tmp_path, rng):
    write_class_folders(tmp_path / "one", ["a"], rng)
    with pytest.raises(ValueError, match=r"at least 2 class folders.*in \['a'\] of its class"):
        data.get_source(str(tmp_path / "one"))
    (tmp_path / "one" / "b").mkdir()
    with pytest.raises(ValueError, match=r"in \['a'\] of its class folders \['a', 'b'\]"):
        data.get_source(str(tmp_path / "one"))


def test_image_folder_recipe_is_fitted_to_the_sizes_in_the_headers(tmp_path, rng, caplog):
    paths = write_class_folders(tmp_path, ["a", "b"], rng)
    # A broken file and one over the pixel limit are left out, neither is decoded.
    with open(os.path.join(tmp_path, "a", "broken.png"), "wb") as file:
        file.write(b"not an image")
    write_image(os.path.join(tmp_path, "b", "huge.png"), np.zeros((40, 40), np.uint8), "L", "PNG")
    source = data.ImageFolderSource(str(tmp_path), validation_fraction=0.0, max_pixels=1000)
    with caplog.at_level(logging.INFO, logger="keras_prelu.data.source"):
        augmentation = source.default_augmentation()
    shorter_sides = [min(size) for size, _, _ in FOLDER_IMAGE_KINDS.values()] * 2
    crop = max(int(np.median(shorter_sides)), 32)
    assert augmentation.crop_size == crop and augmentation.scale_range == (crop, round(1.25 * crop))
    pixels = [np.asarray(Image.open(path).convert("RGB"), np.float64) for path in paths]
    expected_mean = sum(image.sum(axis=(0, 1)) for image in pixels) / sum(
        image.shape[0] * image.shape[1] for image in pixels
    )
    # libjpeg and PIL differ slightly on CMYK JPEGs.
    np.testing.assert_allclose(augmentation.mean, expected_mean, atol=1.0)
    (message,) = [record.getMessage() for record in caplog.records if "median" in record.message]
    assert f"median shorter side {np.median(shorter_sides):g} px" in message
    assert f"U[{crop}, {round(1.25 * crop)}], {crop}x{crop} crops" in message
    assert "(the paper's)" not in message
    assert source.default_augmentation() is augmentation


def test_imagenet_sized_image_folder_keeps_the_papers_recipe(tmp_path, rng, caplog):
    for name, size in [("a", (256, 300)), ("b", (300, 400)), ("c", (120, 90))]:
        os.makedirs(tmp_path / name)
        write_image(tmp_path / name / "x.jpg", smooth_pixels(rng, size, 3), "RGB", "JPEG")
    source = data.get_source(str(tmp_path), validation_fraction=0.0)
    with caplog.at_level(logging.INFO, logger="keras_prelu.data.source"):
        augmentation = source.default_augmentation()
    assert augmentation.scale_range == (256, 512) and augmentation.crop_size == 224
    np.testing.assert_allclose(augmentation.mean, data.IMAGENET_RGB_MEAN, rtol=1e-6)
    assert augmentation.flip
    assert any("(the paper's)" in record.getMessage() for record in caplog.records)


def test_a_training_subset_fits_its_own_recipe(rng):
    images = rng.integers(0, 256, (4, 20, 20, 3), dtype=np.uint8)
    labels = np.array([0, 1, 0, 1])
    source = data.ArraySource((images, labels), (images, labels))
    np.testing.assert_allclose(source.default_augmentation().mean, images.mean(axis=(0, 1, 2)))
    subset = source.training_subset(2)
    np.testing.assert_allclose(
        subset.default_augmentation().mean, images[:2].mean(axis=(0, 1, 2)), rtol=1e-6
    )


def test_link_loops_are_skipped_and_reported_one_by_one(tmp_path, rng, caplog):
    paths = write_class_folders(tmp_path, ["a", "b"], rng)
    loops = [tmp_path / "a" / "loop.jpg", tmp_path / "loop_class", tmp_path / "b" / "x.png"]
    os.symlink("loop.jpg", loops[0])  # each link names itself
    os.symlink("loop_class", loops[1])
    os.symlink("x.png", loops[2])
    with caplog.at_level(logging.WARNING, logger="keras_prelu.data"):
        source = data.get_source(str(tmp_path), validation_fraction=0.0)
    assert list(source.class_names) == ["a", "b"] and source.num_examples("train") == len(paths)
    assert source.undecodable_files == {str(loop) for loop in loops}
    reports = sorted(
        record.getMessage().split(" (", 1)[0]
        for record in caplog.records
        if record.getMessage().startswith("Skipped")
    )
    assert reports == sorted(f"Skipped {loop}: it cannot be read" for loop in loops)
