"""keras-prelu's errors: one base class, so that a caller can tell them from a bug.

Every error keras-prelu raises on purpose derives from `KerasPReLUError` and
carries one short line that names the argument, option or file and what is
accepted. The subclasses keep the built-in bases that callers catch
(`except ValueError:` still catches an `InvalidValueError`). The command line
prints these, and the environment's `OSError`s, as one line; any other
exception is a bug and keeps its traceback.
"""


class KerasPReLUError(Exception):
    """Base class of the errors keras-prelu raises on purpose; the message is one line."""


class InvalidValueError(KerasPReLUError, ValueError):
    """An argument, an option or a file's content that keras-prelu cannot use."""


class InvalidTypeError(KerasPReLUError, TypeError):
    """An argument of a type that keras-prelu does not accept."""


class DataError(InvalidValueError):
    """Data that cannot be used: an image folder, an array, a dataset's elements."""
