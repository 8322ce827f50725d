"""What the verbs share: the arguments every verb takes, argparse types, the error policy.

Imports nothing of Keras: the command's first stage builds the parser from it
without importing Keras.
"""

import argparse
import contextlib
import logging
import sys

from keras_prelu.errors import InvalidValueError
from keras_prelu.errors import KerasPReLUError

BACKENDS = ("tensorflow", "jax", "torch")

# What keras-prelu raises on purpose (a user's mistake, a run that diverged, a missing
# extra) and the environment's errors: one line. Any other exception is a bug in
# keras-prelu or below it and keeps its traceback.
_USER_ERRORS = (KerasPReLUError, OSError)
# Logs the traceback of a one-line error with `--verbose`.
traceback_logger = logging.getLogger("keras_prelu.cli.traceback")
# TensorFlow's errors of the environment: a file that vanished or cannot be read,
# memory exhausted.
_TENSORFLOW_ENVIRONMENT_ERRORS = (
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "DataLossError",
)
_INTERRUPTED_EXIT_CODE = 130


def add_common_arguments(parser, *, takes_backend):
    """`--verbose`, and `--backend` for the verbs that run a Keras model."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also show the INFO lines of keras-prelu's libraries (TensorFlow, JAX, "
        "tf2onnx) and TensorFlow's C++ log",
    )
    if takes_backend:
        parser.add_argument(
            "--backend",
            choices=BACKENDS,
            default=None,
            help="the Keras backend (default: KERAS_BACKEND's, else tensorflow)",
        )


@contextlib.contextmanager
def user_errors(verb, interrupted=""):
    """Turns keras-prelu's errors and the environment's into one line and exit 1.

    Their traceback is logged with `--verbose`; any other exception propagates
    with its traceback. Ctrl-C exits 130 with one line, `interrupted` appended.
    """
    try:
        yield
    except KeyboardInterrupt:
        sys.stderr.write(f"keras-prelu {verb}: interrupted.{interrupted}\n")
        raise SystemExit(_INTERRUPTED_EXIT_CODE) from None
    except Exception as error:
        if not isinstance(error, _USER_ERRORS) and not _is_tensorflow_environment_error(error):
            raise
        traceback_logger.info("The traceback of the error below:", exc_info=True)
        message = getattr(error, "command_line_message", None)  # options, not arguments
        message = " ".join(str(message or getattr(error, "message", None) or error).split())
        raise SystemExit(f"keras-prelu {verb}: error: {message}") from None


def _is_tensorflow_environment_error(error):
    tensorflow = sys.modules.get("tensorflow")
    return (
        tensorflow is not None
        and isinstance(error, tensorflow.errors.OpError)
        and type(error).__name__ in _TENSORFLOW_ENVIRONMENT_ERRORS
    )


def add_fc_units_argument(parser, *, default, help):
    """`--fc-units FC1 FC2`: the widths of fc1 and fc2."""
    parser.add_argument(
        "--fc-units",
        type=positive_int,
        nargs=2,
        metavar=("FC1", "FC2"),
        default=default,
        help=help,
    )


def positive_int(text):
    """An argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text):
    """An argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def positive_float(text):
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0. Received: {value}")
    return value


def _int_at_least(text, minimum):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}. Received: {value}")
    return value


def check_output(path, verb, option, *, folder=False):
    """Exits with one line unless `path` can receive an output before any work is done.

    The check is the saving layer's (`keras_prelu.saving.atomic.check_writable_folder`
    for a folder output, a SavedModel or a preset; `check_writable_file` otherwise);
    its reason is printed after the option's name.
    """
    from keras_prelu.saving import atomic

    check = atomic.check_writable_folder if folder else atomic.check_writable_file
    try:
        check(path, option)
    except InvalidValueError as error:
        raise SystemExit(f"keras-prelu {verb}: error: argument {option}: {error.reason}.") from None


def progress_verbosity():
    """Keras' progress bar on a terminal; a plain line per epoch in a file or a pipe."""
    return 1 if sys.stdout.isatty() else 2
