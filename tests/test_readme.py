"""Every Python block of README.md runs as written, each in a fresh process, in a working
directory that holds the main job's run (`runs/model_14-digits`, trained small)."""

import re
import shutil
from pathlib import Path

import pytest

from tests.helpers.processes import run_python

# Runs in the TensorFlow session only: the processes it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 8


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=lambda index: f"block{index + 1}")
def test_readme_block_runs(index, tmp_path, trained_run):
    shutil.copytree(trained_run, tmp_path / "runs" / "model_14-digits")
    run_python(BLOCKS[index], cwd=tmp_path, timeout=600)
