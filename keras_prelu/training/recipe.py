"""The paper's training recipe as one dataclass (He et al., 2015, Sec. 3)."""

import dataclasses

from keras_prelu import paper
from keras_prelu.errors import InvalidValueError
from keras_prelu.saving import atomic
from keras_prelu.training import checks
from keras_prelu.training.checks import KERNELS_ONLY
from keras_prelu.training.checks import MIN_DELTA_MODES
from keras_prelu.training.checks import MONITOR_MODES
from keras_prelu.training.checks import STRATEGIES

__all__ = ["BUNDLED_RECIPE", "DEFAULT_MODEL", "FIELD_CHOICES", "Recipe", "check_field"]


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
        strategy: `"auto"`, `"mirrored"` or `"none"`, see `get_strategy`.
        mixed_precision: `"none"` (float32), `"float16"` or `"bfloat16"`: compute in
            that type with float32 variables (Keras' `"mixed_float16"` and
            `"mixed_bfloat16"` dtype policies).
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
    mixed_precision: str = "none"
    jit_compile: bool | str = "auto"
    seed: int | None = None

    def __post_init__(self):
        for field in _FIELD_RULES:
            check_field(field, getattr(self, field))
        if self.min_learning_rate > self.learning_rate:
            raise InvalidValueError(
                "Recipe field `min_learning_rate` must be <= learning_rate "
                f"({self.learning_rate}). "
                f"Received: min_learning_rate={self.min_learning_rate!r}"
            )

    def optimizer(self):
        """A new `CaffeSGD` with this recipe's rate, momentum and decay."""
        from keras_prelu.training.caffe_sgd import CaffeSGD  # the recipe itself needs no Keras

        return CaffeSGD(
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            decay_pattern=self.decay_pattern,
        )

    def learning_rate_switch(self):
        """A new `SwitchLROnPlateau` with this recipe's schedule."""
        from keras_prelu.training.lr_switch import SwitchLROnPlateau

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
            raise InvalidValueError(
                f"Unknown recipe fields {unknown}. Known fields: {sorted(known)}"
            )
        return cls(**values)

    def save(self, path):
        """Writes the recipe as JSON to `path`, atomically."""
        atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path):
        """Reads a recipe written by `save`; a file that holds none raises naming it."""
        values = atomic.read_json(path)
        try:
            return cls.from_dict(values)
        except ValueError as error:
            raise atomic.SavedFileError(f"{path} does not hold a valid recipe: {error}") from None


def check_field(field, value):
    """Raises unless `value` is valid for the Recipe field `field` on its own."""
    _FIELD_RULES[field].check(field, value, kind="Recipe field")


# The compute types of `mixed_precision`; "none" computes in float32.
MIXED_PRECISIONS = ("none", "float16", "bfloat16")
# The fields whose value is one of a few names, listed by `keras-prelu train --help`.
FIELD_CHOICES = {
    "min_delta_mode": MIN_DELTA_MODES,
    "monitor_mode": MONITOR_MODES,
    "strategy": STRATEGIES,
    "mixed_precision": MIXED_PRECISIONS,
}

# Seeds are drawn in, and exchanged between processes as, non-negative int32s.
MAX_SEED = 2**31 - 1

_FIELD_RULES = {
    "learning_rate": checks.POSITIVE,
    "learning_rate_factor": checks.OPEN_FRACTION,
    "min_learning_rate": checks.POSITIVE,
    "patience": checks.COUNT,
    "min_delta": checks.NON_NEGATIVE,
    "min_delta_mode": checks.one_of(MIN_DELTA_MODES),
    "monitor": checks.NON_EMPTY_STRING,
    "monitor_mode": checks.one_of(MONITOR_MODES),
    "momentum": checks.UNIT_INTERVAL,
    "weight_decay": checks.NON_NEGATIVE,
    "decay_pattern": checks.PATTERN,
    "batch_size": checks.COUNT,
    "epochs": checks.COUNT,
    "dropout": checks.FRACTION,
    "strategy": checks.one_of(STRATEGIES),
    "mixed_precision": checks.Rule(
        f"one of {MIXED_PRECISIONS} (a former True is 'float16', False 'none')",
        lambda value: value in MIXED_PRECISIONS,
    ),
    "jit_compile": checks.Rule(
        "True, False or 'auto'", lambda value: isinstance(value, bool) or value == "auto"
    ),
    "seed": checks.Rule(
        f"an int in [0, {MAX_SEED}] or None",
        lambda value: value is None or checks.int_in(0, MAX_SEED).test(value),
    ),
}


# The model that `fit()` and `keras-prelu train` train when none is named.
DEFAULT_MODEL = "model_14"
# The main job (`keras-prelu train` without arguments, or `fit()`): the
# 14-layer model on the bundled digits, a few minutes on a 2-core CPU. Only
# the length of the run is fitted to it: 12 epochs of mini-batches of 32
# (44 steps an epoch on its 1438 training images), and a plateau of 2 epochs
# switches the rate, so that a short run can switch. The rest is the paper's
# (learning rate 1e-2 -> 1e-3 -> 1e-4, momentum 0.9, Caffe decay 0.0005,
# dropout 0.5).
BUNDLED_RECIPE = Recipe(epochs=12, patience=2, batch_size=32, seed=0)
