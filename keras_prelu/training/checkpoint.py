"""Per-epoch checkpoints that survive being killed, and resuming from them."""

import base64
import binascii
import logging
from pathlib import Path

import keras
import numpy as np

from keras_prelu import _compat
from keras_prelu.errors import InvalidValueError
from keras_prelu.saving import run_folder

__all__ = ["ResumableCheckpoint"]

logger = logging.getLogger(__name__)


class ResumableCheckpoint(keras.callbacks.Callback):
    """Checkpoints a run at each epoch end and resumes it at `fit()` start.

    At the end of every epoch it writes, in `directory` (a
    `keras_prelu.saving.run_folder.CheckpointFolder`):

    - `epoch-NNNN.weights.h5`: the model's and the optimizer's variables
      (momentum, iteration count, the current learning rate);
    - `checkpoint.json`: the number of epochs completed, whether training
      was stopped (e.g. by `SwitchLROnPlateau` at its floor), the weights
      file's SHA-256, the state of the `stateful_callbacks`, and the model
      variables that `save_weights` leaves out (the random-seed states of
      dropout layers).

    Each file is written under a temporary name, flushed to disk and renamed
    (`os.replace`, atomic on POSIX); `checkpoint.json` is renamed last and
    names its weights file, so a process killed at any moment leaves the
    previous complete checkpoint in force. Older weights files are deleted
    after the new state is in place. On resuming, every field is checked and
    the weights file must match its checksum; weights without a valid
    `checkpoint.json` are refused (`keras_prelu.saving.run_folder.RunFolderError`), never
    trained over.

    When `fit()` starts and `directory` holds a checkpoint, the model,
    optimizer, seed states and callback states are restored (on PyTorch also
    its global generator, which Keras' `Dropout` without a seed draws its
    masks from, set at the first batch) and training continues at the next
    epoch (`fit()` reports epochs from there); a run that had already stopped
    early runs no more epochs. The same command
    therefore finishes an interrupted run with the weights an uninterrupted
    one would reach, provided the data order of each epoch does not depend on
    how many epochs the process has already run (e.g. `shuffle=False`, or a
    dataset reshuffled from a seed and the epoch number).

    Unlike `keras.callbacks.BackupAndRestore`, which writes weights and epoch
    number non-atomically as two files and deletes them at the end, this keeps
    the last checkpoint as the run's record and carries callback state.

    Place it after the callbacks that may stop training (so their decision is
    recorded) and create the model and optimizer identically on each start.

    Args:
        directory: path of a directory used only by this checkpoint.
        stateful_callbacks: callbacks whose `get_state()`/`set_state()` are
            saved and restored with the checkpoint, e.g. a
            `SwitchLROnPlateau`; one of each class at most.
        write: whether this process writes the checkpoints. In a
            multi-process run every process restores from `directory` but
            only one (process 0) writes it.

    Examples:
        >>> from pathlib import Path
        >>> import keras
        >>> import numpy as np
        >>> from keras_prelu.training import ResumableCheckpoint, SwitchLROnPlateau
        >>> x, y = np.ones((8, 4)), np.zeros(8)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> switch = SwitchLROnPlateau(monitor="val_loss")
        >>> checkpoint = ResumableCheckpoint("run/checkpoint", stateful_callbacks=[switch])
        >>> history = model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0,
        ...                     callbacks=[switch, checkpoint])
        >>> sorted(path.name for path in Path("run/checkpoint").iterdir())
        ['checkpoint.json', 'epoch-0002.weights.h5']
    """

    def __init__(self, directory, stateful_callbacks=(), write=True):
        super().__init__()
        self.write = bool(write)
        if not directory:
            raise InvalidValueError(
                f"Argument `directory` must be a non-empty path. Received: directory={directory!r}"
            )
        self.directory = Path(directory)
        self.folder = run_folder.CheckpointFolder(self.directory)
        self._generators = None  # the global generators' states to set, on resuming
        self.stateful_callbacks = {}
        for callback in stateful_callbacks:
            name = type(callback).__name__
            if not (hasattr(callback, "get_state") and hasattr(callback, "set_state")):
                raise InvalidValueError(
                    "Argument `stateful_callbacks` takes callbacks with "
                    f"`get_state()` and `set_state()`. Received: {name}"
                )
            if name in self.stateful_callbacks:
                raise InvalidValueError(
                    "Argument `stateful_callbacks` takes one callback of each "
                    f"class. Received two of class {name}"
                )
            self.stateful_callbacks[name] = callback

    def read_state(self, verify_weights=False):
        """The last checkpoint's state dict, or `None` when there is none.

        See `keras_prelu.saving.run_folder.CheckpointFolder.read_state`.
        """
        return self.folder.read_state(verify_weights=verify_weights)

    def on_train_begin(self, logs=None):
        state = self.read_state(verify_weights=True)
        if state is None:
            return
        if not self.model.built:
            raise InvalidValueError(
                "ResumableCheckpoint restores weights into the model, which "
                "must be built before `fit()`: call it on a batch or create "
                "it with an `Input`."
            )
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self.folder.weights_path(state))
        unsaved = self._variables_left_out_by_save_weights()
        values = [np.asarray(value) for value in state["unsaved_variables"]]
        if [value.shape for value in values] != [tuple(v.shape) for v in unsaved]:
            raise run_folder.RunFolderError(
                f"The checkpoint in {self.directory} holds seed-state variables of shapes "
                f"{[value.shape for value in values]}; this model has "
                f"{[tuple(v.shape) for v in unsaved]}. Was it created differently?"
            )
        for variable, value in zip(unsaved, values):
            variable.assign(value.astype(variable.dtype))
        # Set at the first batch: a fit's first epoch draws from them before it.
        self._generators = _decoded_generator_states(state["generators"], self.directory)
        missing = sorted(set(self.stateful_callbacks) - set(state["callbacks"]))
        if missing:
            raise run_folder.RunFolderError(
                f"The checkpoint in {self.directory} has no state for the callbacks "
                f"{missing}. Was it written by another training script?"
            )
        for name, callback in self.stateful_callbacks.items():
            callback.set_state(state["callbacks"][name])
        epochs_completed = state["epochs_completed"]
        if state["stopped"]:
            logger.info(
                "Run in %s stopped after epoch %d; nothing left to train.",
                self.directory,
                epochs_completed,
            )
            _compat.set_initial_epoch(self.model, max(epochs_completed, self.params["epochs"]))
        else:
            logger.info(
                "Resuming run in %s after epoch %d.",
                self.directory,
                epochs_completed,
            )
            _compat.set_initial_epoch(self.model, epochs_completed)

    def on_train_batch_begin(self, batch, logs=None):
        if self._generators:
            _set_global_generators(self._generators)
            self._generators = None

    def on_epoch_end(self, epoch, logs=None):
        if not self.write:
            return
        with _outside_distribution():
            self.folder.write(
                epoch + 1,
                self.model.save_weights,
                stopped=self.model.stop_training,
                callbacks={
                    name: callback.get_state() for name, callback in self.stateful_callbacks.items()
                },
                unsaved_variables=[
                    keras.ops.convert_to_numpy(variable).tolist()
                    for variable in self._variables_left_out_by_save_weights()
                ],
                generators=_global_generator_states(),
            )

    def _variables_left_out_by_save_weights(self):
        saved = {id(weight) for weight in self.model.weights}
        return [v for v in self.model.variables if id(v) not in saved]


