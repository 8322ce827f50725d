import numpy as np
import pytest
import tensorflow as tf

from keras_prelu import data
from keras_prelu import paper

# Runs in the TensorFlow session only: the data pipeline is TensorFlow's.
pytestmark = pytest.mark.backend("tensorflow")

# An augmentation that keeps images as they are when they are square and of this side.
IDENTITY_SIDE = 12


def identity_augmentation(mean=(0.0, 0.0, 0.0)):
    return data.Augmentation(
        scale_range=(IDENTITY_SIDE, IDENTITY_SIDE),
        crop_size=IDENTITY_SIDE,
        flip=False,
        pca_std=0.0,
        mean=mean,
    )


def as_rgb(images):
    """NumPy reference: (N, H, W) or (N, H, W, 1) grayscale as (N, H, W, 3)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    return np.broadcast_to(images, images.shape[:3] + (3,))


def random_split(rng, count, shape, num_classes=3, dtype=np.uint8):
    if dtype == np.uint8:
        images = rng.integers(0, 256, (count,) + shape, dtype=np.uint8)
    else:
        images = rng.uniform(0, 255, (count,) + shape).astype(dtype)
    labels = np.arange(count) % num_classes
    return images, labels


def pairs(images, labels):
    return tf.data.Dataset.from_tensor_slices((images, labels))


def sources_of(train, validation, **kwargs):
    """The same splits as an ArraySource and as a DatasetSource."""
    return {
        "arrays": data.ArraySource(train, validation, **kwargs),
        "dataset": data.DatasetSource(pairs(*train), pairs(*validation), **kwargs),
    }


@pytest.mark.parametrize("kind", ["arrays", "dataset"])
@pytest.mark.parametrize(
    "shape, dtype",
    [((12, 12), np.uint8), ((12, 12, 1), np.float32), ((12, 12, 3), np.float64)],
)
def test_training_batches_are_the_images_minus_the_mean(rng, kind, shape, dtype):
    train = random_split(rng, 16, shape, dtype=dtype)
    validation = random_split(rng, 5, shape, dtype=dtype)
    source = sources_of(train, validation)[kind]
    mean = (10.0, 20.0, 30.0)
    batches = list(
        data.training_dataset(
            source, 4, augmentation=identity_augmentation(mean), seed=0, shuffle_buffer=0
        ).as_numpy_iterator()
    )
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    # Shuffled: find each image's place in the split by its pixels.
    reference = as_rgb(train[0]) - np.float32(mean)
    order = [int(np.flatnonzero((reference == image).all(axis=(1, 2, 3)))[0]) for image in images]
    assert sorted(order) == list(range(16)) and order != list(range(16))
    np.testing.assert_array_equal(images, reference[order])
    np.testing.assert_array_equal(labels, train[1][order])


@pytest.mark.parametrize("kind", ["arrays", "dataset"])
def test_evaluation_views_are_the_numpy_crops(rng, kind):
    # Shorter side 12 at scale 12: no resizing, so the views are plain crops.
    train = random_split(rng, 6, (12, 20, 3), dtype=np.float32)
    validation = random_split(rng, 5, (12, 20), dtype=np.uint8)
    source = sources_of(train, validation)[kind]
    mean = np.array([1.0, 2.0, 3.0], np.float32)
    crop, bottom, right = 8, 12 - 8, 20 - 8
    options = {"scale": 12, "crop_size": crop, "mean": mean}
    center = np.concatenate(
        [v for v, _ in data.evaluation_dataset(source, 2, **options).as_numpy_iterator()]
    )
    ten = np.concatenate(
        [
            v
            for v, _ in data.evaluation_dataset(
                source, 2, views="ten", **options
            ).as_numpy_iterator()
        ]
    )
    images = as_rgb(validation[0]) - mean
    corners = [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]
    crops = np.stack([images[:, t : t + crop, l : l + crop] for t, l in corners], axis=1)
    np.testing.assert_array_equal(center, crops[:, 4])
    np.testing.assert_array_equal(ten, np.concatenate([crops, crops[:, :, :, ::-1]], axis=1))


@pytest.mark.parametrize("kind", ["arrays", "dataset"])
def test_shards_together_are_the_one_process_batches(rng, kind):
    source = sources_of(random_split(rng, 24, (10, 10, 3)), random_split(rng, 4, (10, 10, 3)))[kind]
    whole = list(data.training_dataset(source, 8, seed=5).as_numpy_iterator())
    shards = [
        list(
            data.training_dataset(
                source, 8, seed=5, num_shards=2, shard_index=index
            ).as_numpy_iterator()
        )
        for index in range(2)
    ]
    assert len(whole) == 3
    for step, (images, labels) in enumerate(whole):
        np.testing.assert_array_equal(
            images, np.concatenate([shards[0][step][0], shards[1][step][0]])
        )
        np.testing.assert_array_equal(
            labels, np.concatenate([shards[0][step][1], shards[1][step][1]])
        )


def test_arrays_and_datasets_of_the_same_images_give_the_same_batches(rng):
    sources = sources_of(random_split(rng, 20, (9, 9)), random_split(rng, 6, (9, 9)))
    batches = {
        kind: list(data.training_dataset(source, 4, seed=1).as_numpy_iterator())
        for kind, source in sources.items()
    }
    for (images, labels), (other_images, other_labels) in zip(*batches.values()):
        np.testing.assert_array_equal(images, other_images)
        np.testing.assert_array_equal(labels, other_labels)


def expected_fit(shorter_side):
    """The documented rule: the paper's sizes from 256 px, else crop clip(m, 32, 224)."""
    if shorter_side >= 256:
        return paper.SCALE_RANGE, paper.CROP_SIZE
    crop = min(max(shorter_side, 32), 224)
    return (crop, round(1.25 * crop)), crop


