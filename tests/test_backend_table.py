"""The backend table of docs/backends.md is checked against the suite.

Each "yes" of the table names the tests that show it (node ids under tests/, in
backticks). They must be selected by CI's command, `python -m pytest` (the backend
matrix's quick tests on every backend, the slow ones on TensorFlow), and not marked
`skip` or `skipif`, for that column's backend: run in that backend's session, or in
the TensorFlow session with the backend as a parameter or started in a process
(`backend="jax"` in the test file). A test that skips itself at run time is not seen
here; the matrix reports it as skipped.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# It starts a pytest process that collects on every backend (20 s of CPU, minutes on a
# loaded machine).
pytestmark = pytest.mark.backend("tensorflow")

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "backends.md"
COLUMNS = {"TensorFlow": "tensorflow", "JAX": "jax", "PyTorch": "torch"}


def table_cells():
    """`(row title, backend, cell text)` for every cell of the table."""
    lines = [line for line in TABLE.read_text().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    backends = [COLUMNS.get(title) for title in header]
    cells = []
    for line in lines[2:]:
        row = [cell.strip() for cell in line.strip("|").split("|")]
        cells += [(row[0], b, cell) for b, cell in zip(backends, row) if b is not None]
    return cells


def named_tests(cell):
    return ["tests/" + name for name in re.findall(r"`([^`]+\.py::[^`]+)`", cell)]


def collected(tmp_path, files):
    """`{node id: {backends whose session runs it}}` as CI's command selects them."""
    report = tmp_path / "collected.jsonl"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
    ]
    command += ["-p", "tests.helpers.collected", "-m", "not skip and not skipif", *files]
    env = dict(os.environ, KERAS_BACKEND="tensorflow", COLLECTED_TESTS=str(report))
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tests = {}
    for line in report.read_text().splitlines():
        entry = json.loads(line)
        tests.setdefault(entry["nodeid"], set()).add(entry["backend"])
    return tests


def shows(name, backend, tests):
    """Whether the test (or the parametrizations) `name` runs for `backend`."""
    matching = {
        nodeid: b for nodeid, b in tests.items() if re.match(re.escape(name) + r"(\[|::|$)", nodeid)
    }
    for nodeid, backends in matching.items():
        params = re.findall(r"\[(.*)\]$", nodeid)
        # A parameter names the backend: `[name-jax]`, or `[README.md:27[jax]]` (a docs block).
        if backend in backends or (params and backend in re.split(r"[-\[\]]", params[0])):
            return True
        if backends == {"tensorflow"}:
            if f'backend="{backend}"' in (ROOT / nodeid.split("::")[0]).read_text():
                return True
    return False


@pytest.mark.slow
def test_every_yes_names_tests_that_run_on_its_backend(tmp_path):
    cells = table_cells()
    assert {b for _, b, _ in cells} == set(COLUMNS.values())
    yes = [(row, b, cell) for row, b, cell in cells if cell.startswith("yes")]
    assert yes
    files = sorted({name.split("::")[0] for _, _, cell in yes for name in named_tests(cell)})
    tests = collected(tmp_path, files)
    wrong = []
    for row, backend, cell in yes:
        names = named_tests(cell)
        if not names:
            wrong.append(f"{row} / {backend}: names no test")
        wrong += [
            f"{row} / {backend}: {name} does not run on {backend}"
            for name in names
            if not shows(name, backend, tests)
        ]
    assert not wrong, "\n".join(wrong)


def test_the_check_fails_for_a_test_of_another_backend():
    tests = {
        "tests/a.py::test_x": {"tensorflow", "jax"},
        "tests/a.py::test_y[jax]": {"tensorflow"},
        "tests/a.py::test_block[page.md:3[torch]]": {"tensorflow"},
    }
    assert shows("tests/a.py::test_x", "jax", tests)
    assert not shows("tests/a.py::test_x", "torch", tests)
    assert shows("tests/a.py::test_y", "jax", tests)
    assert not shows("tests/a.py::test_z", "tensorflow", tests)
    assert shows("tests/a.py::test_block[page.md:3[torch]]", "torch", tests)
