"""The `keras-prelu` command: one module per verb, each with its arguments and its `run`.

A verb's module imports only modules that import no Keras (the library's
constants), so that the command's first stage, `keras_prelu_command`, builds
this parser and answers `--help` without importing Keras; `run` imports the
library. The first stage has set the backend and TensorFlow's C++ logging
before `main` runs a verb.
"""

import argparse
import logging
import sys

from keras_prelu._version import __version__
from keras_prelu.cli import _common
from keras_prelu.cli import evaluate
from keras_prelu.cli import export
from keras_prelu.cli import info
from keras_prelu.cli import reproduce
from keras_prelu.cli import train

__all__ = ["VERBS", "build_parser", "main"]

PROG = "keras-prelu"
DESCRIPTION = "PReLU networks of He et al. (ICCV 2015) for Keras 3."
# The verbs, in the order of `keras-prelu --help`.
VERBS = {
    "info": info,
    "reproduce": reproduce,
    "train": train,
    "evaluate": evaluate,
    "export": export,
}
# The loggers of the libraries that log INFO lines a user did not ask for (TensorFlow's
# "Assets written to", tf2onnx's optimizer, JAX's "Unable to initialize backend").
_LIBRARY_LOGGERS = ("tensorflow", "absl", "tf2onnx", "jax")


def build_parser():
    """The parser of `keras-prelu` with every verb's arguments; imports no Keras."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=__version__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    for name, verb in VERBS.items():
        subparser = verbs.add_parser(name, help=verb.HELP)
        _common.add_common_arguments(subparser, takes_backend=verb.TAKES_BACKEND)
        verb.add_arguments(subparser)
        subparser.set_defaults(run=verb.run)
    return parser


def main(argv=None, out=None):
    """Runs `keras-prelu` with `argv` (default: the command line), printing to `out`.

    Returns 0; a user's mistake exits with one line (`SystemExit`).
    """
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    _check_backend(args)
    args.run(args, sys.stdout if out is None else out)
    return 0


def _configure_logging(verbose):
    """keras-prelu's INFO lines; the other libraries' only with `--verbose`."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("keras_prelu").setLevel(logging.INFO)
    _common.traceback_logger.setLevel(logging.INFO if verbose else logging.WARNING)
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)


def _check_backend(args):
    """Exits with one line if `--backend` differs from the backend Keras was imported with."""
    wanted = getattr(args, "backend", None)
    if wanted is None:
        return
    import keras

    if wanted != keras.backend.backend():
        raise SystemExit(
            f"keras-prelu {args.verb}: error: argument --backend: Keras was imported with the "
            f"{keras.backend.backend()!r} backend before the command line was read; run the "
            f"keras-prelu command, or set KERAS_BACKEND={wanted} before importing keras_prelu."
        )
