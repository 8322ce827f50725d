"""The first stage of the `keras-prelu` command: it answers without importing Keras when it can.

Importing `keras_prelu` imports Keras, and Keras fixes its backend (and
TensorFlow its C++ logging) when first imported. So this stage builds the
command's parser (`keras_prelu.cli.build_parser`, whose modules import no Keras)
without running the `__init__` of `keras_prelu`'s packages, and parses the
command line: `--help`, `--version`, a usage error and the verbs that need no
Keras (`info`) are answered there. For the others it sets `KERAS_BACKEND` and
`TF_CPP_MIN_LOG_LEVEL` from `--backend` and `--verbose`, imports the library with
TensorFlow's C++ start-up lines hidden (unless `--verbose`), and hands the whole
command line to `keras_prelu.cli.main` (the two-stage parsing of timm's
`train.py` with `--config`).
"""

import contextlib
import importlib
import importlib.util
import os
import sys
import tempfile
import types
from pathlib import Path

# The backends `--backend` offers, each with the extra that installs it.
BACKENDS = ("tensorflow", "jax", "torch")
# TensorFlow's C++ log lines shown without `--verbose`: none (3 hides INFO,
# WARNING and ERROR lines such as "failed call to cuInit" on a CPU machine).
QUIET_TF_CPP_MIN_LOG_LEVEL = "3"


def main(argv=None):
    """`keras-prelu`: the backend and the logging set, then `keras_prelu.cli.main`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with _package_inits_skipped():
        cli = importlib.import_module("keras_prelu.cli")
        parser = cli.build_parser()
        options = parser.parse_args(argv)  # answers --help, --version, a usage error
        if not cli.VERBS[options.verb].NEEDS_KERAS:
            return cli.main(argv)
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
def _package_inits_skipped():
    """Meanwhile, `keras_prelu`'s modules import without their packages' `__init__`.

    Those `__init__`s import Keras (`import keras_prelu` registers every class a
    saved model can name); the modules of the command's parser and what they
    import (the paper's numbers, the architectures, the recipe...) do not. Each
    package is an empty module meanwhile, except `keras_prelu.cli`; everything of
    `keras_prelu` imported meanwhile is forgotten after, so that the library is
    then imported whole. When the library is imported already, it is used as is.
    """
    if "keras_prelu" in sys.modules:
        yield
        return
    root = Path(importlib.util.find_spec("keras_prelu").origin).parent
    for init in sorted(root.rglob("__init__.py")):
        package = init.parent
        if package == root / "cli":
            continue
        name = ".".join(("keras_prelu", *package.relative_to(root).parts))
        module = types.ModuleType(name)
        module.__path__ = [str(package)]
        sys.modules[name] = module
    try:
        yield
    finally:
        for name in [name for name in sys.modules if name.split(".")[0] == "keras_prelu"]:
            del sys.modules[name]


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
