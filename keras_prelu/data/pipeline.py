"""Training and evaluation datasets: a source, the paper's transforms, batches."""

import numpy as np
import tensorflow as tf

from keras_prelu.data import transforms
from keras_prelu.data.augmentation import check_mean
from keras_prelu.errors import InvalidValueError

__all__ = ["DEFAULT_SHUFFLE_BUFFER", "evaluation_dataset", "training_dataset"]

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
    reshuffle_each_iteration=True,
):
    """Batches of augmented training images, `(images, labels)`, remainder dropped.

    Images are float32 `(batch, crop, crop, 3)` from the paper's training transform
    (`Augmentation`, Sec. 3), labels int32 `(batch,)`. Each pass over the
    dataset (each epoch) is reshuffled and re-augmented, unless
    `reshuffle_each_iteration` is False; with a `seed`, the sequence of passes is
    the same on every run.

    With `num_shards` processes, every process draws the same order and the same
    augmentation seed for every example, and keeps rows `[shard_index * b,
    (shard_index + 1) * b)` of each global batch, `b = batch_size / num_shards`,
    before decoding: the shards of a step together are the global batch of one
    process, crops included, and each process decodes only its rows (every
    process still reads every encoded image, the cheap part).

    Args:
        source: a `Source` (see `get_source`).
        batch_size: the global batch size; each shard yields
            `batch_size // num_shards` images a batch.
        split: the split to read.
        augmentation: an `Augmentation`; defaults to `source.default_augmentation()`.
        seed: an integer for a reproducible order and augmentation, or None;
            required with several shards, which must agree on both.
        shuffle_buffer: examples buffered for shuffling after they are read.
        num_shards: the number of processes that share each global batch.
        shard_index: this process' shard, in `[0, num_shards)`.
        reshuffle_each_iteration: whether each pass draws a new order and new
            augmentations; if False, every iteration yields the same batches.
    """
    check_shard(num_shards, shard_index)
    shard_batch_size = _check_batch_size(batch_size, num_shards)
    if not _is_int(shuffle_buffer) or shuffle_buffer < 0:
        raise InvalidValueError(
            "`shuffle_buffer` must be an integer >= 0 (0: no buffer). "
            f"Received: shuffle_buffer={shuffle_buffer!r}"
        )
    if num_shards > 1 and seed is None:
        raise InvalidValueError(
            f"`seed` must be an integer with num_shards={num_shards}: the shards "
            "must draw the same order and augmentation. Received: seed=None"
        )
    if augmentation is None:
        augmentation = source.default_augmentation()
    examples = source.dataset(
        split, shuffle=True, seed=seed, reshuffle_each_iteration=reshuffle_each_iteration
    )
    if shuffle_buffer:
        examples = examples.shuffle(
            shuffle_buffer, seed=seed, reshuffle_each_iteration=reshuffle_each_iteration
        )
    # One random number per example: the seed of its augmentation.
    augmentation_seed = (
        None if seed is None else int(np.random.SeedSequence([seed, 0]).generate_state(1)[0])
    )
    seeds = tf.data.Dataset.random(
        seed=augmentation_seed, rerandomize_each_iteration=reshuffle_each_iteration
    )
    examples = tf.data.Dataset.zip(examples, seeds).map(
        lambda example, example_seed: dict(example, seed=tf.stack([example_seed, 0]))
    )
    examples = _drop_incomplete(source, examples)
    if num_shards > 1:
        examples = (
            examples.batch(batch_size, drop_remainder=True)
            .map(lambda batch: _shard_rows(batch, shard_batch_size, shard_index))
            .unbatch()
        )
    return _batch(
        source,
        examples,
        lambda example: (
            transforms.augment(example["image"], example["seed"], augmentation),
            example["label"],
        ),
        shard_batch_size,
        drop_remainder=True,
        deterministic=seed is not None,
    )


