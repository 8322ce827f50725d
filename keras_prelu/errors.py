"""keras-prelu's errors: one base class, so that a caller can tell them from a bug.

Every error keras-prelu raises on purpose derives from `KerasPReLUError` and
carries one short line that names the argument, option or file and what is
accepted. The subclasses keep the built-in bases that callers catch
(`except ValueError:` still catches an `InvalidValueError`). The command line
prints these, and the environment's `OSError`s, as one line; any other
exception is a bug and keeps its traceback.
"""

__all__ = [
    "DataError",
    "InvalidTypeError",
    "InvalidValueError",
    "KerasPReLUError",
    "MissingDependencyError",
    "first_line",
    "summarize",
]


class KerasPReLUError(Exception):
    """Base class of the errors keras-prelu raises on purpose; the message is one line."""


class InvalidValueError(KerasPReLUError, ValueError):
    """An argument, an option or a file's content that keras-prelu cannot use."""


class InvalidTypeError(KerasPReLUError, TypeError):
    """An argument of a type that keras-prelu does not accept."""


class DataError(InvalidValueError):
    """Data that cannot be used: an image folder, an array, a dataset's elements."""


class MissingDependencyError(KerasPReLUError, ImportError):
    """An optional dependency (an extra of `pip install keras-prelu[...]`) is not installed."""


# The characters of a value quoted in a message, and the items of a sequence shown.
_QUOTED_CHARACTERS = 160
_QUOTED_ITEMS = 4


def summarize(value):
    """`value` for a one-line message: arrays and tensors by type, shape and dtype,
    sequences and dicts by their length and first items, other values by a repr cut
    to 160 characters. Never the values of an array."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        shape = tuple(None if side is None else int(side) for side in shape)
        return f"{type(value).__name__} of shape {shape} and dtype {getattr(dtype, 'name', dtype)}"
    if isinstance(value, (list, tuple, dict)):
        shown = list(value.items() if isinstance(value, dict) else value)[:_QUOTED_ITEMS]
        if isinstance(value, dict):
            shown = [f"{key!r}: {summarize(item)}" for key, item in shown]
        else:
            shown = [summarize(item) for item in shown]
        more = ", ..." if len(value) > _QUOTED_ITEMS else ""
        text = f"{type(value).__name__} of {len(value)} items [{', '.join(shown)}{more}]"
    else:
        text = repr(value)
    if len(text) > _QUOTED_CHARACTERS:
        text = text[: _QUOTED_CHARACTERS - 3] + "..."
    return text


def first_line(error):
    """The first line of another library's error message, cut to 160 characters:
    what to quote of an error that may print arrays on its following lines."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    line = lines[0].rstrip(":")
    return line if len(line) <= _QUOTED_CHARACTERS else line[: _QUOTED_CHARACTERS - 3] + "..."
