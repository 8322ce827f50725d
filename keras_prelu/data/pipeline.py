"""Training and evaluation datasets: a source, the paper's transforms, batches."""

import numpy as np
import tensorflow as tf

from keras_prelu.data import transforms
from keras_prelu.data.augmentation import check_mean
from keras_prelu.data.source import check_shard

# Examples held for shuffling after they are read (the file order is shuffled in full
# by the sources first): enough to mix records, bounded so that memory stays flat.
DEFAULT_SHUFFLE_BUFFER = 1024


def training_dataset(
    source,
    batch_size,
    *,
    split="train",
    augmentation=None,
    seed=None,
    shuffle_buffer=DEFAULT_SHUFFLE_BUFFER,
    num_shards=1,
    shard_index=0,
):
    """Batches of augmented training images, `(images, labels)`, remainder dropped.

    Images are float32 `(batch, crop, crop, 3)` from the paper's training transform
    (`Augmentation`, SPEC.md section 5), labels int32 `(batch,)`. Each pass over the
    dataset (each epoch) is reshuffled and re-augmented; with a `seed`, the sequence
    of passes is the same on every run.

    Args:
        source: a `Source` (see `get_source`).
        batch_size: the global batch size. With `num_shards` processes, each yields
            `batch_size // num_shards` images a batch.
        split: the split to read.
        augmentation: an `Augmentation`; defaults to `source.default_augmentation()`.
        seed: an integer for a reproducible order and augmentation, or None.
        shuffle_buffer: examples buffered for shuffling after they are read.
        num_shards: the number of processes that share the data.
        shard_index: this process' shard, in `[0, num_shards)`; sharding happens
            before any file is read.
    """
    check_shard(num_shards, shard_index)
    per_shard_batch_size = _check_batch_size(batch_size, num_shards)
    if not isinstance(shuffle_buffer, int) or shuffle_buffer < 0:
        raise ValueError(
            "`shuffle_buffer` must be an integer >= 0 (0: no buffer). "
            f"Received: shuffle_buffer={shuffle_buffer!r}"
        )
    if augmentation is None:
        augmentation = source.default_augmentation()
    examples = source.dataset(
        split, shuffle=True, seed=seed, num_shards=num_shards, shard_index=shard_index
    )
    if shuffle_buffer:
        examples = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    # One random number per example: the seed of its augmentation, new every epoch,
    # and other in every shard.
    shard_seed = (
        None
        if seed is None
        else int(np.random.SeedSequence([seed, shard_index]).generate_state(1)[0])
    )
    seeds = tf.data.Dataset.random(seed=shard_seed, rerandomize_each_iteration=True)
    examples = tf.data.Dataset.zip(examples, seeds).map(
        lambda example, example_seed: dict(example, seed=tf.stack([example_seed, 0]))
    )
    return _batch(
        source,
        examples,
        lambda example: transforms.augment(example["image"], example["seed"], augmentation),
        per_shard_batch_size,
        drop_remainder=True,
        deterministic=seed is not None,
    )


def evaluation_dataset(
    source, batch_size, *, split="validation", views="center", scale=None, crop_size=None, mean=None
):
    """Batches of evaluation images, `(images, labels)`, every image exactly once.

    The paper's testing transforms (SPEC.md section 6), on the image resized so that
    its shorter side is `scale`:

    - "center": the centre crop, `(batch, crop, crop, 3)`;
    - "ten": 4 corner crops, the centre crop and their horizontal flips,
      `(batch, 10, crop, crop, 3)` (order in `transforms.ten_views`);
    - "full": the whole image for dense testing, `(1, height, width, 3)`; images
      differ in size, so `batch_size` must be 1, and a per-pixel `mean` is reduced
      to its per-channel average.

    The last batch keeps the remainder. Images whose files cannot be decoded are
    skipped and reported (`source.undecodable_files`).

    Args:
        source: a `Source`.
        batch_size: the batch size.
        split: the split to read.
        views: "center", "ten" or "full".
        scale: the shorter side; defaults to the smallest training scale of
            `source.default_augmentation()` (256 for the paper).
        crop_size: the crop side; defaults to the source's training crop (224).
        mean: the mean subtracted; defaults to the source's training mean.
    """
    if views not in transforms.EVALUATION_VIEWS:
        raise ValueError(
            f"`views` must be one of {transforms.EVALUATION_VIEWS}. Received: views={views!r}"
        )
    _check_batch_size(batch_size, num_shards=1)
    if views == "full" and batch_size != 1:
        raise ValueError(
            "`batch_size` must be 1 for views='full' (whole images differ in size). "
            f"Received: batch_size={batch_size}"
        )
    defaults = source.default_augmentation()
    scale = defaults.scale_range[0] if scale is None else scale
    crop_size = defaults.crop_size if crop_size is None else crop_size
    if not isinstance(scale, int) or not isinstance(crop_size, int) or not 0 < crop_size <= scale:
        raise ValueError(
            "`scale` and `crop_size` must be integers with 0 < crop_size <= scale. "
            f"Received: scale={scale!r}, crop_size={crop_size!r}"
        )
    mean = check_mean(defaults.mean if mean is None else mean, crop_size)
    if views == "full":
        mean = mean.reshape(-1, 3).mean(axis=0)
    view_functions = {
        "center": lambda image: transforms.center_view(image, scale, crop_size, mean),
        "ten": lambda image: transforms.ten_views(image, scale, crop_size, mean),
        "full": lambda image: transforms.full_view(image, scale, mean),
    }
    view = view_functions[views]
    return _batch(
        source,
        source.dataset(split),
        lambda example: view(example["image"]),
        batch_size,
        drop_remainder=False,
        deterministic=True,
    )


def _batch(source, examples, transform, batch_size, *, drop_remainder, deterministic):
    """Maps `transform` over `examples` in parallel, then batches and prefetches."""
    if "path" in examples.element_spec:
        pairs = _skip_undecodable(source, examples, transform, deterministic)
    else:
        pairs = examples.map(
            lambda example: (transform(example), example["label"]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=deterministic,
        )
    return pairs.batch(
        batch_size,
        drop_remainder=drop_remainder,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    ).prefetch(tf.data.AUTOTUNE)


def _skip_undecodable(source, examples, transform, deterministic):
    """`(transform(example), label)` for the image files that decode.

    Files that are not whole JPEGs or PNGs (truncated downloads, other formats,
    garbage) are dropped before decoding and reported by `source.report_undecodable`
    with their paths. A file that passes that check but still fails to decode is
    skipped by `ignore_errors`, which logs TensorFlow's error: a run never stops on
    a bad file.
    """

    def report(path):
        source.report_undecodable(path.numpy().decode())
        return False

    def complete_or_report(example):
        return tf.cond(
            transforms.is_complete_image(example["image"]),
            lambda: True,
            lambda: tf.py_function(report, [example["path"]], tf.bool),
        )

    return (
        examples.filter(complete_or_report)
        .map(
            lambda example: (transform(example), example["label"]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=deterministic,
        )
        .ignore_errors(log_warning=True)
    )


def _check_batch_size(batch_size, num_shards):
    """The batch size of one shard of a global `batch_size`."""
    if not isinstance(batch_size, int) or batch_size < 1 or batch_size % num_shards:
        raise ValueError(
            f"`batch_size` must be a positive integer divisible by num_shards={num_shards}. "
            f"Received: batch_size={batch_size!r}"
        )
    return batch_size // num_shards