def _global_generator_states():
    """The states of the global random generators Keras draws from without a seed state
    of its own, as base64 strings: on PyTorch, a `keras.layers.Dropout` without a seed
    masks with `torch.nn.functional.dropout`, from PyTorch's global generator."""
    if keras.backend.backend() != "torch":
        return {}
    import torch

    states = {"torch": _encode(torch.random.get_rng_state())}
    if torch.cuda.is_available():
        states["torch_cuda"] = [_encode(state) for state in torch.cuda.get_rng_state_all()]
    return states


def _decoded_generator_states(states, directory):
    """The generator states of `_global_generator_states` as this backend takes them
    (PyTorch's byte tensors), or None when it has none to set."""
    if keras.backend.backend() != "torch" or "torch" not in states:
        return None
    import torch

    try:
        decoded = {"torch": _decode(states["torch"])}
        if torch.cuda.is_available() and "torch_cuda" in states:
            decoded["torch_cuda"] = [_decode(state) for state in states["torch_cuda"]]
    except (TypeError, ValueError, binascii.Error) as error:
        raise run_folder.RunFolderError(
            f"The checkpoint in {directory} holds a damaged `generators` field ({error})."
        ) from None
    return decoded


def _set_global_generators(decoded):
    import torch

    torch.random.set_rng_state(decoded["torch"])
    if "torch_cuda" in decoded:
        torch.cuda.set_rng_state_all(decoded["torch_cuda"])


def _encode(state):
    return base64.b64encode(state.numpy().tobytes()).decode("ascii")


def _decode(text):
    import torch

    return torch.frombuffer(bytearray(base64.b64decode(text, validate=True)), dtype=torch.uint8)


class _outside_distribution:
    """Suspends the `keras.distribution` in force (JAX), then restores it.

    `save_weights` creates a throwaway optimizer (to list attribute names);
    under a multi-process distribution its variables would be placed on all
    the processes' devices, a collective that only the writing process
    joins: it would wait forever.
    """

    def __enter__(self):
        self.distribution = None
        if keras.backend.backend() == "jax":
            self.distribution = keras.distribution.distribution()
            keras.distribution.set_distribution(None)

    def __exit__(self, *exc_info):
        if self.distribution is not None:
            keras.distribution.set_distribution(self.distribution)