@pytest.mark.parametrize("height, width", [(1, 1), (8, 8), (28, 28), (100, 60), (240, 300)])
def test_array_default_augmentation_is_fitted_to_the_image_size(rng, height, width):
    train = random_split(rng, 4, (height, width))
    source = data.ArraySource(train, random_split(rng, 2, (height, width)))
    augmentation = source.default_augmentation()
    scale_range, crop = expected_fit(min(height, width))
    assert augmentation.scale_range == scale_range and augmentation.crop_size == crop
    assert augmentation.flip and augmentation.pca_std == paper.PCA_STD
    np.testing.assert_allclose(augmentation.mean, np.full(3, train[0].mean()), rtol=1e-6)


def test_imagenet_sized_arrays_keep_the_papers_recipe(rng):
    train = random_split(rng, 2, (256, 300, 3))
    augmentation = data.ArraySource(train, train).default_augmentation()
    assert augmentation.scale_range == (256, 512) and augmentation.crop_size == 224
    np.testing.assert_allclose(augmentation.mean, train[0].mean(axis=(0, 1, 2)), rtol=1e-6)


def test_a_dataset_of_images_of_different_sizes(rng):
    sizes = [(40, 50), (60, 30), (80, 90), (8, 100), (50, 50)]
    images = [rng.integers(0, 256, size + (3,), dtype=np.uint8) for size in sizes]
    labels = [0, 1, 0, 1, 2]

    def examples():
        yield from zip(images, labels)

    spec = (tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int64))
    train = tf.data.Dataset.from_generator(examples, output_signature=spec)
    source = data.DatasetSource(train, train, class_names=["a", "b", "c"])
    assert source.num_examples("train") == 5 and source.class_names == ("a", "b", "c")
    augmentation = source.default_augmentation()
    # Median shorter side of 40, 30, 80, 8, 50: 40.
    assert augmentation.scale_range == (40, 50) and augmentation.crop_size == 40
    pixel_sum = sum(image.reshape(-1, 3).sum(axis=0, dtype=np.float64) for image in images)
    pixel_count = sum(height * width for height, width in sizes)
    np.testing.assert_allclose(augmentation.mean, pixel_sum / pixel_count, rtol=1e-6)
    batch, labels_out = next(iter(data.training_dataset(source, 5, seed=0)))
    assert batch.shape == (5, 40, 40, 3) and sorted(labels_out.numpy()) == sorted(labels)


def test_class_names_and_integer_arrays(rng):
    images = rng.integers(0, 256, (6, 5, 5, 3)).astype(np.int64)
    labels = np.array([[0], [1], [2], [0], [1], [2]], dtype=np.uint8)  # keras.datasets' shape
    source = data.ArraySource((images, labels), (images, labels), class_names=["x", "y", "z"])
    assert source.class_names == ("x", "y", "z") and source.num_classes == 3
    examples = list(source.dataset("train").as_numpy_iterator())
    assert examples[0]["image"].dtype == np.uint8
    np.testing.assert_array_equal([example["image"] for example in examples], images)
    np.testing.assert_array_equal([example["label"] for example in examples], labels[:, 0])
    default = data.ArraySource((images, labels[:, 0] * 3), (images, labels[:, 0]))
    assert default.class_names == tuple(str(i) for i in range(7))


BAD_IMAGES = np.zeros((4, 5, 5, 3), np.uint8)
BAD_LABELS = np.array([0, 1, 0, 1])