def evaluation_dataset(
    source,
    batch_size,
    *,
    split="validation",
    views="center",
    scale=None,
    crop_size=None,
    mean=None,
    pad_remainder=False,
    num_shards=1,
    shard_index=0,
):
    """Batches of evaluation images, `(images, labels)`, every image exactly once.

    The paper's testing transforms (Sec. 3, Sec. 4), on the image resized so that
    its shorter side is `scale`:

    - "center": the centre crop, `(batch, crop, crop, 3)`;
    - "ten": 4 corner crops, the centre crop and their horizontal flips,
      `(batch, 10, crop, crop, 3)` (order in `transforms.ten_views`);
    - "full": the whole image for dense testing, `(1, height, width, 3)`; images
      differ in size, so `batch_size` must be 1, and a per-pixel `mean` is reduced
      to its per-channel average.

    The last batch keeps the remainder, unless `pad_remainder`: then every batch
    has `batch_size` rows, the last one filled up with copies of its first
    example, and the dataset yields `(images, labels, weights)`, weights 1.0 for
    the examples and 0.0 for the copies. Several devices or processes need that:
    each takes an equal share of every batch. With `num_shards` processes, each
    yields rows `[shard_index * b, (shard_index + 1) * b)` of every padded batch,
    `b = batch_size / num_shards`, decoding only those.

    Images whose files cannot be decoded are reported
    (`source.undecodable_files`) and skipped, or with `pad_remainder`, kept as
    blank images of weight 0, so that the number of batches is known in advance.

    Args:
        source: a `Source`.
        batch_size: the batch size (the global one, with several shards).
        split: the split to read.
        views: "center", "ten" or "full".
        scale: the shorter side; defaults to the smallest training scale of
            `source.default_augmentation()` (256 for the paper).
        crop_size: the crop side; defaults to the source's training crop (224).
        mean: the mean subtracted; defaults to the source's training mean.
        pad_remainder: whether to pad the last batch and yield weights.
        num_shards: the number of processes that share each batch; more than
            one needs `pad_remainder`.
        shard_index: this process' shard, in `[0, num_shards)`.
    """
    if views not in transforms.EVALUATION_VIEWS:
        raise InvalidValueError(
            f"`views` must be one of {transforms.EVALUATION_VIEWS}. Received: views={views!r}"
        )
    check_shard(num_shards, shard_index)
    shard_batch_size = _check_batch_size(batch_size, num_shards)
    if views == "full" and batch_size != 1:
        raise InvalidValueError(
            "`batch_size` must be 1 for views='full' (whole images differ in size). "
            f"Received: batch_size={batch_size}"
        )
    if num_shards > 1 and not pad_remainder:
        raise InvalidValueError(
            f"`pad_remainder` must be True with num_shards={num_shards}: every shard "
            "must yield the same number of full batches. Received: pad_remainder=False"
        )
    defaults = source.default_augmentation()
    scale = defaults.scale_range[0] if scale is None else scale
    crop_size = defaults.crop_size if crop_size is None else crop_size
    if not _is_int(scale) or not _is_int(crop_size) or not 0 < crop_size <= scale:
        raise InvalidValueError(
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
    if not pad_remainder:
        return _batch(
            source,
            _drop_incomplete(source, source.dataset(split)),
            lambda example: (view(example["image"]), example["label"]),
            batch_size,
            drop_remainder=False,
            deterministic=True,
        )
    examples = (
        _weigh_out_incomplete(source, source.dataset(split))
        .batch(batch_size)
        .map(lambda batch: _pad_rows(batch, batch_size))
        .map(lambda batch: _shard_rows(batch, shard_batch_size, shard_index))
        .unbatch()
    )
    num_batches = -(-source.num_examples(split) // batch_size)
    return _batch(
        source,
        examples,
        lambda example: (view(example["image"]), example["label"], example["weight"]),
        shard_batch_size,
        drop_remainder=True,
        deterministic=True,
        skip_errors=False,
    ).apply(tf.data.experimental.assert_cardinality(num_batches))


def _shard_rows(batch, shard_batch_size, shard_index):
    """Rows `[shard_index * b, (shard_index + 1) * b)` of a batch of examples."""
    begin = shard_index * shard_batch_size
    return {key: value[begin : begin + shard_batch_size] for key, value in batch.items()}


def _pad_rows(batch, batch_size):
    """A batch of examples filled up to `batch_size` rows with weight-0 copies of its first."""
    missing = batch_size - tf.shape(batch["weight"])[0]
    padded = {
        key: tf.concat([value, tf.repeat(value[:1], missing, axis=0)], axis=0)
        for key, value in batch.items()
    }
    padded["weight"] = tf.concat([batch["weight"], tf.zeros([missing])], axis=0)
    return padded


def _batch(
    source, examples, outputs, batch_size, *, drop_remainder, deterministic, skip_errors=True
):
    """Maps `outputs` over `examples` in parallel, then batches and prefetches.

    With `skip_errors`, an image from a file that passed `_drop_incomplete` but still
    fails to decode is skipped by `ignore_errors`, which logs TensorFlow's error: a
    run never stops on a bad file. Without, the error stops the run, so that the
    number of batches is the one planned.
    """
    pairs = examples.map(outputs, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if skip_errors and "path" in examples.element_spec:
        pairs = pairs.ignore_errors(log_warning=True)
    return pairs.batch(
        batch_size,
        drop_remainder=drop_remainder,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    ).prefetch(tf.data.AUTOTUNE)


def _drop_incomplete(source, examples):
    """The examples of image files that are whole JPEGs or PNGs within the pixel limit.

    Files that are not (truncated downloads, other formats, garbage, more pixels
    than `source.max_pixels` by their header) are dropped before decoding and
    reported by `source.report_undecodable` with their paths. A whole JPEG whose
    header libjpeg cannot read is dropped by `ignore_errors`, which logs
    TensorFlow's error. Sources without files are returned as they are.
    """
    if "path" not in examples.element_spec:
        return examples
    return (
        examples.map(
            lambda example: (example, _is_usable_or_reported(source, example)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        .ignore_errors(log_warning=True)
        .filter(lambda example, usable: usable)
        .map(lambda example, usable: example)
    )


def _weigh_out_incomplete(source, examples):
    """The examples with a `weight`: 1.0, or 0.0 for the files `_drop_incomplete`
    drops, whose image becomes a blank PNG instead; the count is kept."""
    if "path" not in examples.element_spec:
        return examples.map(lambda example: dict(example, weight=tf.constant(1.0)))

    # A constant of the map below, not an encoding per example.
    blank = tf.io.encode_png(tf.zeros([1, 1, 3], tf.uint8))

    def weigh(example):
        usable = _is_usable_or_reported(source, example)
        return dict(
            example,
            image=tf.where(usable, example["image"], blank),
            weight=tf.cast(usable, tf.float32),
        )

    return examples.map(weigh, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _is_usable_or_reported(source, example):
    """Whether the example's file is a whole image within the pixel limit; reports it if not."""
    contents = example["image"]
    complete = transforms.is_complete_image(contents)
    height, width = tf.unstack(
        tf.cond(
            complete,
            lambda: transforms.encoded_size(contents),
            lambda: tf.zeros([2], tf.int64),
        )
    )
    pixels = height * width
    small_enough = tf.constant(True) if source.max_pixels is None else pixels <= source.max_pixels

    def report(path, height, width):
        if height * width == 0:
            reason = "it is not a whole JPEG or PNG file"
        else:
            reason = (
                f"its header gives {int(width)}x{int(height)} = {int(width * height):,} "
                f"pixels, more than the limit of {source.max_pixels:,} (max_pixels)"
            )
        source.report_undecodable(path.numpy().decode(), reason)
        return False

    return tf.cond(
        (pixels > 0) & small_enough,
        lambda: True,
        lambda: tf.py_function(report, [example["path"], height, width], tf.bool),
    )


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_batch_size(batch_size, num_shards):
    """The batch size of one shard of a global `batch_size`."""
    if not _is_int(batch_size) or batch_size < 1 or batch_size % num_shards:
        raise InvalidValueError(
            f"`batch_size` must be a positive integer divisible by num_shards={num_shards}. "
            f"Received: batch_size={batch_size!r}"
        )
    return batch_size // num_shards


def check_shard(num_shards, shard_index):
    if not _is_int(num_shards) or num_shards < 1:
        raise InvalidValueError(
            f"`num_shards` must be a positive integer. Received: num_shards={num_shards!r}"
        )
    if not _is_int(shard_index) or not 0 <= shard_index < num_shards:
        raise InvalidValueError(
            f"`shard_index` must be an integer in [0, {num_shards}). "
            f"Received: shard_index={shard_index!r}"
        )
