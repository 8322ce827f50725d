"""The run folder of `keras_prelu.training.fit`: its files, what they hold, how they are written.

A run folder holds:

- `recipe.json`: the training recipe (`Recipe.to_dict()`);
- `run.json`: what was trained on what (`RunRecord`): the model and its arguments (or
  the architecture of a model not from the zoo), the
  data (a folder's absolute path, or a tensorflow-datasets name and its absolute
  `data_dir`), the class names, the augmentation, the per-channel mean, the evaluation
  scale and the keras-prelu version, so that the run is evaluated and exported from any
  working directory;
- `mean.json`: the mean subtracted, per channel `(3,)` or per pixel `(crop, crop, 3)`;
- `log.csv`: one row per completed epoch, epochs counted from 1, the learning rate as it
  was set (0.01, not its float32 0.009999999776482582);
- `checkpoint/`: `checkpoint.json` and the weights file it names, with its SHA-256
  (`CheckpointFolder`);
- `tensorboard/`: TensorBoard's logs;
- `model.keras`, then `evaluation.json` (the final validation errors): `evaluation.json`
  is written last, so that a folder holding it holds a whole model;
- `.lock`: locked (`fcntl.flock`) by the process that trains in the folder.

Every file is written through `keras_prelu.saving.atomic` (a temporary file renamed
into place): a process killed at any moment, or a full disk, leaves the previous whole
file. Every file is read with its schema checked: a missing, truncated or edited file
raises a `SavedFileError` that names it (a `RunFolderError` when the file is valid JSON
but not what the run folder holds).
"""

import contextlib
import csv
import dataclasses
import fcntl
import io
import json
import logging
import math
import os
import re
import time
import zipfile
from pathlib import Path

import numpy as np

from keras_prelu.saving.atomic import SavedFileError
from keras_prelu.saving.atomic import check_writable_folder
from keras_prelu.saving.atomic import file_sha256
from keras_prelu.saving.atomic import os_errors_naming
from keras_prelu.saving.atomic import read_json
from keras_prelu.saving.atomic import remove_file
from keras_prelu.saving.atomic import write_file
from keras_prelu.saving.atomic import write_json
from keras_prelu.saving.atomic import write_text

__all__ = [
    "CHECKPOINT_DIRNAME",
    "CHECKPOINT_STATE_FILENAME",
    "EVALUATION_FILENAME",
    "LOCK_FILENAME",
    "LOG_FILENAME",
    "MEAN_FILENAME",
    "MEAN_KINDS",
    "MODEL_FILENAME",
    "RECIPE_FILENAME",
    "RUN_FILENAME",
    "TENSORBOARD_DIRNAME",
    "CheckpointFolder",
    "RunFolder",
    "RunFolderError",
    "RunFolderLockedError",
    "RunRecord",
    "load_model",
]

logger = logging.getLogger(__name__)

RECIPE_FILENAME = "recipe.json"
RUN_FILENAME = "run.json"
MEAN_FILENAME = "mean.json"
LOG_FILENAME = "log.csv"
EVALUATION_FILENAME = "evaluation.json"
MODEL_FILENAME = "model.keras"
CHECKPOINT_DIRNAME = "checkpoint"
CHECKPOINT_STATE_FILENAME = "checkpoint.json"
TENSORBOARD_DIRNAME = "tensorboard"
LOCK_FILENAME = ".lock"
# How long `RunFolder.lock` waits for the processes reading the run (evaluate, export).
READERS_WAIT_S = 120
# The version of run.json's layout; a file without it, or with another, is refused.
RUN_FORMAT = 2
# How the mean in `mean.json` was chosen (`fit`'s `mean` argument).
MEAN_KINDS = ("default", "computed", "given")

_WEIGHTS_NAME = "epoch-{:04d}.weights.h5"
_WEIGHTS_PATTERN = re.compile(r"epoch-(\d{4,})\.weights\.h5")


class RunFolderError(SavedFileError):
    """A run folder, or one of its files, cannot be used; the message names the path."""


