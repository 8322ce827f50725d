"""The rules of the recipe's values, written once.

`Recipe` checks its fields with them, and `CaffeSGD` and `SwitchLROnPlateau`
their arguments, so that a value means the same and is refused in the same
words wherever it enters.
"""

import dataclasses
import math
import re
import typing

from keras_prelu.errors import InvalidValueError

__all__ = [
    "COUNT",
    "FRACTION",
    "KERNELS_ONLY",
    "MIN_DELTA_MODES",
    "MONITOR_MODES",
    "NON_EMPTY_STRING",
    "NON_NEGATIVE",
    "OPEN_FRACTION",
    "PATTERN",
    "POSITIVE",
    "STRATEGIES",
    "UNIT_INTERVAL",
    "Rule",
    "int_in",
    "one_of",
]

# The accepted names of the recipe's choices, here so that every module that
# takes them (and the command's first stage, which imports no Keras) reads one list.
# The learning-rate switch's `mode`: an error or loss falls ("min"), an accuracy rises.
MONITOR_MODES = ("min", "max")
# How `min_delta` counts: in the monitored value's units, or as a fraction of the best.
MIN_DELTA_MODES = ("absolute", "relative")
# The `tf.distribute` strategies of `get_strategy` ("auto" is also JAX's
# `keras.distribution` over every device of every process).
STRATEGIES = ("auto", "mirrored", "none")
# The variables that weight decay applies to: kernels only, never PReLU slopes
# (Sec. 2.1) nor biases.
KERNELS_ONLY = r"kernel$"


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a value must be (`accepted`, in words) and the test of it."""

    accepted: str
    test: typing.Callable

    def check(self, name, value, *, kind="Argument"):
        """Returns `value`; raises `ValueError` in Keras' words if it breaks the rule."""
        if not self.test(value):
            raise InvalidValueError(
                f"{kind} `{name}` must be {self.accepted}. Received: {name}={value!r}"
            )
        return value


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


def int_in(low, high):
    """The rule of an int in `[low, high]`."""
    return Rule(f"an int in [{low}, {high}]", lambda value: _is_int(value) and low <= value <= high)


def one_of(choices):
    """The rule of a value that is one of `choices`."""
    return Rule(f"one of {choices}", lambda value: value in choices)


POSITIVE = Rule("a finite number > 0", lambda v: _is_number(v) and v > 0)
NON_NEGATIVE = Rule("a finite number >= 0", lambda v: _is_number(v) and v >= 0)
OPEN_FRACTION = Rule("a number in (0, 1)", lambda v: _is_number(v) and 0 < v < 1)
FRACTION = Rule("a number in [0, 1)", lambda v: _is_number(v) and 0 <= v < 1)
UNIT_INTERVAL = Rule("a number in [0, 1]", lambda v: _is_number(v) and 0 <= v <= 1)
COUNT = Rule("an int >= 1", lambda v: _is_int(v) and v >= 1)
NON_EMPTY_STRING = Rule("a non-empty string", lambda v: isinstance(v, str) and v != "")
PATTERN = Rule("a regular expression", _is_pattern)
