"""The first stage of the `keras-prelu` command: it imports neither Keras nor `keras_prelu`.

Importing `keras_prelu` imports Keras, and Keras fixes its backend (and
TensorFlow its C++ logging) when first imported. So this stage answers
`keras-prelu --help` and `--version` by itself, reads `--backend` and
`--verbose` wherever they are on the command line, sets `KERAS_BACKEND` and
`TF_CPP_MIN_LOG_LEVEL`, imports the library with TensorFlow's C++ start-up lines
hidden (unless `--verbose`), and hands the whole command line to
`keras_prelu.cli.main`, which parses it again with every verb's options (the
two-stage parsing of timm's `train.py` with `--config`).
"""

import argparse
import contextlib
import importlib.util
import os
import sys
import tempfile
from importlib import metadata

PROG = "keras-prelu"
DESCRIPTION = "PReLU networks of He et al. (ICCV 2015) for Keras 3."
BACKENDS = ("tensorflow", "jax", "torch")
# Each verb: its line in `keras-prelu --help`, and whether it takes `--backend`.
VERBS = {
    "info": ("parameters and multiply-adds of zoo models, per layer, from shapes", False),
    "reproduce": (
        "the paper's findings (Fig. 3, Table 2, Table 1 / Fig. 2) at CPU scale",
        False,
    ),
    "train": ("train a zoo model with the paper's recipe (resumes a run)", True),
    "evaluate": ("top-1/top-5 error of trained models: centre, 10-view, dense", True),
    "export": (
        "export a trained model: SavedModel, ONNX, .keras or a preset, with its mean",
        True,
    ),
}
# TensorFlow's C++ log lines shown without `--verbose`: none (3 hides INFO,
# WARNING and ERROR lines such as "failed call to cuInit" on a CPU machine).
QUIET_TF_CPP_MIN_LOG_LEVEL = "3"


def version():
    """The installed distribution's version, read without importing the package."""
    try:
        return metadata.version("keras-prelu")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "0+unknown"


def command_parser(*, verb_help=True):
    """The parser of `keras-prelu` with each verb's `--verbose` and `--backend` only.

    Returns the parser and `{verb: its subparser}`, to which `keras_prelu.cli`
    adds the verbs' other options. Without `verb_help`, `keras-prelu VERB --help`
    is left to the second stage.
    """
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=version())
    verbs = parser.add_subparsers(dest="verb", required=True)
    subparsers = {}
    for name, (help_line, takes_backend) in VERBS.items():
        verb = verbs.add_parser(name, help=help_line, add_help=verb_help)
        verb.add_argument(
            "--verbose",
            action="store_true",
            help="also show the INFO lines of keras-prelu's libraries (TensorFlow, JAX, "
            "tf2onnx) and TensorFlow's C++ log",
        )
        if takes_backend:
            verb.add_argument(
                "--backend",
                choices=BACKENDS,
                default=None,
                help="the Keras backend (default: KERAS_BACKEND's, else tensorflow)",
            )
        subparsers[name] = verb
    return parser, subparsers


def main(argv=None):
    """`keras-prelu`: the backend and the logging set, then `keras_prelu.cli.main`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, _ = command_parser(verb_help=False)
    options, _ = parser.parse_known_args(argv)  # answers --help, --version, a bad verb
    if getattr(options, "backend", None) is not None:
        os.environ["KERAS_BACKEND"] = options.backend
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend in BACKENDS and importlib.util.find_spec(backend) is None:
        parser.exit(
            2,
            f"keras-prelu: error: the {backend} backend is not installed: "
            f"pip install 'keras-prelu[{backend}]'.\n",
        )
    if options.verbose:
        from keras_prelu import cli
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_CPP_MIN_LOG_LEVEL)
        with _native_stderr_hidden():
            from keras_prelu import cli

            if "tensorflow" in sys.modules:  # its devices start now, not in a verb's output
                sys.modules["tensorflow"].config.list_physical_devices()
    return cli.main(argv)


@contextlib.contextmanager
def _native_stderr_hidden():
    """Hides what is written to file descriptor 2 meanwhile, unless it raises.

    TensorFlow 2.21's C++ core writes its start-up lines ("oneDNN custom
    operations are on", "failed call to cuInit"...) before absl's logging is
    initialized, whatever `TF_CPP_MIN_LOG_LEVEL` says.
    """
    sys.stderr.flush()
    original = os.dup(2)
    with tempfile.TemporaryFile() as hidden:
        os.dup2(hidden.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(original, 2)
            hidden.seek(0)
            sys.stderr.write(hidden.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(original, 2)
            os.close(original)