class RunFolderLockedError(RunFolderError):
    """Another process holds the run folder's lock."""


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """What `run.json` holds: what was trained, on what, seen how.

    Attributes:
        model: the zoo model's name, or the name of a model not from the zoo.
        model_kwargs: the zoo builder's keyword arguments (JSON values).
        data: "digits", a folder's absolute path or a tensorflow-datasets name.
        data_dir: tensorflow-datasets' data folder, absolute, or None.
        class_names: the class names, in class-id order.
        scale_range: the training scale range `(min, max)`, shorter sides.
        crop_size: the training crop side, the model's input size.
        flip: whether training flipped images horizontally.
        pca_std: the colour noise's standard deviation.
        mean_rgb: the per-channel mean subtracted (a per-pixel mean's average).
        mean_kind: "default" (the source's), "computed" or "given".
        evaluation_scale: the shorter side single-scale testing resizes to.
        version: the keras-prelu version that wrote the record.
        architecture: for a model not from the zoo (a `keras.Model` or a builder's),
            its Keras serialization (`keras.saving.serialize_keras_object`), from
            which a resumed run re-creates it; None for a zoo model, which
            `model` and `model_kwargs` name.
        data_given: whether the data was given as a `keras_prelu.data.Source` that
            its name cannot rebuild (arrays, a `tf.data.Dataset`): evaluating or
            resuming the run needs that source again.
    """

    model: str
    model_kwargs: dict
    data: str
    data_dir: str | None
    class_names: tuple
    scale_range: tuple
    crop_size: int
    flip: bool
    pca_std: float
    mean_rgb: tuple
    mean_kind: str
    evaluation_scale: int
    version: str
    architecture: dict | None = None
    data_given: bool = False

    def __post_init__(self):
        # As written to and read from JSON: tuples are lists, other objects strings.
        kwargs = json.loads(json.dumps(self.model_kwargs, default=str))
        object.__setattr__(self, "model_kwargs", kwargs)
        architecture = json.loads(json.dumps(self.architecture, default=str))
        object.__setattr__(self, "architecture", architecture)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "scale_range", tuple(self.scale_range))
        object.__setattr__(self, "mean_rgb", tuple(float(value) for value in self.mean_rgb))

    def differences(self, other):
        """The fields in which `other` trains another model, on other data or another way.

        The mean and the version are left out: a resumed run keeps the mean of
        `mean.json`, and may be resumed by another version.
        """
        return sorted(
            field.name
            for field in dataclasses.fields(self)
            if field.name not in ("mean_rgb", "mean_kind", "version")
            and getattr(self, field.name) != getattr(other, field.name)
        )

    def to_json(self):
        return {
            "format": RUN_FORMAT,
            "keras_prelu_version": self.version,
            "model": self.model,
            "model_kwargs": self.model_kwargs,
            "architecture": self.architecture,
            "data": {"source": self.data, "data_dir": self.data_dir, "given": self.data_given},
            "class_names": list(self.class_names),
            "augmentation": {
                "scale_range": list(self.scale_range),
                "crop_size": self.crop_size,
                "flip": self.flip,
                "pca_std": self.pca_std,
                "mean_rgb": list(self.mean_rgb),
                "mean_kind": self.mean_kind,
            },
            "evaluation_scale": self.evaluation_scale,
        }

    @classmethod
    def from_json(cls, values, path):
        """The record of the JSON object `values` read from `path`; raises if it is not one."""
        reader = _Fields(values, path)
        if values.get("format") != RUN_FORMAT:
            raise RunFolderError(
                f"{path} is not a run.json of this keras-prelu (format {RUN_FORMAT}); it was "
                f"written by an earlier version (format {values.get('format')!r}). Train the "
                "run again, or evaluate and export its model.keras file directly."
            )
        data = reader.object("data")
        augmentation = reader.object("augmentation")
        return cls(
            model=reader.text("model"),
            model_kwargs=reader.object("model_kwargs").values,
            data=data.text("source"),
            data_dir=data.optional_text("data_dir"),
            class_names=tuple(reader.texts("class_names")),
            scale_range=tuple(augmentation.positive_ints("scale_range", 2)),
            crop_size=augmentation.positive_int("crop_size"),
            flip=augmentation.boolean("flip"),
            pca_std=augmentation.number("pca_std"),
            mean_rgb=tuple(augmentation.numbers("mean_rgb", 3)),
            mean_kind=augmentation.choice("mean_kind", MEAN_KINDS),
            evaluation_scale=reader.positive_int("evaluation_scale"),
            version=reader.text("keras_prelu_version"),
            # Absent from the records of zoo models on named data written before them.
            architecture=reader.optional_object_value("architecture"),
            data_given=data.optional_boolean("given"),
        )


