"""Data feeding of a run: its source, augmentation, mean and datasets.

What `fit` trains and validates on. Each epoch's data depend only on the
recipe's seed and the epoch number, and each process of a multi-process run
reads its rows of every global batch (see `Parallel`).
"""

import dataclasses
import logging

import numpy as np
import tensorflow as tf

from keras_prelu import data as data_lib
from keras_prelu.errors import InvalidValueError
from keras_prelu.errors import summarize

__all__ = [
    "as_source",
    "check_decodable",
    "check_mean_argument",
    "epoch_seed",
    "epoch_steps",
    "resolve_augmentation",
    "resolve_source",
    "training_epochs",
    "validation_dataset",
    "with_mean",
]

logger = logging.getLogger(__name__)

MEAN_CHOICES = (None, "compute")


def epoch_seed(seed, epoch):
    """The data seed of epoch `epoch` (0-based) of a run seeded `seed`."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def as_source(data, validation_data):
    """`fit`'s `data` and `validation_data` taken the way `keras.Model.fit` takes them.

    Arrays `(x, y)` (NumPy arrays or tensors) become an `ArraySource`, a
    `tf.data.Dataset` of `(image, label)` pairs a `DatasetSource` (a batched
    one is unbatched: the recipe batches), each with `validation_data` of the
    same kind as its validation split. Any other `data` is returned as given,
    `validation_data` being None.
    """
    if isinstance(data, tf.data.Dataset):
        train = _unbatched(data)
        validation = _unbatched(_validation_data(validation_data))
        return _user_source(data_lib.DatasetSource, train, validation)
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise InvalidValueError(
                "Argument `data` must be a pair (x, y) of images and labels, as keras.Model.fit "
                f"takes them, or a source. Received: {summarize(data)}"
            )
        validation = _validation_data(validation_data)
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise InvalidValueError(
                "Argument `validation_data` must be a pair (x_val, y_val) like `data`. "
                f"Received: {summarize(validation)}"
            )
        return _user_source(data_lib.ArraySource, data, validation)
    if validation_data is not None:
        raise InvalidValueError(
            "Argument `validation_data` applies to arrays and tf.data.Datasets; a source or a "
            f"dataset name holds its own validation split. Received: data={summarize(data)}"
        )
    return data


def _user_source(source_class, train, validation):
    """`source_class(train, validation)`; its errors name `fit`'s arguments."""
    try:
        return source_class(train, validation)
    except ValueError as error:
        message = (
            str(error).replace("`train`", "`data`").replace("`validation`", "`validation_data`")
        )
        raise InvalidValueError(message) from None


def _validation_data(validation_data):
    if validation_data is None:
        raise InvalidValueError(
            "Argument `validation_data` is required with arrays or a tf.data.Dataset: the run "
            "is validated each epoch and evaluated at its end on it."
        )
    return validation_data


def _unbatched(dataset):
    """`dataset` with its batches split into examples, when its images are batched
    (`DatasetSource` checks the rest)."""
    spec = getattr(dataset, "element_spec", None)
    if isinstance(spec, tuple) and len(spec) == 2 and getattr(spec[0], "shape", None) is not None:
        if spec[0].shape.rank == 4:
            return dataset.unbatch()
    return dataset


def resolve_source(data, *, data_dir, download):
    """The `keras_prelu.data.Source` of `fit`'s `data` (see `data.get_source`)."""
    try:
        return data_lib.get_source(data, data_dir=data_dir, download=download)
    except ValueError as error:
        raise InvalidValueError(f"Argument `data` is not usable: {error}") from error


def resolve_augmentation(augmentation, source):
    """`fit`'s `augmentation`: an `Augmentation`, or a dict of the fields that replace
    those of `source.default_augmentation()` (None: that one)."""
    if augmentation is None:
        return source.default_augmentation()
    if isinstance(augmentation, data_lib.Augmentation):
        return augmentation
    if not isinstance(augmentation, dict):
        raise InvalidValueError(
            "Argument `augmentation` must be a keras_prelu.data.Augmentation, "
            "a dict of its fields or None. "
            f"Received: augmentation={augmentation!r}"
        )
    try:
        return dataclasses.replace(source.default_augmentation(), **augmentation)
    except (TypeError, ValueError) as error:
        raise InvalidValueError(f"Argument `augmentation`: {error}") from error


def epoch_steps(source, batch_size):
    """Steps per epoch; raises for splits without a batch / any example.

    An epoch has the same global batches whatever the number of processes
    (each process takes its `batch_size / num_processes` rows of each, see
    `training_epochs`): `train_examples // batch_size` of them.
    """
    train_examples = source.num_examples("train")
    if train_examples < batch_size:
        raise InvalidValueError(
            f"Argument `data`: the training split of {source.name!r} has "
            f"{train_examples} examples, fewer than one batch (Recipe field "
            f"`batch_size`={batch_size}): nothing to train on."
        )
    if source.num_examples("validation") == 0:
        raise InvalidValueError(
            f"Argument `data`: the validation split of {source.name!r} is "
            "empty; training watches the validation error."
        )
    return train_examples // batch_size


def check_mean_argument(mean):
    """Raises unless `mean` is None, "compute" or an array (checked by `with_mean`)."""
    if (isinstance(mean, str) or mean is None) and mean not in MEAN_CHOICES:
        raise InvalidValueError(
            f"Argument `mean` must be one of {MEAN_CHOICES} or an array. Received: mean={mean!r}"
        )


