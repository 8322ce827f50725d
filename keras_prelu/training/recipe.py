"""The paper's training recipe as one dataclass (He et al., 2015, Sec. 3)."""

import dataclasses
import math
import re

from keras_prelu import paper
from keras_prelu import runs
from keras_prelu.training.caffe_sgd import KERNELS_ONLY
from keras_prelu.training.caffe_sgd import CaffeSGD
from keras_prelu.training.lr_switch import MIN_DELTA_MODES
from keras_prelu.training.lr_switch import MODES
from keras_prelu.training.lr_switch import SwitchLROnPlateau
from keras_prelu.training.strategy import STRATEGIES


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a model is trained; defaults are the paper's (Sec. 3).

    Fields the paper does not give (patience, min_delta) are ours and say so.
    Override any field with `dataclasses.replace(recipe, field=value)`; each
    value is checked when the recipe is created. `to_dict()`/`from_dict()`
    and `save()`/`load()` keep the recipe beside a run as JSON.

    Attributes:
        learning_rate: initial rate, 1e-2 (Sec. 3).
        learning_rate_factor: multiplier at each switch, 0.1: 1e-2 -> 1e-3
            -> 1e-4 (Sec. 3).
        min_learning_rate: the last rate, 1e-4 (Sec. 3); a plateau there
            ends training.
        patience: epochs without improvement before a switch. Not in the
            paper (switched "when the error plateaus"; Fig. 4 switches model
            A at epochs 20 and 65).
        min_delta: smallest improvement of `monitor` that counts. Not in the
            paper.
        min_delta_mode: `"absolute"` or `"relative"` (fraction of the best).
        monitor: the epoch-log value whose plateau switches the rate; the
            paper watches the validation error (Sec. 3).
        monitor_mode: `"min"` for an error or loss, `"max"` for an accuracy.
        momentum: 0.9 (Sec. 3).
        weight_decay: 0.0005, Caffe's L2 added to the gradient (Sec. 3),
            on kernels only: never on PReLU slopes (Sec. 2.1) nor biases.
        decay_pattern: which variables are decayed, see `CaffeSGD`.
        batch_size: global mini-batch, 128, split across replicas (Sec. 3).
        epochs: maximum number of epochs, "about 80" (Sec. 3).
        dropout: 0.5 after fc1 and fc2 (Sec. 3); the models own their
            dropout layers, this records the rate they were built with.
        strategy: `"auto"`, `"mirrored"`, `"multi_worker"` or `"none"`, see
            `get_strategy`.
        mixed_precision: train in float16 with float32 variables.
        jit_compile: `model.compile`'s `jit_compile` (XLA): True, False or
            `"auto"`.
        seed: seed for `keras.utils.set_random_seed`, in `[0, 2**31)`, or
            `None`.
    """

    learning_rate: float = paper.LEARNING_RATE
    learning_rate_factor: float = paper.LEARNING_RATE_FACTOR
    min_learning_rate: float = paper.MIN_LEARNING_RATE
    patience: int = 5
    min_delta: float = 0.0
    min_delta_mode: str = "absolute"
    monitor: str = "val_top1_error"
    monitor_mode: str = "min"
    momentum: float = paper.MOMENTUM
    weight_decay: float = paper.WEIGHT_DECAY
    decay_pattern: str = KERNELS_ONLY
    batch_size: int = paper.BATCH_SIZE
    epochs: int = paper.EPOCHS
    dropout: float = paper.DROPOUT_RATE
    strategy: str = "auto"
    mixed_precision: bool = False
    jit_compile: bool | str = "auto"
    seed: int | None = None

    def __post_init__(self):
        for field in _FIELD_RULES:
            check_field(field, getattr(self, field))
        if self.min_learning_rate > self.learning_rate:
            raise ValueError(
                "Recipe field `min_learning_rate` must be <= learning_rate "
                f"({self.learning_rate}). "
                f"Received: min_learning_rate={self.min_learning_rate!r}"
            )

    def optimizer(self):
        """A new `CaffeSGD` with this recipe's rate, momentum and decay."""
        return CaffeSGD(
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            decay_pattern=self.decay_pattern,
        )

    def learning_rate_switch(self):
        """A new `SwitchLROnPlateau` with this recipe's schedule."""
        return SwitchLROnPlateau(
            monitor=self.monitor,
            mode=self.monitor_mode,
            factor=self.learning_rate_factor,
            patience=self.patience,
            min_delta=self.min_delta,
            min_delta_mode=self.min_delta_mode,
            min_learning_rate=self.min_learning_rate,
        )

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """The recipe with `values` over the defaults; unknown keys raise."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown recipe fields {unknown}. Known fields: {sorted(known)}")
        return cls(**values)

    def save(self, path):
        """Writes the recipe as JSON to `path`, atomically."""
        runs.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path):
        """Reads a recipe written by `save`; a file that holds none raises naming it."""
        values = runs.read_json(path)
        try:
            return cls.from_dict(values)
        except ValueError as error:
            raise runs.RunFolderError(f"{path} does not hold a valid recipe: {error}") from None


def check_field(field, value):
    """Raises unless `value` is valid for the Recipe field `field` on its own."""
    is_valid, accepted = _FIELD_RULES[field]
    if not is_valid(value):
        raise ValueError(f"Recipe field `{field}` must be {accepted}. Received: {field}={value!r}")


# Seeds are drawn in, and exchanged between processes as, non-negative int32s.
MAX_SEED = 2**31 - 1


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_pattern(value):
    try:
        re.compile(value)
    except (TypeError, re.error):
        return False
    return True


def _is_positive(value):
    return _is_number(value) and value > 0


def _is_fraction(value):
    return _is_number(value) and 0 <= value < 1


_FIELD_RULES = {
    "learning_rate": (_is_positive, "a finite number > 0"),
    "learning_rate_factor": (
        lambda v: _is_fraction(v) and v > 0,
        "a number in (0, 1)",
    ),
    "min_learning_rate": (_is_positive, "a finite number > 0"),
    "patience": (lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    "min_delta": (lambda v: _is_number(v) and v >= 0, "a finite number >= 0"),
    "min_delta_mode": (
        MIN_DELTA_MODES.__contains__,
        f"one of {MIN_DELTA_MODES}",
    ),
    "monitor": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "monitor_mode": (MODES.__contains__, f"one of {MODES}"),
    "momentum": (lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "weight_decay": (lambda v: _is_number(v) and v >= 0, "a finite number >= 0"),
    "decay_pattern": (_is_pattern, "a regular expression"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    "epochs": (lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    "dropout": (_is_fraction, "a number in [0, 1)"),
    "strategy": (STRATEGIES.__contains__, f"one of {STRATEGIES}"),
    "mixed_precision": (lambda v: isinstance(v, bool), "True or False"),
    "jit_compile": (
        lambda v: isinstance(v, bool) or v == "auto",
        "True, False or 'auto'",
    ),
    "seed": (
        lambda v: v is None or (_is_int(v) and 0 <= v <= MAX_SEED),
        f"an int in [0, {MAX_SEED}] or None",
    ),
}
