"""`fit`: one call that trains a model with the paper's recipe, resumably, in named steps."""

import contextlib
import dataclasses
import importlib.util
import inspect
import logging
import os
import reprlib
import types
from pathlib import Path

import keras
import numpy as np

from keras_prelu import data as data_lib
from keras_prelu._version import __version__
from keras_prelu.errors import InvalidValueError
from keras_prelu.saving import run_folder
from keras_prelu.training import feeding
from keras_prelu.training.checkpoint import ResumableCheckpoint
from keras_prelu.training.epoch_callbacks import EpochLog
from keras_prelu.training.epoch_callbacks import NonFiniteError
from keras_prelu.training.epoch_callbacks import StopOnNonFinite
from keras_prelu.training.metrics import SparseTopKError
from keras_prelu.training.model_spec import ModelSpec
from keras_prelu.training.parallel import Parallel
from keras_prelu.training.recipe import BUNDLED_RECIPE
from keras_prelu.training.recipe import DEFAULT_MODEL
from keras_prelu.training.recipe import Recipe

__all__ = [
    "BUNDLED_MODEL_KWARGS",
    "DEFAULT_RUNS_DIR",
    "RESUMABLE_CHANGES",
    "FitResult",
    "Run",
    "build_model",
    "compile_model",
    "default_model_kwargs",
    "default_recipe",
    "evaluate_and_record",
    "fit",
    "prepare_run",
    "record_run",
    "resolve_run",
    "start_run",
    "train_epochs",
]

logger = logging.getLogger(__name__)

DEFAULT_RUNS_DIR = "runs"

# fc1 and fc2 of 128 units instead of 4096 for 10 classes of 8x8 digits:
# 3.4M parameters instead of 56M, checkpoints of tens of MB. The input size
# comes from the source's crop (32x32 for the digits).
BUNDLED_MODEL_KWARGS = {"fc_units": (128, 128), "fc_initializer": "he_fan_in"}

# Recipe fields that may change when a run is resumed: its length and how it
# is executed, not what it computes.
RESUMABLE_CHANGES = ("epochs", "strategy", "jit_compile")
# Values in messages: class names, model arguments and paths shortened.
_SHORT = reprlib.Repr()
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = 4
_SHORT.maxstring = _SHORT.maxother = 80


def default_recipe(data=data_lib.DEFAULT_SOURCE):
    """The recipe `fit` uses when none is given.

    `BUNDLED_RECIPE` for the bundled default source (a run of minutes), the
    paper's `Recipe()` for every other source.
    """
    return BUNDLED_RECIPE if data == data_lib.DEFAULT_SOURCE else Recipe()