def with_mean(augmentation, mean, source, folder, *, resumed):
    """`(augmentation with the mean to subtract, its kind)` (see `run_folder.MEAN_KINDS`).

    A resumed run keeps the mean of its `mean.json`: `mean` may only ask for
    that one again.
    """
    if resumed:
        kind = folder.read_run().mean_kind
        saved = folder.read_mean()
        if isinstance(mean, str) and kind != "computed":
            raise InvalidValueError(
                f"Argument `mean`: the run in {folder.path} subtracted the {kind} mean, "
                "not a computed one, and a resumed run keeps its mean. Leave out `mean`, "
                "or use another run_dir."
            )
        if mean is not None and not isinstance(mean, str):
            if not np.array_equal(_mean_array(augmentation, mean), saved):
                raise InvalidValueError(
                    f"Argument `mean` differs from the mean of the run in {folder.path} "
                    f"({folder.mean_path.name}), and a resumed run keeps its mean. Leave "
                    "out `mean`, or use another run_dir."
                )
        return dataclasses.replace(augmentation, mean=saved), kind
    if mean is None:
        return augmentation, "default"
    if isinstance(mean, str):
        logger.info("Computing the mean of the training split...")
        mean = data_lib.compute_mean(
            source,
            per_pixel=True,
            scale=augmentation.scale_range[0],
            crop_size=augmentation.crop_size,
        )
        return dataclasses.replace(augmentation, mean=mean), "computed"
    return dataclasses.replace(augmentation, mean=_mean_array(augmentation, mean)), "given"


def _mean_array(augmentation, mean):
    try:
        return dataclasses.replace(augmentation, mean=mean).mean
    except ValueError as error:
        raise InvalidValueError(f"Argument `mean`: {error}") from error


def check_decodable(source, augmentation, batch_size):
    """Raises unless the training split gives a batch and the validation split an image.

    The pipelines skip the files that do not decode: a split none of whose files
    decodes (or fewer than a batch) would train, or validate, on nothing.
    """
    splits = {
        "training": (
            data_lib.training_dataset(
                source, batch_size, augmentation=augmentation, seed=0, shuffle_buffer=0
            ),
            f"a batch of {batch_size} images",
        ),
        "validation": (
            data_lib.evaluation_dataset(
                source,
                1,
                scale=augmentation.scale_range[0],
                crop_size=augmentation.crop_size,
                mean=augmentation.mean,
            ),
            "an image",
        ),
    }
    for split, (dataset, wanted) in splits.items():
        if next(iter(dataset.take(1)), None) is None:
            skipped = sorted(source.undecodable_files)
            example = f" (such as {skipped[0]})" if skipped else ""
            raise InvalidValueError(
                f"Argument `data`: the {split} split of {source.name!r} gives not even "
                f"{wanted}: {len(skipped)} of its files are skipped{example}."
            )


def training_epochs(
    source,
    augmentation,
    recipe,
    steps_per_epoch,
    first_epoch,
    parallel,
):
    """Epochs `first_epoch`..`recipe.epochs - 1`, `steps_per_epoch` batches each.

    Each epoch is a pipeline seeded by `epoch_seed(seed, epoch)` that yields
    the same batches on every pass: its order and augmentation are the same
    whichever process trains it and however often it was started before
    (Keras on JAX reads a batch to build the metrics, then starts over; a
    tf.data reshuffle sequence would restart with the process).
    With several processes, each takes its rows of every global batch (see
    `data.training_dataset`), the rows `DataParallel` places on its devices
    (`keras.distribution.list_devices()` lists process 0's first): the run
    computes what one process would.
    """

    def epoch(index):
        return (
            data_lib.training_dataset(
                source,
                recipe.batch_size,
                augmentation=augmentation,
                seed=epoch_seed(recipe.seed, index),
                num_shards=parallel.num_processes,
                shard_index=parallel.process_id,
                reshuffle_each_iteration=False,
            )
            .repeat()
            .take(steps_per_epoch)
        )

    dataset = epoch(first_epoch)
    for index in range(first_epoch + 1, recipe.epochs):
        dataset = dataset.concatenate(epoch(index))
    return dataset


def validation_dataset(
    source, augmentation, batch_size, *, pad=False, num_processes=1, process_id=0
):
    """The validation split as `fit` tests it: the centre crop of the image
    resized to the smallest training scale, minus the training mean.

    With `pad` (several devices share each batch), the last batch is filled
    up to `batch_size` (see `data.evaluation_dataset`) and every process
    gets its rows of each. The filling weighs 0 and the examples `padded /
    examples`: Keras averages the loss of each batch over all its rows and
    weighs the batches by their rows, so that the loss, like the weighted
    errors, is then the mean over the examples alone.
    """
    dataset = data_lib.evaluation_dataset(
        source,
        batch_size,
        views="center",
        scale=augmentation.scale_range[0],
        crop_size=augmentation.crop_size,
        mean=augmentation.mean,
        pad_remainder=pad,
        num_shards=num_processes,
        shard_index=process_id,
    )
    if not pad:
        return dataset
    examples = source.num_examples("validation")
    scale = -(-examples // batch_size) * batch_size / examples
    return dataset.map(lambda images, labels, weights: (images, labels, weights * scale))
