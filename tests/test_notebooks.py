"""The notebooks of examples/ run top to bottom, on the bundled data, on every Keras backend
(the notebook's kernel inherits `KERAS_BACKEND`), on each path they offer: without a trained
run, and with the main job's run in the working directory."""

import shutil
from pathlib import Path

import nbclient
import nbformat
import pytest

# Runs in the TensorFlow session only: the kernels it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")
BACKENDS = ("tensorflow", "jax", "torch")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
# What each notebook prints on each path: (without a run, with the main job's run); a
# notebook that does not read the run has one path.
PATHS = {
    "fine_tuning": ("starting from He's initialization", "Starting from the trained run"),
    "export_and_serving": ("training a small model", "Exporting the trained run"),
    "relu_to_prelu": ("prelu: top-1 error", None),
}
READ_THE_RUN = [path for path in NOTEBOOKS if PATHS[path.stem][1] is not None]
# Read by the notebooks whose runs are long: a few steps instead (`relu_to_prelu`,
# `export_and_serving`).
SMOKE_VARIABLE = "KERAS_PRELU_SMOKE"


@pytest.fixture(autouse=True)
def smoke_size(monkeypatch):
    monkeypatch.setenv(SMOKE_VARIABLE, "1")


def test_every_example_is_collected():
    assert {path.stem for path in NOTEBOOKS} == set(PATHS)


def run_notebook(path, working_directory, backend, monkeypatch):
    """Executes the notebook in `working_directory` on `backend`; returns what it printed."""
    monkeypatch.setenv("KERAS_BACKEND", backend)
    # XLA at its usual optimization, as a user runs it: the notebooks train real networks
    # (a ResNet50), whose unoptimized code takes longer than compiling it well (about 3x
    # for relu_to_prelu on JAX).
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": working_directory}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    return "".join(output.get("text", "") for output in outputs if output.output_type == "stream")


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_without_a_trained_run(path, backend, tmp_path, monkeypatch):
    assert PATHS[path.stem][0] in run_notebook(path, tmp_path, backend, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("path", READ_THE_RUN, ids=lambda path: path.stem)
def test_notebook_runs_from_the_main_jobs_run(path, backend, tmp_path, trained_run, monkeypatch):
    shutil.copytree(trained_run, tmp_path / "runs" / "model_14-digits")
    assert PATHS[path.stem][1] in run_notebook(path, tmp_path, backend, monkeypatch)