class RunFolder:
    """The run folder at `path`: the one reader and writer of its files.

    Args:
        path: the folder (it need not exist yet).
    """

    def __init__(self, path):
        self.path = Path(path)

    recipe_path = property(lambda self: self.path / RECIPE_FILENAME)
    run_path = property(lambda self: self.path / RUN_FILENAME)
    mean_path = property(lambda self: self.path / MEAN_FILENAME)
    log_path = property(lambda self: self.path / LOG_FILENAME)
    evaluation_path = property(lambda self: self.path / EVALUATION_FILENAME)
    model_path = property(lambda self: self.path / MODEL_FILENAME)
    checkpoint_dir = property(lambda self: self.path / CHECKPOINT_DIRNAME)
    tensorboard_dir = property(lambda self: self.path / TENSORBOARD_DIRNAME)

    @property
    def checkpoint(self):
        return CheckpointFolder(self.checkpoint_dir)

    def paths(self):
        """`{name: path}` of every output: recipe, run, mean, log, tensorboard, checkpoint,
        evaluation, model."""
        return {
            "recipe": self.recipe_path,
            "run": self.run_path,
            "mean": self.mean_path,
            "log": self.log_path,
            "tensorboard": self.tensorboard_dir,
            "checkpoint": self.checkpoint_dir,
            "evaluation": self.evaluation_path,
            "model": self.model_path,
        }

    def is_finished(self):
        """Whether the run wrote its model and its final evaluation."""
        return self.evaluation_path.is_file() and self.model_path.is_file()

    def check_writable(self):
        """Raises unless the folder is, or can be created as, a writable folder."""
        check_writable_folder(self.path, "run_dir")

    @contextlib.contextmanager
    def lock(self):
        """Holds an exclusive lock on the folder (creating it) for the `with` block.

        The lock is `fcntl.flock` on `.lock`: the operating system releases it when
        the process ends, however it ends, so that a killed run never leaves a stale
        lock. A second process gets a `RunFolderLockedError` at once. A folder this
        call created is removed again when the block fails before writing in it.
        """
        self.check_writable()
        created = not self.path.exists()
        lock_path = self.path / LOCK_FILENAME
        with os_errors_naming(self.path, "create"):
            self.path.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._lock_exclusively(descriptor)
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
            yield self
        except BaseException:
            if created and os.listdir(self.path) == [LOCK_FILENAME]:
                lock_path.unlink()
                self.path.rmdir()
            raise
        finally:
            os.close(descriptor)  # releases the lock

    def _lock_exclusively(self, descriptor):
        """Takes the lock, waiting up to `READERS_WAIT_S` for processes reading the run."""
        deadline = time.monotonic() + READERS_WAIT_S
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            try:  # shared: readers only; refused: a process training
                fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunFolderLockedError(
                    f"Argument `run_dir` ({self.path}) is in use: process "
                    f"{_lock_holder(descriptor)} is training in it. Wait until it ends, or "
                    "choose another run_dir."
                ) from None
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            if time.monotonic() > deadline:
                raise RunFolderLockedError(
                    f"Argument `run_dir` ({self.path}) is being read by other processes "
                    f"(evaluate, export) for more than {READERS_WAIT_S} s. Try again."
                )
            time.sleep(0.05)

    @contextlib.contextmanager
    def reading(self):
        """Holds a shared lock on the folder for the `with` block: a consistent read.

        Processes that read (evaluate, export) share the lock; `lock()` waits for
        them. While a process trains in the folder, its files change: a
        `RunFolderLockedError` is raised at once. A folder never trained in (no
        `.lock`), or on read-only storage, is read as it is.
        """
        try:
            descriptor = os.open(self.path / LOCK_FILENAME, os.O_RDONLY)
        except OSError:
            yield self
            return
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunFolderLockedError(
                    f"{self.path} is in use: process {_lock_holder(descriptor)} is training "
                    "in it, and its files change meanwhile. Evaluate or export it when that "
                    "process ends."
                ) from None
            yield self
        finally:
            os.close(descriptor)

    # --- recipe.json, run.json, mean.json, evaluation.json -------------------

    def write_recipe(self, values):
        """Writes the recipe's fields (`Recipe.to_dict()`).

        A finished run whose recipe changes (a run resumed for more epochs) is
        unfinished first (`evaluation.json` removed): a reader never takes the
        model of one recipe with another's `recipe.json`.
        """
        if self.evaluation_path.exists() and read_json(self.recipe_path) != values:
            remove_file(self.evaluation_path)
        write_json(self.recipe_path, values)

    def read_recipe(self):
        """The recipe's fields as written by `write_recipe`."""
        return read_json(self.recipe_path)

    def write_run(self, record):
        write_json(self.run_path, record.to_json())

    def read_run(self):
        """The `RunRecord` of `run.json`."""
        return RunRecord.from_json(read_json(self.run_path), self.run_path)

    def write_mean(self, mean):
        """Writes the mean subtracted, `(3,)` or `(crop, crop, 3)`."""
        mean = np.asarray(mean, dtype=np.float32)
        write_json(self.mean_path, {"shape": list(mean.shape), "mean": mean.ravel().tolist()})

    def read_mean(self):
        """The mean of `mean.json`, a float32 array of shape (3,) or (crop, crop, 3)."""
        reader = _Fields(read_json(self.mean_path), self.mean_path)
        shape = reader.positive_ints("shape")
        values = reader.numbers("mean", math.prod(shape))
        if shape != [3] and (len(shape) != 3 or shape[2] != 3 or shape[0] != shape[1]):
            raise RunFolderError(
                f"{self.mean_path} has a mean of shape {shape}; a mean has shape [3] or "
                "[crop, crop, 3]."
            )
        return np.array(values, dtype=np.float32).reshape(shape)

    def write_evaluation(self, evaluation):
        """Writes the final errors `{name: float}`; call after `save_model`."""
        write_json(self.evaluation_path, evaluation)

    def read_evaluation(self):
        reader = _Fields(read_json(self.evaluation_path), self.evaluation_path)
        return {name: reader.number(name) for name in reader.values}

    # --- log.csv --------------------------------------------------------------

    def write_log(self, rows):
        """Writes `rows`, `[{"epoch": 1, name: float, ...}, ...]`, as `log.csv`."""
        columns = ["epoch"] + sorted({name for row in rows for name in row} - {"epoch"})
        text = io.StringIO()
        writer = csv.DictWriter(text, columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text(self.log_path, text.getvalue())

    def read_log(self):
        """The rows of `log.csv` (none if there is no log), each epoch once, from 1."""
        if not self.log_path.exists():
            return []
        with os_errors_naming(self.log_path, "read"):
            text = self.log_path.read_text()
        rows = []
        for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            try:
                epoch = int(row.pop("epoch"))
                values = {name: float(value) for name, value in row.items() if value != ""}
            except (TypeError, ValueError):
                raise RunFolderError(
                    f"{self.log_path} has an unreadable row at line {line}: every row is an "
                    "epoch number and numbers."
                ) from None
            if epoch != len(rows) + 1:
                raise RunFolderError(
                    f"{self.log_path} has epoch {epoch} at line {line}; expected epoch "
                    f"{len(rows) + 1} (epochs are counted from 1, once each)."
                )
            rows.append({"epoch": epoch, **values})
        return rows

    def keep_log_rows(self, epochs_completed):
        """Drops the log rows after epoch `epochs_completed` (a resumed run redoes them)."""
        rows = self.read_log()
        if len(rows) > epochs_completed:
            self.write_log(rows[:epochs_completed])

    def history(self):
        """The log as `{name: [value per epoch]}`, the epoch column left out."""
        rows = self.read_log()
        names = sorted({name for row in rows for name in row} - {"epoch"})
        return {name: [row.get(name, math.nan) for row in rows] for name in names}

    # --- model.keras ----------------------------------------------------------

    def save_model(self, model):
        """Writes `model` as `model.keras`, atomically."""
        write_file(self.model_path, model.save)

    def load_model(self):
        """The model of `model.keras`; raises unless the run finished.

        A run is finished once `evaluation.json` is written, after `model.keras`.
        """
        for path in (self.model_path, self.evaluation_path):
            if not path.is_file():
                raise RunFolderError(
                    f"{self.path} has no {path.name}: it is not a finished run folder of "
                    "keras-prelu train (run the same train command to finish it)."
                )
        return load_model(self.model_path)


def _lock_holder(descriptor):
    """The process id that the holder of the lock wrote, or "?"."""
    return os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?"


class CheckpointFolder:
    """The checkpoint of a run: the last completed epoch's weights and `checkpoint.json`.

    `checkpoint.json` holds `epochs_completed` (an int >= 1), `stopped` (whether
    training was stopped there), `weights` (the weights file's name,
    `epoch-NNNN.weights.h5` for epoch NNNN), `weights_sha256` (its checksum),
    `callbacks` (`{class name: state}`), `unsaved_variables` (values of the
    variables `save_weights` leaves out) and `generators` (`{name: state}`, the
    global random generators' states; absent in earlier checkpoints). The weights
    file is written first, then `checkpoint.json` that names it (the commit point of
    the epoch), then other weights are deleted: a process killed at any moment
    leaves the previous whole checkpoint in force, and weights that no
    `checkpoint.json` names are leftovers of a killed write, deleted by the next one.

    Args:
        directory: the checkpoint's folder (it need not exist yet).
    """

    def __init__(self, directory):
        self.directory = Path(directory)

    @property
    def state_path(self):
        return self.directory / CHECKPOINT_STATE_FILENAME

    def read_state(self, verify_weights=True):
        """The checkpoint's state dict, or None when there is no checkpoint.

        Without `checkpoint.json`, the weights of epoch 1 alone are the leftover of
        a process killed before it committed its first checkpoint: there is none.
        Raises `RunFolderError` when `checkpoint.json` is missing beside weights of
        a later epoch (it was deleted), unreadable, or has a field of the wrong
        kind, and (with `verify_weights`) when its weights file is missing or does
        not match its checksum: such a checkpoint is never restarted over, nor
        resumed from.
        """
        if not self.state_path.exists():
            weights = sorted(path.name for path in self._weights_files())
            if weights and weights != [_WEIGHTS_NAME.format(1)]:
                raise RunFolderError(
                    f"{self.directory} holds weights ({', '.join(weights)}) but no "
                    f"{CHECKPOINT_STATE_FILENAME}: the checkpoint cannot be resumed, and "
                    "starting over would overwrite the run. Restore the file, or move the "
                    "run folder away and start again."
                )
            return None
        reader = _Fields(read_json(self.state_path), self.state_path)
        epochs_completed = reader.positive_int("epochs_completed")
        state = {
            "epochs_completed": epochs_completed,
            "stopped": reader.boolean("stopped"),
            "weights": reader.choice("weights", (_WEIGHTS_NAME.format(epochs_completed),)),
            "weights_sha256": reader.matching("weights_sha256", r"[0-9a-f]{64}", "a SHA-256"),
            "callbacks": reader.object("callbacks").values,
            "unsaved_variables": reader.array("unsaved_variables"),
            "generators": reader.optional_object_value("generators") or {},
        }
        if verify_weights:
            self._verify(state)
        return state

    def weights_path(self, state):
        return self.directory / state["weights"]

    def write(
        self, epochs_completed, save_weights, *, stopped, callbacks, unsaved_variables, generators
    ):
        """Writes the checkpoint of epoch `epochs_completed`.

        Args:
            epochs_completed: the epochs completed, >= 1.
            save_weights: a function that writes the weights to the `.weights.h5`
                path it is given (`model.save_weights`).
            stopped: whether training was stopped there.
            callbacks: `{class name: state}`.
            unsaved_variables: values of the variables `save_weights` leaves out.
            generators: `{name: state}` of global random generators, JSON values.
        """
        name = _WEIGHTS_NAME.format(epochs_completed)
        with os_errors_naming(self.directory, "create"):
            self.directory.mkdir(parents=True, exist_ok=True)
        write_file(self.directory / name, save_weights)
        digest = file_sha256(self.directory / name)
        state = {
            "epochs_completed": epochs_completed,
            "stopped": bool(stopped),
            "weights": name,
            "weights_sha256": digest,
            "callbacks": callbacks,
            "unsaved_variables": unsaved_variables,
            "generators": generators,
        }
        write_json(self.state_path, state)
        for stale in self._weights_files():
            if stale.name != name:
                stale.unlink()

    def _weights_files(self):
        if not self.directory.is_dir():
            return []
        return [path for path in self.directory.iterdir() if _WEIGHTS_PATTERN.fullmatch(path.name)]

    def _verify(self, state):
        path = self.weights_path(state)
        if not path.is_file():
            raise RunFolderError(
                f"{self.state_path} names {path.name}, which is missing: the checkpoint "
                "cannot be resumed."
            )
        if file_sha256(path) != state["weights_sha256"]:
            raise RunFolderError(
                f"{path} does not match the SHA-256 that {self.state_path.name} records for "
                "it: the file was damaged after it was written, and resuming from it would "
                "train from corrupt weights. Restore the run folder from a copy, or start "
                "again in another run_dir."
            )


# --- .keras files ----------------------------------------------------------


def load_model(path):
    """The model in the `.keras` file `path`; a damaged file raises naming the path."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model at {path}.")
    try:
        return keras.saving.load_model(path)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise RunFolderError(
            f"{path} cannot be loaded as a Keras model ({type(error).__name__}: "
            f"{first_line}): it is damaged or not a .keras file."
        ) from None


class _Fields:
    """Typed reads of the fields of a JSON object read from `path`; errors name both."""

    def __init__(self, values, path):
        if not isinstance(values, dict):
            raise RunFolderError(f"{path} must hold a JSON object. Received: {values!r}")
        self.values = values
        self.path = path

    def _get(self, name, is_valid, accepted):
        if name not in self.values:
            raise RunFolderError(f"{self.path} has no field `{name}`.")
        value = self.values[name]
        if not is_valid(value):
            raise RunFolderError(
                f"{self.path} has an invalid field `{name}`: it must be {accepted}. "
                f"Received: {name}={value!r}"
            )
        return value

    def object(self, name):
        return _Fields(self._get(name, lambda v: isinstance(v, dict), "an object"), self.path)

    def optional_object_value(self, name):
        """The object `name` as a dict, or None when it is null or absent."""
        if self.values.get(name) is None:
            return None
        return self._get(name, lambda v: isinstance(v, dict), "an object or null")

    def array(self, name):
        return self._get(name, lambda v: isinstance(v, list), "an array")

    def text(self, name):
        return self._get(name, lambda v: isinstance(v, str) and v != "", "a non-empty string")

    def optional_text(self, name):
        return self._get(name, lambda v: v is None or isinstance(v, str), "a string or null")

    def texts(self, name):
        return self._get(
            name,
            lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
            "an array of strings",
        )

    def boolean(self, name):
        return self._get(name, lambda v: isinstance(v, bool), "true or false")

    def optional_boolean(self, name):
        """The boolean `name`, False when it is absent."""
        if name not in self.values:
            return False
        return self.boolean(name)

    def number(self, name):
        return self._get(name, _is_finite_number, "a finite number")

    def numbers(self, name, count):
        return self._get(
            name,
            lambda v: isinstance(v, list) and len(v) == count and all(map(_is_finite_number, v)),
            f"an array of {count} finite numbers",
        )

    def positive_int(self, name):
        return self._get(name, _is_positive_int, "an integer >= 1")

    def positive_ints(self, name, count=None):
        return self._get(
            name,
            lambda v: (
                isinstance(v, list)
                and (count is None or len(v) == count)
                and all(map(_is_positive_int, v))
            ),
            "an array of integers >= 1" + ("" if count is None else f", {count} of them"),
        )

    def choice(self, name, choices):
        return self._get(name, lambda v: v in choices, f"one of {list(choices)}")

    def matching(self, name, pattern, accepted):
        return self._get(name, lambda v: isinstance(v, str) and re.fullmatch(pattern, v), accepted)


def _is_finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
