"""The per-backend benchmarks run end to end at a tiny size (no speed is asserted)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.processes import python_env

# Runs in the TensorFlow session only: the benchmarks start their own processes per backend.
pytestmark = pytest.mark.backend("tensorflow")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(name, *args, timeout=600):
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_model_a_step_reports_each_runner_against_pytorch():
    result = run_benchmark(
        "model_a_step.py",
        *("--image-size", "48", "--batch-size", "1", "--rounds", "1", "--steps", "1"),
        *("--runners", "torch,pytorch", "--precisions", "float32,bfloat16"),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rows = {line[:28].strip(): line[28:].split() for line in result.stdout.splitlines()[2:]}
    assert set(rows) == {"keras-prelu on torch", "PyTorch nn.PReLU"}
    # Milliseconds and ratio to PyTorch per precision, then the float32/bfloat16 speed-up.
    pytorch = rows["PyTorch nn.PReLU"]
    assert pytorch[1] == pytorch[3] == "1.00"
    assert pytorch[4] == "float32/bfloat16"


@pytest.mark.parametrize(
    "script, option", [("prelu_overhead.py", "--backends"), ("model_a_step.py", "--runners")]
)
def test_an_unknown_backend_is_a_usage_error(script, option):
    result = run_benchmark(script, option, "tensorflow,mxnet", timeout=120)
    assert result.returncode == 2
    assert f"Argument `{option}` must be a comma-separated list of" in result.stderr
    assert f"Received: {option}=tensorflow,mxnet" in result.stderr
    assert "Traceback" not in result.stderr