@pytest.mark.parametrize(
    "train, kwargs, message",
    [
        ([BAD_IMAGES], {}, "`train` must be a pair"),
        ((np.zeros((4, 5, 5, 2)), BAD_LABELS), {}, r"`train` must hold images of shape"),
        ((np.zeros((4, 0, 5, 3)), BAD_LABELS), {}, r"`train` must hold images of shape"),
        ((np.zeros((4, 5)), BAD_LABELS), {}, r"`train` must hold images of shape"),
        ((np.zeros((4, 5, 5), bool), BAD_LABELS), {}, "integer or floating type"),
        ((np.full((4, 5, 5), "a"), BAD_LABELS), {}, "integer or floating type"),
        ((np.full((4, 5, 5), np.nan), BAD_LABELS), {}, "non-finite"),
        ((np.full((4, 5, 5), 256), BAD_LABELS), {}, r"\[0, 255\]"),
        ((np.full((4, 5, 5), -0.5), BAD_LABELS), {}, r"\[0, 255\]"),
        ((BAD_IMAGES, BAD_LABELS.astype(float)), {}, "integer class ids"),
        ((BAD_IMAGES, np.eye(4, dtype=int)), {}, "integer class ids"),
        ((BAD_IMAGES, BAD_LABELS[:3]), {}, "as many labels as images"),
        ((BAD_IMAGES, BAD_LABELS - 1), {}, "class ids >= 0"),
        ((BAD_IMAGES, np.zeros(4, int)), {}, "at least two classes"),
        ((BAD_IMAGES, BAD_LABELS), {"class_names": ["a"]}, "up to the largest label, 1"),
        ((BAD_IMAGES, BAD_LABELS), {"class_names": ["a", "a"]}, "distinct strings"),
        ((BAD_IMAGES, BAD_LABELS), {"class_names": "ab"}, "distinct strings"),
        ((BAD_IMAGES, BAD_LABELS), {"name": ""}, "`name`"),
    ],
)
def test_array_source_rejects_bad_arrays(train, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.ArraySource(train, (BAD_IMAGES, BAD_LABELS), **kwargs)


def test_array_source_checks_the_validation_split_too():
    with pytest.raises(ValueError, match="`validation` must hold class ids >= 0"):
        data.ArraySource((BAD_IMAGES, BAD_LABELS), (BAD_IMAGES, BAD_LABELS - 1))
    with pytest.raises(ValueError, match="up to the largest label, 5"):
        data.ArraySource(
            (BAD_IMAGES, BAD_LABELS), (BAD_IMAGES, BAD_LABELS + 4), class_names=["a", "b"]
        )


@pytest.mark.parametrize(
    "train, kwargs, message",
    [
        ((BAD_IMAGES, BAD_LABELS), {}, "must be a tf.data.Dataset"),
        (tf.data.Dataset.from_tensor_slices(BAD_IMAGES), {}, r"\(image, label\) pairs"),
        (
            tf.data.Dataset.from_tensor_slices({"image": BAD_IMAGES, "label": BAD_LABELS}),
            {},
            r"\(image, label\) pairs",
        ),
        (pairs(BAD_IMAGES, BAD_LABELS).batch(2), {}, "unbatched decoded images"),
        (
            tf.data.Dataset.from_generator(
                lambda: zip(BAD_IMAGES, BAD_LABELS),
                output_signature=(
                    tf.TensorSpec([None, None, None], tf.uint8),
                    tf.TensorSpec([], tf.int64),
                ),
            ),
            {},
            "known channels",
        ),
        (pairs(tf.constant(["a"] * 4), BAD_LABELS), {}, "unbatched decoded images"),
        (pairs(BAD_IMAGES, BAD_LABELS.astype(float)), {}, "integer class ids"),
        (pairs(BAD_IMAGES, np.eye(4, dtype=int)), {}, "integer class ids"),
        (pairs(BAD_IMAGES, BAD_LABELS).repeat(), {}, "finite dataset"),
        (pairs(BAD_IMAGES, BAD_LABELS).take(0), {}, "at least one"),
        (pairs(np.full((4, 5, 5), np.inf), BAD_LABELS), {}, "non-finite"),
        (pairs(np.full((4, 5, 5), 300, np.int32), BAD_LABELS), {}, r"\[0, 255\]"),
        (pairs(np.zeros((4, 5, 5), np.int32), np.zeros(4, int)), {}, "at least two classes"),
        (pairs(BAD_IMAGES, BAD_LABELS), {"shuffle_buffer": 0}, "`shuffle_buffer`"),
        (pairs(BAD_IMAGES, BAD_LABELS), {"class_names": ("a",)}, "largest label, 1"),
    ],
)
def test_dataset_source_rejects_bad_datasets(train, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.DatasetSource(train, pairs(BAD_IMAGES, BAD_LABELS), **kwargs)


def test_dataset_source_rejects_an_empty_image():
    empty = tf.data.Dataset.from_generator(
        lambda: iter([(np.zeros((0, 4, 3), np.uint8), 0), (np.zeros((3, 4, 3), np.uint8), 1)]),
        output_signature=(tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int32)),
    )
    with pytest.raises(ValueError, match="at least 1x1 pixels"):
        data.DatasetSource(empty, pairs(BAD_IMAGES, BAD_LABELS))


def test_fitted_augmentation_follows_the_digits_and_the_paper():
    digits = data.get_source(data.DEFAULT_SOURCE).default_augmentation()
    assert digits.scale_range == (32, 40) and digits.crop_size == 32 and not digits.flip
    for side in (1, 31, 32, 33, 150, 223, 224, 255, 256, 500):
        augmentation = data.fitted_augmentation([side, side, 10**6, 1], mean=(0, 0, 0))
        assert (augmentation.scale_range, augmentation.crop_size) == expected_fit(side)
