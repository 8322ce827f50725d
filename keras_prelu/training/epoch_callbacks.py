"""The callbacks `fit` adds for its run folder: the epoch log and the stop on non-finite values."""

import math

import keras

from keras_prelu.errors import KerasPReLUError

__all__ = ["EpochLog", "NonFiniteError", "StopOnNonFinite"]


class NonFiniteError(KerasPReLUError, FloatingPointError):
    """Training produced a NaN or an infinity (in the epoch's logs or the weights)."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training, raising `NonFiniteError`, at the first epoch that ends non-finite.

    At each epoch end it checks every value of the epoch logs (the loss, the
    metrics, their validation values) and every floating-point variable of the
    model and of its optimizer (the momentum). A NaN or an infinity raises a
    `NonFiniteError` naming the epoch (counted from 1) and the values. Placed
    before the callbacks that record the epoch (the log, `ResumableCheckpoint`),
    it keeps them at the last finite epoch: the error never overwrites the last
    finite checkpoint. (`keras.callbacks.TerminateOnNaN` only sets
    `stop_training`, after which the checkpoint would record the NaN weights.)
    """

    def on_epoch_end(self, epoch, logs=None):
        bad_logs = [
            f"{name}={float(value)}"
            for name, value in sorted((logs or {}).items())
            if not math.isfinite(float(value))
        ]
        variables = list(self.model.variables)
        if self.model.optimizer is not None:
            variables += list(self.model.optimizer.variables)
        bad_variables = [
            variable.path
            for variable in variables
            if keras.backend.is_float_dtype(variable.dtype)
            and not bool(keras.ops.convert_to_numpy(keras.ops.all(keras.ops.isfinite(variable))))
        ]
        if not (bad_logs or bad_variables):
            return
        found = bad_logs + (
            [f"NaN or infinite values in {len(bad_variables)} variables ({bad_variables[0]}, ...)"]
            if bad_variables
            else []
        )
        kept = f"epoch {epoch}, the last finite one" if epoch else "no epoch"
        raise NonFiniteError(
            f"Epoch {epoch + 1} ended with non-finite values ({'; '.join(found)}): training "
            f"stopped before recording it, so the run keeps {kept}. A lower learning rate "
            "or weight decay usually avoids this."
        )


class EpochLog(keras.callbacks.Callback):
    """Writes `log.csv` of a `keras_prelu.saving.run_folder.RunFolder`: a row per completed epoch.

    Epochs are counted from 1, as `fit` reports them; each value of the epoch logs
    is a column (the learning rate as `SwitchLROnPlateau` writes it: the number it
    was set to). The whole file is rewritten atomically at every epoch end, after
    the rows of the epochs before the one training starts at, which are kept.
    Unlike `keras.callbacks.CSVLogger`, a process killed while it writes leaves the
    previous whole log, and a resumed run never writes a second header.

    Args:
        folder: the `RunFolder`.
    """

    def __init__(self, folder):
        super().__init__()
        self.folder = folder
        self.rows = []

    def on_train_begin(self, logs=None):
        self.rows = self.folder.read_log()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{name: float(value) for name, value in (logs or {}).items()}}
        self.rows = [*self.rows[:epoch], row]
        self.folder.write_log(self.rows)
