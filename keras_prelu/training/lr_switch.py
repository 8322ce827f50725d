"""The paper's learning-rate switch: divide by 10 when the error plateaus."""

import logging
import math

import keras
import numpy as np

from keras_prelu import _compat
from keras_prelu import paper
from keras_prelu.errors import InvalidTypeError
from keras_prelu.errors import InvalidValueError
from keras_prelu.training import checks

__all__ = ["SwitchLROnPlateau"]

logger = logging.getLogger(__name__)


# The learning rate lives in a float32 variable: 1e-2 * 0.1 * 0.1 reads back a
# few float32 ulps away from 1e-4, which must count as the floor.
_FLOOR_TOLERANCE = 1e-6


class SwitchLROnPlateau(keras.callbacks.Callback):
    """Switches the learning rate down when a monitored value plateaus.

    At the end of each epoch, `monitor` has improved when (mode `"min"`)

    ```text
    current < best - min_delta                 # min_delta_mode="absolute"
    current < best - min_delta * abs(best)     # min_delta_mode="relative"
    ```

    (`>` and `+` for mode `"max"`). After `patience` epochs without
    improvement the learning rate is multiplied by `factor`, but not below
    `min_learning_rate`; once it is at that floor, the next plateau stops
    training (`model.stop_training = True`). With the defaults this is the
    paper's schedule: 1e-2, 1e-3, 1e-4, "switched when the error plateaus"
    (He et al., 2015, Sec. 3; their Fig. 4 switches at epochs 20 and 65).

    Unlike `keras.callbacks.ReduceLROnPlateau`, it stops at the floor, takes a
    relative `min_delta`, and its state (`best`, `wait`, `switch_epochs`) is
    kept across `fit()` calls and exposed by `get_state()`/`set_state()` so a
    checkpointed run resumes exactly (see `ResumableCheckpoint`). Each epoch it
    writes the learning rate used in that epoch to `logs["learning_rate"]`, as
    the number it was set to (0.01, not its float32 0.009999999776482582):
    place it before `CSVLogger`/`TensorBoard` in the callback list.

    Args:
        monitor: name of the value in the epoch logs, e.g. `"val_loss"`.
        mode: `"min"` (an error, a loss) or `"max"` (an accuracy).
        factor: float in (0, 1), the learning rate multiplier. Defaults to
            `0.1`.
        patience: int >= 1, epochs without improvement before a switch.
        min_delta: float >= 0, the smallest change that counts as an
            improvement.
        min_delta_mode: `"absolute"` or `"relative"` (a fraction of `best`).
        min_learning_rate: float > 0, the floor. Defaults to `1e-4`.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from keras_prelu.training import SwitchLROnPlateau
        >>> x, y = np.ones((8, 4)), np.zeros(8)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(0.01), "mse")
        >>> switch = SwitchLROnPlateau(monitor="val_loss", patience=1, min_delta=1.0)
        >>> history = model.fit(x, y, validation_data=(x, y), epochs=4, verbose=0,
        ...                     callbacks=[switch, keras.callbacks.CSVLogger("log.csv")])
        >>> switch.switch_epochs  # epochs after which the rate went down
        [2, 3]
        >>> history.history["learning_rate"]
        [0.01, 0.01, 0.001, 0.0001]
    """

    def __init__(
        self,
        monitor="val_loss",
        mode="min",
        factor=paper.LEARNING_RATE_FACTOR,
        patience=5,
        min_delta=0.0,
        min_delta_mode="absolute",
        min_learning_rate=paper.MIN_LEARNING_RATE,
    ):
        super().__init__()
        checks.one_of(checks.MONITOR_MODES).check("mode", mode)
        checks.one_of(checks.MIN_DELTA_MODES).check("min_delta_mode", min_delta_mode)
        checks.OPEN_FRACTION.check("factor", factor)
        checks.COUNT.check("patience", patience)
        checks.NON_NEGATIVE.check("min_delta", min_delta)
        checks.POSITIVE.check("min_learning_rate", min_learning_rate)
        self.monitor = monitor
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.min_delta = min_delta
        self.min_delta_mode = min_delta_mode
        self.min_learning_rate = min_learning_rate
        self.best = None
        self.wait = 0
        self.switch_epochs = []

    def get_state(self):
        """The state a resumed run needs, as a JSON-serializable dict."""
        return {
            "best": self.best,
            "wait": self.wait,
            "switch_epochs": list(self.switch_epochs),
        }

    def set_state(self, state):
        """Restores a state returned by `get_state()`."""
        if not (
            isinstance(state, dict)
            and (state.get("best") is None or _is_finite(state.get("best")))
            and isinstance(state.get("wait"), int)
            and state["wait"] >= 0
            and isinstance(state.get("switch_epochs"), list)
            and all(isinstance(epoch, int) for epoch in state["switch_epochs"])
        ):
            raise InvalidValueError(
                "Argument `state` must be a state of `get_state()`: `best` (a finite "
                "number or None), `wait` (an int >= 0) and `switch_epochs` (ints). "
                f"Received: state={state!r}"
            )
        self.best = state["best"]
        self.wait = state["wait"]
        self.switch_epochs = list(state["switch_epochs"])

    def on_train_begin(self, logs=None):
        # Raises for schedules here, not after the first plateau.
        self._optimizer_with_learning_rate()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self._optimizer_with_learning_rate()
        learning_rate = _as_set(optimizer.learning_rate)
        logs["learning_rate"] = learning_rate
        if self.monitor not in logs:
            raise InvalidValueError(
                f"SwitchLROnPlateau monitors `{self.monitor}`, which is not in "
                f"the epoch logs. Available: {sorted(logs)}. Pass "
                "validation data or choose `monitor` among these."
            )
        current = float(logs[self.monitor])
        if self._is_improvement(current):
            self.best = current
            self.wait = 0
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        self.wait = 0
        if self._at_floor(learning_rate):
            logger.info(
                "Epoch %d: %s has not improved on %.6g for %d epochs at the "
                "minimum learning rate %.3g; stopping.",
                epoch + 1,
                self.monitor,
                self.best,
                self.patience,
                learning_rate,
            )
            self.model.stop_training = True
            return
        new_learning_rate = max(learning_rate * self.factor, self.min_learning_rate)
        if self._at_floor(new_learning_rate):
            new_learning_rate = self.min_learning_rate
        optimizer.learning_rate = new_learning_rate
        self.switch_epochs.append(epoch + 1)
        logger.info(
            "Epoch %d: %s has not improved on %.6g for %d epochs; learning rate %.3g -> %.3g.",
            epoch + 1,
            self.monitor,
            self.best,
            self.patience,
            learning_rate,
            new_learning_rate,
        )

    def _optimizer_with_learning_rate(self):
        optimizer = self.model.optimizer
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = optimizer.inner_optimizer
        # A float learning rate is stored as a variable; a schedule or a
        # callable is kept as such and cannot be switched.
        if not isinstance(_compat.learning_rate_variable(optimizer), keras.Variable):
            raise InvalidTypeError(
                "SwitchLROnPlateau sets the optimizer's learning rate, so the "
                "optimizer must be created with a float `learning_rate`. "
                f"Received: learning_rate={_compat.learning_rate_variable(optimizer)!r}"
            )
        return optimizer

    def _is_improvement(self, current):
        if self.best is None:
            return True
        margin = self.min_delta
        if self.min_delta_mode == "relative":
            margin *= abs(self.best)
        if self.mode == "min":
            return current < self.best - margin
        return current > self.best + margin

    def _at_floor(self, learning_rate):
        return learning_rate < self.min_learning_rate or math.isclose(
            learning_rate, self.min_learning_rate, rel_tol=_FLOOR_TOLERANCE
        )


def _as_set(learning_rate):
    """The float32 `learning_rate` as the shortest number that rounds to it: the
    number it was set to (0.01 for float32 0.009999999776482582)."""
    return float(str(np.float32(keras.ops.convert_to_numpy(learning_rate))))


def _is_finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
