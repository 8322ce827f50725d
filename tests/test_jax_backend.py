import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.processes import python_env

# The tests of the backend-independent pieces, in a JAX-backend process:
# they use keras.ops only and must behave the same there.
BACKEND_INDEPENDENT_TESTS = [
    "tests/layers/test_prelu.py",
    "tests/layers/test_spatial_pyramid_pooling.py",
    "tests/test_initializers.py",
    "tests/test_convert.py",
    "tests/zoo/test_models.py",
    "tests/training/test_caffe_sgd.py",
    "tests/training/test_lr_switch.py",
    "tests/training/test_checkpoint.py",
    "tests/layers/test_dropout.py",
]


# The training smoke test: `fit` trains, evaluates, saves and resumes.
TRAINING_SMOKE_TESTS = ["tests/training/test_fit.py"]


def run_tests_on_jax(*arguments):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        env=python_env("jax"),
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.slow
def test_backend_independent_tests_pass_on_jax():
    run_tests_on_jax("-m", "not slow", *BACKEND_INDEPENDENT_TESTS)


@pytest.mark.slow
def test_the_training_smoke_tests_pass_on_jax():
    run_tests_on_jax(*TRAINING_SMOKE_TESTS)
