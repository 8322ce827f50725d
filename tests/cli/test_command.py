"""The `keras-prelu` command's first stage: help without Keras, the backend before Keras."""

import io

import keras
import pytest

import keras_prelu
from keras_prelu import cli
from keras_prelu.zoo import Model14
from tests.helpers.processes import Child
from tests.helpers.processes import keras_prelu_command
from tests.helpers.processes import python_env
from tests.helpers.processes import run_python
from tests.helpers.run_folders import write_run_folder

# The top-level packages that `keras-prelu --help` must not import (nor leave imported).
HEAVY = ("keras", "keras_prelu", "tensorflow", "jax", "torch")
VERBS = ("info", "reproduce", "train", "evaluate", "export")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        *([verb, "--help"] for verb in VERBS),
        ["info"],
        ["info", "model_a"],
    ],
    ids=" ".join,
)
def test_help_version_and_info_import_no_keras(argv):
    printed = run_python(
        """
        import os, sys
        import keras_prelu_command
        try:
            keras_prelu_command.main(sys.argv[1:])
        except SystemExit as stop:
            assert stop.code == 0, stop.code
        heavy = {name.split(".")[0] for name in sys.modules} & set(os.environ["HEAVY"].split(","))
        print("imported:", sorted(heavy))
        """,
        *argv,
        HEAVY=",".join(HEAVY),
    )
    assert printed.splitlines()[-1] == "imported: []"
    if argv == ["--version"]:
        assert printed.splitlines()[0] == keras_prelu.__version__
    elif argv == ["--help"]:
        for verb in VERBS:
            assert f"    {verb} " in printed
    elif argv[-1] == "--help":  # the verb's own options, not only --verbose
        assert f"usage: keras-prelu {argv[0]} [-h] [--verbose]" in printed
        assert len(printed.splitlines()) > 10
    else:  # info counts from the architectures: the table of every model, or one's layers
        assert ("model_a: " in printed) == (argv == ["info", "model_a"])
        assert "model_c" in printed or argv == ["info", "model_a"]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_is_set_before_keras_is_imported_in_the_same_process(tmp_path, backend):
    printed = run_python(
        """
        import os, sys
        import keras_prelu_command
        pid = os.getpid()
        try:
            keras_prelu_command.main(["export", sys.argv[1], sys.argv[2], "--backend", sys.argv[3]])
        except SystemExit as stop:
            print(stop.code)
        import keras
        print(keras.backend.backend(), os.getpid() == pid)
        """,
        tmp_path / "no-run",
        tmp_path / "out.keras",
        backend,
        backend="tensorflow",
        timeout=600,  # a fresh Keras and torch on a loaded machine
    )
    error, backend_line = printed.splitlines()[-2:]
    assert error.startswith("keras-prelu export: error: ") and "no-run" in error
    assert backend_line == f"{backend} True"


def test_a_backend_other_than_keras_own_is_one_line_in_process(tmp_path):
    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    with pytest.raises(SystemExit) as stop:
        cli.main(["export", str(tmp_path), "out.keras", "--backend", other], out=io.StringIO())
    assert str(stop.value.code) == (
        f"keras-prelu export: error: argument --backend: Keras was imported with the "
        f"{keras.backend.backend()!r} backend before the command line was read; run the "
        f"keras-prelu command, or set KERAS_BACKEND={other} before importing keras_prelu."
    )


@pytest.mark.parametrize("verbose", [False, True])
def test_export_prints_only_its_own_line_unless_verbose(tmp_path, verbose):
    model = Model14(input_shape=(32, 32, 3), fc_units=(8, 8), num_classes=10, seed=0)
    run = write_run_folder(tmp_path / "run", model)
    output = tmp_path / "served"
    env = python_env()
    env.pop("TF_CPP_MIN_LOG_LEVEL")
    argv = ["export", str(run), str(output), *(["--verbose"] if verbose else [])]
    child = Child([*keras_prelu_command(), *argv], env=env, cwd=tmp_path)
    assert child.finish(timeout=300) == 0, child.stderr[-4000:]
    assert child.stdout == f"Exported {run} (saved_model) to {output}\n"
    if verbose:  # TensorFlow's own lines, hidden by default
        assert "Assets written to" in child.stderr or "I0000" in child.stderr, child.stderr
    else:
        assert child.stderr == ""


def test_a_backend_that_is_not_installed_is_one_line(tmp_path):
    printed = run_python(
        """
        import contextlib
        import importlib.util
        import io
        import sys
        import keras_prelu_command

        real = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: None if name == "jax" else real(name, *a)
        errors = io.StringIO()
        try:
            with contextlib.redirect_stderr(errors):
                keras_prelu_command.main(["evaluate", "run", "--backend", "jax"])
        except SystemExit as stop:
            print(errors.getvalue().strip())
            print("exit", stop.code)
        print("keras imported:", "keras" in sys.modules)
        """,
        cwd=tmp_path,
    )
    assert printed.splitlines() == [
        "keras-prelu: error: the jax backend is not installed: pip install 'keras-prelu[jax]'.",
        "exit 2",
        "keras imported: False",
    ]
