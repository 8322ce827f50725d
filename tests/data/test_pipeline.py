import collections

import numpy as np
import pytest
import tensorflow as tf

from keras_prelu import data
from tests.helpers.images import write_image

# Runs in the TensorFlow session only: the data pipeline is TensorFlow's.
pytestmark = pytest.mark.backend("tensorflow")

NO_MEAN = (0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def digits():
    return data.get_source(data.DEFAULT_SOURCE)


@pytest.fixture
def numbered_folder(tmp_path):
    """13 constant PNGs whose grey level (10 * index) identifies them, in 3 classes."""
    for index in range(13):
        folder = tmp_path / f"class{index % 3}"
        folder.mkdir(exist_ok=True)
        write_image(
            folder / f"{index:02d}.png", np.full((12, 16, 3), 10 * index, np.uint8), "RGB", "PNG"
        )
    return data.get_source(str(tmp_path), validation_fraction=0.0)


def test_training_batches_have_the_crop_shape_and_drop_the_remainder(digits):
    batches = list(data.training_dataset(digits, 100, seed=0))
    crop = digits.default_augmentation().crop_size
    assert len(batches) == digits.num_examples("train") // 100
    for images, labels in batches:
        assert images.shape == (100, crop, crop, 3) and images.dtype == tf.float32
        assert labels.shape == (100,) and labels.dtype == tf.int32


def test_training_is_reproducible_with_a_seed_and_new_every_epoch(digits):
    first, again = (data.training_dataset(digits, 32, seed=3) for _ in range(2))
    first_epoch = [images.numpy() for images, _ in first.take(2)]
    np.testing.assert_array_equal(first_epoch, [images.numpy() for images, _ in again.take(2)])
    second_epoch = [images.numpy() for images, _ in first.take(2)]
    assert np.abs(np.subtract(first_epoch, second_epoch)).max() > 1


def test_training_without_reshuffling_repeats_its_first_pass(digits):
    dataset = data.training_dataset(digits, 32, seed=3, reshuffle_each_iteration=False)
    first_pass, second_pass = ([images.numpy() for images, _ in dataset.take(3)] for _ in range(2))
    np.testing.assert_array_equal(first_pass, second_pass)


@pytest.mark.parametrize("num_shards", [2, 4])
def test_training_shards_are_the_rows_of_the_one_process_batches(digits, num_shards):
    whole = list(data.training_dataset(digits, 64, seed=5))
    shards = [
        list(data.training_dataset(digits, 64, seed=5, num_shards=num_shards, shard_index=i))
        for i in range(num_shards)
    ]
    assert [len(shard) for shard in shards] == [len(whole)] * num_shards
    for step, (images, labels) in enumerate(whole):
        np.testing.assert_array_equal(np.concatenate([shard[step][0] for shard in shards]), images)
        np.testing.assert_array_equal(np.concatenate([shard[step][1] for shard in shards]), labels)


def test_training_shards_see_each_image_once_an_epoch(numbered_folder):
    augmentation = data.Augmentation(
        scale_range=(12, 12), crop_size=12, flip=False, pca_std=0.0, mean=NO_MEAN
    )
    seen = [
        np.round(images.numpy().mean(axis=(1, 2, 3)) / 10)
        for index in range(2)
        for images, _ in data.training_dataset(
            numbered_folder,
            6,
            augmentation=augmentation,
            seed=1,
            num_shards=2,
            shard_index=index,
        )
    ]
    # 13 images: two global batches of 6, the 13th dropped.
    assert len(seen) == 4 and all(len(rows) == 3 for rows in seen)
    assert len(set(np.concatenate(seen))) == 12


def test_training_visits_each_image_once_an_epoch(numbered_folder):
    augmentation = data.Augmentation(
        scale_range=(12, 12), crop_size=12, flip=False, pca_std=0.0, mean=NO_MEAN
    )
    images = data.training_dataset(numbered_folder, 13, augmentation=augmentation, seed=0)
    ((batch, _),) = list(images)
    assert sorted(np.round(batch.numpy().mean(axis=(1, 2, 3)) / 10)) == list(range(13))


@pytest.mark.parametrize(
    "views, batch_size, view_shape",
    [("center", 4, (8, 8, 3)), ("ten", 4, (10, 8, 8, 3)), ("full", 1, (12, 16, 3))],
)
def test_evaluation_sees_every_image_exactly_once(numbered_folder, views, batch_size, view_shape):
    batches = list(
        data.evaluation_dataset(
            numbered_folder,
            batch_size,
            split="train",
            views=views,
            scale=12,
            crop_size=8,
            mean=NO_MEAN,
        )
    )
    assert [len(labels) for _, labels in batches] == [batch_size] * (13 // batch_size) + (
        [13 % batch_size] if 13 % batch_size else []
    )
    images = np.concatenate([images.numpy() for images, _ in batches])
    labels = np.concatenate([labels.numpy() for _, labels in batches])
    assert images.shape[1:] == view_shape
    identities = np.round(images.reshape(len(images), -1).mean(axis=1) / 10).astype(int)
    assert sorted(identities) == list(range(13))
    np.testing.assert_array_equal(labels, identities % 3)


def test_evaluation_on_the_bundled_default_counts_each_class(digits):
    labels = np.concatenate(
        [labels.numpy() for _, labels in data.evaluation_dataset(digits, 64, views="ten")]
    )
    truth = [example["label"] for example in digits.dataset("validation").as_numpy_iterator()]
    assert collections.Counter(labels) == collections.Counter(truth)


@pytest.mark.parametrize("num_shards", [1, 2])
def test_padded_evaluation_weighs_out_the_filling_and_splits_each_batch(
    numbered_folder, num_shards
):
    kwargs = dict(split="train", scale=12, crop_size=8, mean=NO_MEAN)
    plain = np.concatenate(
        [images for images, _ in data.evaluation_dataset(numbered_folder, 4, **kwargs)]
    )
    shards = [
        list(
            data.evaluation_dataset(
                numbered_folder,
                4,
                pad_remainder=True,
                num_shards=num_shards,
                shard_index=index,
                **kwargs,
            )
        )
        for index in range(num_shards)
    ]
    # 13 images in batches of 4: 4 batches, 3 rows of the last one filling.
    assert [len(shard) for shard in shards] == [4] * num_shards
    batches = [
        [np.concatenate([shard[step][part] for shard in shards]) for part in range(3)]
        for step in range(4)
    ]
    images, _, weights = (np.concatenate(part) for part in zip(*batches))
    assert images.shape[0] == 16 and all(len(batch[0]) == 4 for batch in batches)
    np.testing.assert_array_equal(weights, [1.0] * 13 + [0.0] * 3)
    np.testing.assert_array_equal(images[:13], plain)
    np.testing.assert_array_equal(images[13:], np.repeat(plain[12:13], 3, axis=0))


def test_padded_evaluation_weighs_out_broken_files_before_sharding(numbered_folder, tmp_path):
    (tmp_path / "class0" / "99.png").write_bytes(b"not an image")
    source = data.get_source(str(tmp_path), validation_fraction=0.0)
    datasets = [
        data.evaluation_dataset(
            source,
            4,
            split="train",
            scale=12,
            crop_size=8,
            mean=NO_MEAN,
            pad_remainder=True,
            num_shards=2,
            shard_index=index,
        )
        for index in range(2)
    ]
    shards = [list(dataset) for dataset in datasets]
    # 14 files, one broken: 4 batches of 4 with 13 weighed in.
    assert [shard.cardinality() for shard in datasets] == [4, 4]
    assert len(shards[0]) == len(shards[1]) == 4
    assert sum(float(np.sum(weights)) for shard in shards for _, _, weights in shard) == 13
    assert source.undecodable_files == {str(tmp_path / "class0" / "99.png")}


def test_evaluation_subtracts_the_mean(numbered_folder):
    mean = np.array([1.0, 2.0, 3.0], np.float32)
    views = [
        next(
            iter(
                data.evaluation_dataset(
                    numbered_folder, 13, split="train", scale=12, crop_size=8, mean=m
                )
            )
        )[0]
        for m in (mean, NO_MEAN)
    ]
    np.testing.assert_allclose(views[0], views[1] - mean, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"views": "five"}, "`views`"),
        ({"views": "full", "batch_size": 2}, "`batch_size`"),
        ({"batch_size": 0}, "`batch_size`"),
        ({"batch_size": True}, "`batch_size`"),
        ({"scale": 8, "crop_size": 16}, "`crop_size`"),
        ({"scale": True, "crop_size": True}, "`crop_size`"),
        ({"mean": (float("nan"),) * 3}, "`mean` must hold finite numbers"),
        ({"mean": np.zeros((5, 5, 3))}, "`mean`"),
        ({"split": "test"}, "`split`"),
        ({"num_shards": 2}, "`pad_remainder`"),
        ({"batch_size": 5, "num_shards": 2, "pad_remainder": True}, "`batch_size`"),
        ({"num_shards": 2, "shard_index": -1, "pad_remainder": True}, "`shard_index`"),
    ],
)
def test_evaluation_rejects_bad_arguments(digits, kwargs, message):
    kwargs = {"batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        data.evaluation_dataset(digits, kwargs.pop("batch_size"), **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "`batch_size`"),
        ({"batch_size": True}, "`batch_size`"),
        ({"batch_size": 63, "num_shards": 2}, "`batch_size`"),
        ({"num_shards": True}, "`num_shards`"),
        ({"num_shards": 0}, "`num_shards`"),
        ({"num_shards": 2, "shard_index": 2}, "`shard_index`"),
        ({"shuffle_buffer": -1}, "`shuffle_buffer`"),
        ({"num_shards": 2}, "`seed`"),
    ],
)
def test_training_rejects_bad_arguments(digits, kwargs, message):
    kwargs = {"batch_size": 64, **kwargs}
    with pytest.raises(ValueError, match=message):
        data.training_dataset(digits, kwargs.pop("batch_size"), **kwargs)
