import os

# The session runs on the TensorFlow backend unless the caller chose another
# one; the backend matrix (tests/helpers/backend_matrix.py) runs the tests
# again on the others.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# XLA compiles at its lowest optimization in the tests and in the processes they start: they
# check values, not speed, and on a CPU compiling is most of a small JAX test's time (a JAX
# session of the quick tests takes about half as long).
os.environ.setdefault(
    "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest_plugins = ["tests.helpers.backend_matrix"]


@pytest.fixture
def rng():
    """A NumPy generator seeded 0, new for each test."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A run folder made by `keras-prelu train` in a fresh process, tiny: one epoch of the
    main job's model and data, `<tmp>/runs/model_14-digits` (the main job's name)."""
    from tests.helpers.processes import Child
    from tests.helpers.processes import keras_prelu_command

    run_dir = tmp_path_factory.mktemp("trained") / "runs" / "model_14-digits"
    child = Child(
        [*keras_prelu_command(), "train", "--run-dir", str(run_dir), *TINY_TRAINING],
        cwd=tmp_path_factory.mktemp("elsewhere"),
    )
    assert child.finish(timeout=600) == 0, child.stderr[-4000:]
    return run_dir


# `keras-prelu train` options of the smallest useful run of the main job.
TINY_TRAINING = ["--epochs", "1", "--batch-size", "64", "--fc-units", "16", "16"]