def default_model_kwargs(data=data_lib.DEFAULT_SOURCE):
    """The model keyword arguments `fit` starts from (before `model_kwargs`)."""
    if data == data_lib.DEFAULT_SOURCE:
        return dict(BUNDLED_MODEL_KWARGS)
    return {}


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What `fit` returns.

    Attributes:
        model: the trained model.
        history: the epoch logs of the whole run, resumed parts included, as
            `{name: [value per epoch]}` (`loss`, `top1_error`, `top5_error`,
            `val_...`, `learning_rate`), read back from `log.csv`.
        evaluation: the final validation loss, `top1_error` and `top5_error`
            (centre crop).
        epochs_completed: epochs trained in the whole run.
        switch_epochs: the epochs after which the learning rate was switched.
        recipe: the recipe used, with its seed filled in.
        num_classes: the number of classes (chance top-1 error is
            `1 - 1 / num_classes`).
        run_dir: the run's folder.
        paths: where each output is: `recipe`, `run`, `mean`, `log`,
            `tensorboard`, `checkpoint`, `evaluation`, `model`.
    """

    model: keras.Model
    history: dict
    evaluation: dict
    epochs_completed: int
    switch_epochs: tuple
    recipe: Recipe
    num_classes: int
    run_dir: Path
    paths: dict

    def summary(self):
        """A few lines: the epochs, the switches, the errors and the paths."""
        switches = ", ".join(map(str, self.switch_epochs)) or "none"
        epochs = "epoch" if self.epochs_completed == 1 else "epochs"
        lines = [
            f"Trained {self.epochs_completed} {epochs} (learning rate switched "
            f"after epochs: {switches}).",
            "Validation, centre crop: top-1 error "
            f"{self.evaluation['top1_error']:.2%}, top-5 error "
            f"{self.evaluation['top5_error']:.2%} (chance top-1 error: "
            f"{1 - 1 / self.num_classes:.2%}).",
        ]
        lines += [f"  {name:<11} {path}" for name, path in self.paths.items()]
        return "\n".join(lines)


def fit(
    model=DEFAULT_MODEL,
    data=data_lib.DEFAULT_SOURCE,
    *,
    validation_data=None,
    recipe=None,
    run_dir=None,
    augmentation=None,
    mean=None,
    model_kwargs=None,
    data_dir=None,
    download=False,
    callbacks=(),
    verbose="auto",
):
    """Trains `model` on `data` the paper's way; resumes.

    A sequence of named steps, each a function of this module:

    1. `resolve_run`: every argument is checked before anything is written,
       and the parallel setup (`Parallel`, from `Recipe.strategy`) is made;
    2. `start_run`: the run in `run_dir` is resumed, or started (its seed
       and mean chosen);
    3. `build_model`: the model (`num_classes` from the source, input size
       from the crop) is built in the parallel scope and compiled with the
       recipe (`compile_model`: `CaffeSGD`, the top-1/top-5 error metrics,
       mixed precision and XLA as the recipe says);
    4. `record_run`: the recipe, the run record and the mean are written;
    5. `train_epochs`: `model.fit` trains for `recipe.epochs` epochs on the
       paper's augmentation, validating on the centre crops of the
       validation split, with the learning-rate switch, the logs, the
       `callbacks` given and a checkpoint each epoch;
    6. `evaluate_and_record`: the final model is evaluated on the
       validation split (centre crop) and saved as `model.keras`, then the
       errors as `evaluation.json`.

    The run folder (`keras_prelu.saving.run_folder.RunFolder`) is locked for the whole
    call: a second process training in it fails at once. The recipe
    (`recipe.json`), the model and data (`run.json`) and the mean subtracted
    (`mean.json`) are written first, every file atomically. When `run_dir`
    already holds a checkpoint, the run resumes after its last completed
    epoch: the same call after a crash finishes the same run. Each epoch's
    data order and augmentation depend only on the recipe's seed and the
    epoch number, so a resumed run sees the batches an uninterrupted one
    would. A resumed run may change only `epochs`, `strategy` and
    `jit_compile`, and keeps its mean. An epoch that ends with a NaN or an
    infinity stops the run with a `NonFiniteError`; the checkpoint keeps the
    last finite epoch.

    Args:
        model: a name of `keras_prelu.zoo.list_models()`; a `keras.Model`
            (functional, Sequential or a registered subclass), re-created
            from its serialization in the strategy's scope with its weights
            (the model given is not changed: `FitResult.model` is the one
            trained); or a callable without arguments that returns one,
            called in the strategy's scope (see `ModelSpec`). A model not
            from the zoo must take `(crop, crop, 3)` inputs and output one
            score per class (softmax probabilities, or logits when its last
            layer is not a softmax); its run resumes only with the same
            model again (the same architecture, layer names included).
        data: a source name for `keras_prelu.data.get_source`: the bundled
            default (`DEFAULT_SOURCE`), a folder of class folders or a
            tensorflow-datasets name such as "imagenet2012"; or a
            `keras_prelu.data.Source`, such as the user's images as
            `ArraySource` (arrays) or `DatasetSource` (`tf.data.Dataset`s),
            which the run records by name only: evaluating or resuming it
            needs the same source again. Or, as `keras.Model.fit` takes
            them, arrays `(x, y)` (NumPy arrays or tensors of images, uint8
            or float in [0, 255], and integer class ids) or a
            `tf.data.Dataset` of `(image, label)` pairs, batched or not:
            fed as an `ArraySource` or a `DatasetSource` (see
            `feeding.as_source`).
        validation_data: with arrays or a dataset as `data`, the validation
            split of the same kind, `(x_val, y_val)` or a dataset
            (required: the run is validated and evaluated on it).
        recipe: a `Recipe`; defaults to `default_recipe(data)`: the paper's,
            or a short run for the bundled source. With `seed=None` a seed
            is drawn and recorded, so that the run can resume.
        run_dir: the run's folder; defaults to `runs/<model>-<data>`.
        augmentation: a `keras_prelu.data.Augmentation`, or a dict of its
            fields (`scale_range`, `crop_size`, ...) that replace those of
            the source's `default_augmentation()`, the default. Its crop is
            the model's input size, its smallest scale the evaluation scale.
        mean: the mean to subtract: None for the augmentation's (or, when
            resuming, the run's), "compute" for the per-pixel mean of the
            training split's centre crops (the paper's; computed once per
            run), or an array of shape (3,) or (crop, crop, 3).
        model_kwargs: more `PReLUNet` keyword arguments, over
            `default_model_kwargs(data)`; `dropout` and `seed` (the
            initializers') default to the recipe's. Zoo models only.
        data_dir: passed to `get_source`: tensorflow-datasets' data folder.
        download: passed to `get_source`: whether tensorflow-datasets may download.
        callbacks: more `keras.callbacks.Callback`s, called after the
            learning-rate switch and the logs, before the checkpoint (in
            every process of a multi-process run).
        verbose: `model.fit`'s verbosity ("auto": progress bars).

    Returns:
        A `FitResult`.

    Raises:
        ValueError: an argument is invalid, or `run_dir` holds another run,
            or a damaged one (`keras_prelu.saving.run_folder.RunFolderError`), or is in
            use by another process (`keras_prelu.saving.run_folder.RunFolderLockedError`).
        NonFiniteError: an epoch ended with a NaN or an infinity.
        OSError: a file of the run could not be written (a full disk).
    """
    run = resolve_run(**locals())
    # Several processes share one run_dir: process 0 holds the lock and writes.
    with run.folder.lock() if run.parallel.writes else contextlib.nullcontext():
        run = start_run(run)
        network = build_model(run)
        record_run(run)
        with _resume_hint(run):
            switch = train_epochs(network, run)
            return evaluate_and_record(network, run, switch)


def prepare_run(model=DEFAULT_MODEL, data=data_lib.DEFAULT_SOURCE, **arguments):
    """`fit`'s first three steps, without training: the model `fit` would start from.

    Takes `fit`'s arguments. The run is resolved (`resolve_run`) and started
    (`start_run`: a checkpoint in `run_dir` is resumed, else the seed and mean
    are chosen), and its model built and compiled (`build_model`); the run
    folder is neither locked nor recorded.

    Returns:
        `(run, model)`: the `Run` and the compiled `keras.Model`.
    """
    run = start_run(resolve_run(model, data, **arguments))
    return run, build_model(run)


@dataclasses.dataclass(frozen=True)
class Run:
    """A run as the steps of `fit` pass it on: its arguments checked and resolved.

    `resolve_run` makes it from `fit`'s arguments; `start_run` fills in what
    the run folder decides.

    Attributes:
        spec: the `ModelSpec` of `fit`'s `model`.
        data: `fit`'s `data`, as given (`run.json` records it); arrays or a
            dataset as their `Source`.
        data_dir: `fit`'s `data_dir`.
        source: the `keras_prelu.data.Source` trained on.
        recipe: the `Recipe` (its seed filled in by `start_run`).
        augmentation: the training `Augmentation`; after `start_run`, with
            the mean the run subtracts.
        mean: `fit`'s `mean` argument.
        model_kwargs: the zoo model's keyword arguments (`{}` for another model).
        callbacks: the user's callbacks.
        verbose: `model.fit`'s verbosity in this process (0 but in process 0).
        folder: the `keras_prelu.saving.run_folder.RunFolder`.
        parallel: the `Parallel` setup.
        steps_per_epoch: the global batches of an epoch.
        epochs_completed: the epochs of the checkpoint resumed from (0: none).
        mean_kind: the kind of the mean (`keras_prelu.saving.run_folder.MEAN_KINDS`), set
            by `start_run`.
    """

    spec: ModelSpec
    data: object
    data_dir: object
    source: data_lib.Source
    recipe: Recipe
    augmentation: data_lib.Augmentation
    mean: object
    model_kwargs: dict
    callbacks: tuple
    verbose: object
    folder: run_folder.RunFolder
    parallel: Parallel
    steps_per_epoch: int
    epochs_completed: int = 0
    mean_kind: str | None = None


def resolve_run(*args, **kwargs):
    """Step 1: checks every argument of `fit` before anything is written.

    Takes `fit`'s arguments, as `fit` declares them (its signature is the one
    list of them). An unknown model or dataset, a batch size the replicas
    cannot share, a split without a batch of examples or whose images do not
    decode, a crop larger than the smallest scale, a `run_dir` that is not a
    writable folder all raise here. Makes the `Parallel` setup once.

    Returns:
        A `Run`.
    """
    bound = inspect.signature(fit).bind(*args, **kwargs)
    bound.apply_defaults()
    given = types.SimpleNamespace(**bound.arguments)
    spec = ModelSpec(given.model)
    data = feeding.as_source(given.data, given.validation_data)
    recipe = default_recipe(data) if given.recipe is None else given.recipe
    if not isinstance(recipe, Recipe):
        raise InvalidValueError(
            "Argument `recipe` must be a keras_prelu.training.Recipe or None. "
            f"Received: recipe={recipe!r}"
        )
    feeding.check_mean_argument(given.mean)
    source = feeding.resolve_source(data, data_dir=given.data_dir, download=given.download)
    augmentation = feeding.resolve_augmentation(given.augmentation, source)
    parallel = Parallel(recipe.strategy)
    parallel.per_replica_batch_size(recipe.batch_size)
    steps_per_epoch = feeding.epoch_steps(source, recipe.batch_size)
    model_kwargs = _model_kwargs(spec, data, given.model_kwargs, source, augmentation, recipe)
    callbacks = tuple(given.callbacks)
    if not all(isinstance(callback, keras.callbacks.Callback) for callback in callbacks):
        raise InvalidValueError(
            "Argument `callbacks` must be a sequence of keras.callbacks.Callback. "
            f"Received: callbacks={list(callbacks)!r}"
        )
    folder = run_folder.RunFolder(
        given.run_dir or Path(DEFAULT_RUNS_DIR) / _run_name(spec.name, source)
    )
    if parallel.writes:
        folder.check_writable()
    feeding.check_decodable(source, augmentation, parallel.process_batch_size(recipe.batch_size))
    return Run(
        spec=spec,
        data=data,
        data_dir=given.data_dir,
        source=source,
        recipe=recipe,
        augmentation=augmentation,
        mean=given.mean,
        model_kwargs=model_kwargs,
        callbacks=callbacks,
        verbose=given.verbose if parallel.writes else 0,
        folder=folder,
        parallel=parallel,
        steps_per_epoch=steps_per_epoch,
    )


def start_run(run):
    """Step 2: resumes the run in `run.folder`, or starts it.

    A checkpoint resumes the run after its last completed epoch, with the
    saved recipe (changed only in `RESUMABLE_CHANGES`) and mean; without one,
    a seed is drawn when the recipe has none and the mean is chosen
    (`feeding.with_mean`). Every process must agree on both.

    Returns:
        `run` with its recipe, augmentation (and mean), `epochs_completed`
        and `mean_kind`.
    """
    folder, parallel, recipe = run.folder, run.parallel, run.recipe
    checkpoint_state = folder.checkpoint.read_state()
    if checkpoint_state is not None:
        epochs_completed = checkpoint_state["epochs_completed"]
        # Every check before any file is written: a refused run leaves its folder as it was.
        _check_same_run(folder, _run_record(run, mean_kind=None))
        recipe = _resumed_recipe(folder, recipe, epochs_completed)
        _check_log(folder, epochs_completed)
    else:
        _check_nothing_to_lose(folder)
        if recipe.seed is None:
            recipe = dataclasses.replace(
                recipe,
                seed=parallel.broadcast(int(np.random.SeedSequence().entropy % 2**31)),
            )
        epochs_completed = 0
    # Several processes: all must resume from the same checkpoint (one
    # run_dir on shared storage) with the same seed; only process 0 writes.
    parallel.check_same(epochs_completed, f"the epochs completed in {folder.checkpoint_dir}")
    parallel.check_same(recipe.seed, "the seed")
    augmentation, mean_kind = feeding.with_mean(
        run.augmentation, run.mean, run.source, folder, resumed=checkpoint_state is not None
    )
    return dataclasses.replace(
        run,
        recipe=recipe,
        augmentation=augmentation,
        epochs_completed=epochs_completed,
        mean_kind=mean_kind,
    )


def build_model(run):
    """Step 3: the model of `run`, built and compiled in the parallel scope.

    Keras' random numbers are seeded by the recipe's seed first; the model
    (`num_classes` from the source, input size from the crop) is built in
    `Parallel.build_scope`, under mixed precision when the recipe asks,
    and compiled there (`compile_model`).
    """
    recipe, crop = run.recipe, run.augmentation.crop_size
    keras.utils.set_random_seed(recipe.seed)
    with run.parallel.build_scope(), _dtype_policy(recipe.mixed_precision):
        network = run.spec.build(
            run.model_kwargs,
            recipe.seed,
            input_shape=(crop, crop, 3),
            num_classes=run.source.num_classes,
        )
        compile_model(
            network,
            recipe,
            from_logits=not run.spec.outputs_probabilities(network, run.model_kwargs),
        )
    return network


def compile_model(network, recipe, *, from_logits):
    """Compiles `network` with the recipe: `CaffeSGD` (`Recipe.optimizer`), the
    cross-entropy and the top-1/top-5 errors, with XLA as the recipe says.

    Call it in the scope the model was built in.
    """
    network.compile(
        optimizer=recipe.optimizer(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        # None, not keras-hub's "auto" (an unweighted accuracy counting the padding rows).
        metrics=None,
        weighted_metrics=[SparseTopKError(1), SparseTopKError(5)],
        jit_compile=recipe.jit_compile,
    )
    # Built now, not in the first step: on TensorFlow, variables created while the training
    # step is traced make it trace twice (about 10 s more for a ResNet50 on a CPU).
    network.optimizer.build(network.trainable_variables)


def record_run(run):
    """Step 4: writes the run's recipe, record and mean (process 0).

    A resumed run (checked by `start_run`) keeps the `log.csv` rows of its
    completed epochs.
    """
    folder = run.folder
    run.parallel.barrier("keras_prelu.fit: run files read")
    if run.parallel.writes:
        folder.write_recipe(run.recipe.to_dict())
        folder.write_run(_run_record(run, run.mean_kind))
        folder.write_mean(run.augmentation.mean)
        folder.keep_log_rows(run.epochs_completed)


def train_epochs(network, run):
    """Step 5: `model.fit` from the epoch after `run.epochs_completed` to `recipe.epochs`.

    On the paper's augmentation (`feeding.training_epochs`), validating on
    the centre crops of the validation split, with callbacks in this order:
    the learning-rate switch (`SwitchLROnPlateau`, on `val_top1_error`),
    `StopOnNonFinite`, `EpochLog` (`log.csv`), `TensorBoard` (`tensorboard/`), the user's
    callbacks and a `ResumableCheckpoint` (`checkpoint/`) each epoch.

    Returns:
        The learning-rate switch, which knows the epochs it switched after.
    """
    folder, parallel, recipe = run.folder, run.parallel, run.recipe
    switch = recipe.learning_rate_switch()
    fit_callbacks = [
        switch,  # first: it writes `learning_rate` into the logs
        StopOnNonFinite(),  # before anything records the epoch
        *([EpochLog(folder), *_tensorboard(_run_paths(folder))] if parallel.writes else []),
        *run.callbacks,
        # last: it records whether training was stopped
        ResumableCheckpoint(
            folder.checkpoint_dir, stateful_callbacks=[switch], write=parallel.writes
        ),
    ]
    train = feeding.training_epochs(
        run.source,
        run.augmentation,
        recipe,
        run.steps_per_epoch,
        first_epoch=min(run.epochs_completed, recipe.epochs - 1),
        parallel=parallel,
    )
    logger.info(
        "Training %s on %s (%d classes, %d steps of %d an epoch, %d replica%s%s) "
        "for up to %d epoch%s in %s%s.",
        run.spec.name,
        run.source.name,
        run.source.num_classes,
        run.steps_per_epoch,
        recipe.batch_size,
        parallel.num_replicas,
        "" if parallel.num_replicas == 1 else "s",
        f" in {parallel.num_processes} processes; this is process {parallel.process_id}"
        if parallel.num_processes > 1
        else "",
        recipe.epochs,
        "" if recipe.epochs == 1 else "s",
        folder.path,
        f", resuming after epoch {run.epochs_completed}" if run.epochs_completed else "",
    )
    with parallel.training_scope():
        network.fit(
            train,
            validation_data=_validation(run),
            epochs=recipe.epochs,
            initial_epoch=run.epochs_completed,
            steps_per_epoch=run.steps_per_epoch,
            callbacks=fit_callbacks,
            shuffle=False,  # each epoch's pipeline shuffles, from its seed
            verbose=run.verbose,
        )
    return switch


def evaluate_and_record(network, run, switch):
    """Step 6: evaluates the trained model, saves it and its errors (process 0).

    On the validation split (centre crop); a non-finite result raises
    `NonFiniteError` and nothing is saved. Then `model.keras` and
    `evaluation.json` are written.

    Returns:
        The `FitResult`.
    """
    folder, parallel = run.folder, run.parallel
    with parallel.training_scope():
        evaluation = {
            name: float(value)
            for name, value in network.evaluate(
                _validation(run), return_dict=True, verbose=run.verbose
            ).items()
        }
    _check_finite(evaluation)
    parallel.barrier("keras_prelu.fit: trained")
    if parallel.writes:
        folder.save_model(network)
        folder.write_evaluation(evaluation)
    parallel.barrier("keras_prelu.fit: saved")
    state = folder.checkpoint.read_state(verify_weights=False) or {"epochs_completed": 0}
    result = FitResult(
        model=network,
        history=folder.history(),
        evaluation=evaluation,
        epochs_completed=state["epochs_completed"],
        switch_epochs=tuple(switch.switch_epochs),
        recipe=run.recipe,
        num_classes=run.source.num_classes,
        run_dir=folder.path,
        paths=_run_paths(folder),
    )
    logger.info(
        "Run finished: top-1 error %.2f%%, top-5 error %.2f%%; written to %s",
        100 * evaluation["top1_error"],
        100 * evaluation["top5_error"],
        folder.path,
    )
    return result


def _validation(run):
    """The validation split as `fit` validates and evaluates on it."""
    return feeding.validation_dataset(
        run.source,
        run.augmentation,
        run.recipe.batch_size,
        pad=run.parallel.pads_evaluation,
        num_processes=run.parallel.num_processes,
        process_id=run.parallel.process_id,
    )


def _model_kwargs(spec, data, model_kwargs, source, augmentation, recipe):
    if model_kwargs is not None and not isinstance(model_kwargs, dict):
        raise InvalidValueError(
            "Argument `model_kwargs` must be a dict or None. "
            f"Received: model_kwargs={model_kwargs!r}"
        )
    if not spec.is_zoo:
        if model_kwargs:
            raise InvalidValueError(
                "Argument `model_kwargs` applies to the zoo's models only; build your "
                f"model with its arguments instead. Received: model_kwargs={model_kwargs!r}"
            )
        return {}
    kwargs = default_model_kwargs(data)
    kwargs.update(model_kwargs or {})
    for reserved in ("include_top", "num_classes"):
        if reserved in kwargs:
            raise InvalidValueError(
                f"Argument `model_kwargs` must not set `{reserved}`: fit "
                f"trains a classifier of the source's {source.num_classes} "
                "classes."
            )
    crop = augmentation.crop_size
    input_shape = tuple(kwargs.get("input_shape", (crop, crop, 3)))
    if len(input_shape) != 3 or any(size not in (None, crop) for size in input_shape[:2]):
        raise InvalidValueError(
            "Argument `model_kwargs['input_shape']` must take the "
            f"{crop}x{crop} crops of the augmentation: (height, width, 3) "
            f"with sizes {crop} or None. Received: {input_shape!r}"
        )
    kwargs["input_shape"] = input_shape
    kwargs["num_classes"] = source.num_classes
    kwargs.setdefault("dropout", recipe.dropout)
    if "fc_units" in kwargs:
        kwargs["fc_units"] = tuple(kwargs["fc_units"])
    return kwargs


def _run_name(model, source):
    data_name = Path(os.fspath(source.name)).name or "data"
    return f"{model}-{data_name.replace('/', '_').replace(':', '_')}"


def _run_record(run, mean_kind):
    """The `RunRecord` of `run`, with the mean of its augmentation."""
    spec, source, augmentation, data_dir = run.spec, run.source, run.augmentation, run.data_dir
    data_given = isinstance(run.data, data_lib.Source)
    return run_folder.RunRecord(
        model=spec.name,
        model_kwargs=run.model_kwargs,
        architecture=None if spec.is_zoo else spec.architecture,
        data=source.name if data_given else _absolute_data(run.data),
        data_given=data_given,
        data_dir=None if data_dir is None else os.path.abspath(os.path.expanduser(data_dir)),
        class_names=source.class_names,
        scale_range=augmentation.scale_range,
        crop_size=augmentation.crop_size,
        flip=augmentation.flip,
        pca_std=float(augmentation.pca_std),
        mean_rgb=augmentation.mean.reshape(-1, 3).mean(axis=0),
        mean_kind=mean_kind,
        evaluation_scale=augmentation.scale_range[0],
        version=__version__,
    )


def _absolute_data(data):
    """A folder's absolute path; the bundled source's or a tfds name as given."""
    data = os.fspath(data)
    if data != data_lib.DEFAULT_SOURCE and os.path.isdir(data):
        return os.path.abspath(data)
    return data


def _check_nothing_to_lose(folder):
    """Raises when a folder without a checkpoint holds a trained model, or the log of
    more than the one epoch a killed process may have logged before its first
    checkpoint: starting over would overwrite them."""
    if folder.model_path.exists() or folder.evaluation_path.exists():
        raise run_folder.RunFolderError(
            f"Argument `run_dir` ({folder.path}) holds a trained model "
            f"({folder.model_path.name}) but no checkpoint ({folder.checkpoint_dir} is "
            "missing or empty): starting over would overwrite it. Use another run_dir."
        )
    logged = len(folder.read_log())
    if logged > 1:
        raise run_folder.RunFolderError(
            f"{folder.log_path} holds {logged} epochs, but "
            f"{folder.checkpoint.state_path} is missing: starting over would overwrite "
            "them. Restore it, or move the run folder away and start again."
        )


def _check_same_run(folder, record):
    """Raises unless the run in `folder` trained the model of `record` on its data."""
    saved_record = folder.read_run()
    differences = saved_record.differences(record)
    if differences:
        changes = "; ".join(
            _change(*_first_difference(name, getattr(saved_record, name), getattr(record, name)))
            for name in differences
        )
        raise run_folder.RunFolderError(
            f"Argument `run_dir` ({folder.path}) holds another run, which cannot be "
            f"resumed as this one: {changes} (in {folder.run_path.name}). Use another "
            "run_dir."
        )


def _resumed_recipe(folder, recipe, epochs_completed):
    """The recipe of the run being resumed, with the changes allowed.

    Only `RESUMABLE_CHANGES` may change, and `epochs` not below the epochs completed.
    """
    saved = Recipe.load(folder.recipe_path)
    if recipe.seed is None:
        recipe = dataclasses.replace(recipe, seed=saved.seed)
    changed = [
        _change(name, getattr(saved, name), value)
        for name, value in recipe.to_dict().items()
        if value != getattr(saved, name) and name not in RESUMABLE_CHANGES
    ]
    if changed:
        raise InvalidValueError(
            f"Argument `recipe` differs from the recipe of the run in {folder.path}: "
            f"{'; '.join(changed)} (in {folder.recipe_path.name}). A resumed run may "
            f"change only {list(RESUMABLE_CHANGES)}. Use another run_dir."
        )
    if recipe.epochs < epochs_completed:
        raise InvalidValueError(
            f"Argument `recipe` asks for epochs={recipe.epochs}, but the run in "
            f"{folder.path} has completed {epochs_completed} epochs ("
            f"{_change('epochs', saved.epochs, recipe.epochs)}, in "
            f"{folder.recipe_path.name}). Train for {epochs_completed} epochs or more, "
            "or use another run_dir."
        )
    for name in RESUMABLE_CHANGES:
        if getattr(recipe, name) != getattr(saved, name):
            logger.info(
                "Resumed run: %s changed from %r to %r.",
                name,
                getattr(saved, name),
                getattr(recipe, name),
            )
    return recipe


def _check_log(folder, epochs_completed):
    """Raises unless `log.csv` holds a row for each epoch the checkpoint completed.

    One more row is the epoch a killed process logged but did not checkpoint.
    """
    logged = len(folder.read_log())  # a damaged row raises, naming its line
    if not epochs_completed <= logged <= epochs_completed + 1:
        what = "is missing" if not folder.log_path.exists() else f"holds {logged} epochs"
        raise run_folder.RunFolderError(
            f"{folder.log_path} {what}, but the checkpoint ({folder.checkpoint.state_path}) "
            f"holds {epochs_completed}: the log was emptied, cut or replaced. Restore it, "
            "or move the run folder away and start again."
        )


def _first_difference(name, saved, given):
    """`(path, saved, given)` of the first value that differs in nested dicts and lists."""
    if isinstance(saved, dict) and isinstance(given, dict):
        for key in sorted(set(saved) | set(given), key=str):
            if saved.get(key) != given.get(key):
                return _first_difference(f"{name}.{key}", saved.get(key), given.get(key))
    if isinstance(saved, list) and isinstance(given, list) and len(saved) == len(given):
        for index, (old, new) in enumerate(zip(saved, given)):
            if old != new:
                return _first_difference(f"{name}[{index}]", old, new)
    return name, saved, given


def _change(name, saved, given):
    """`name: saved <value>, given <value>`, long values shortened."""
    return f"{name}: saved {_SHORT.repr(saved)}, given {_SHORT.repr(given)}"


def _check_finite(evaluation):
    bad = {name: value for name, value in evaluation.items() if not np.isfinite(value)}
    if bad:
        raise NonFiniteError(
            f"The final evaluation gave non-finite values {bad}: the model is not saved."
        )


@contextlib.contextmanager
def _resume_hint(run):
    """Says how to resume when a process of a multi-process run stops.

    When one process dies, the others fail in their next collective, or are
    stopped by JAX within the heartbeat timeout: every process must then be
    started again.
    """
    num_processes = run.parallel.num_processes
    try:
        yield
    except Exception:
        if num_processes > 1:
            state = run.folder.checkpoint.read_state(verify_weights=False)
            logger.error(
                "This process of the %d-process run stopped on the error below; "
                "the others stop too. %s holds %d completed epochs: start all %d "
                "processes again with the same arguments to resume from there.",
                num_processes,
                run.folder.checkpoint_dir,
                (state or {"epochs_completed": 0})["epochs_completed"],
                num_processes,
            )
        raise


@contextlib.contextmanager
def _dtype_policy(mixed_precision):
    """Builds layers under "mixed_float16" or "mixed_bfloat16" when asked, then restores."""
    previous = keras.config.dtype_policy()
    if mixed_precision != "none":
        keras.config.set_dtype_policy(f"mixed_{mixed_precision}")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _run_paths(folder):
    """`folder.paths()`, without `tensorboard` when the `tensorboard` package is missing.

    TensorFlow 2.21 no longer installs it, without which `tf.summary` cannot
    write.
    """
    paths = folder.paths()
    if importlib.util.find_spec("tensorboard") is None:
        del paths["tensorboard"]
    return paths


def _tensorboard(paths):
    """The TensorBoard callback, or none without tensorboard (see `_run_paths`)."""
    if "tensorboard" not in paths:
        logger.warning(
            "The `tensorboard` package is not installed: no TensorBoard log "
            "(pip install tensorboard). The CSV log is written."
        )
        return []
    return [keras.callbacks.TensorBoard(paths["tensorboard"], write_graph=False)]
