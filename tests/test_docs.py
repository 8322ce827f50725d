"""Every Python block of README.md and of the pages in docs/ runs as written, each in a
fresh process, on every backend it claims, in a working directory that holds the main
job's run (`runs/model_14-digits`, trained small).

A block claims its backends in an HTML comment on the line before it, e.g.
`<!-- backends: tensorflow jax torch -->`; a block without one claims TensorFlow. Blocks
with the same source and backend (the front page repeats a page) run once.
"""

import re
import shutil
from pathlib import Path

import pytest

from tests.helpers.processes import run_python

# Runs in the TensorFlow session only: the processes it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BACKENDS = ("tensorflow", "jax", "torch")
BLOCK = re.compile(
    r"^(?:<!-- backends: (?P<backends>[a-z ]+) -->\n)?```python\n(?P<source>.*?)^```$",
    flags=re.S | re.M,
)


def python_blocks():
    """{(source, backend): "page:line"} of every Python block, first place first."""
    blocks = {}
    for page in PAGES:
        text = page.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("source"))
            for backend in (match["backends"] or "tensorflow").split():
                assert backend in BACKENDS, f"{page.name}:{line}: unknown backend {backend!r}"
                place = f"{page.relative_to(ROOT)}:{line}[{backend}]"
                blocks.setdefault((match["source"], backend), place)
    return blocks


BLOCKS = python_blocks()


def test_every_python_fence_is_a_block_and_every_claim_is_read():
    for page in PAGES:
        text = page.read_text()
        matches = list(BLOCK.finditer(text))
        assert len(matches) == text.count("```python\n"), page
        assert sum(bool(match["backends"]) for match in matches) == text.count("<!-- backends"), (
            page
        )
    assert len(BLOCKS) >= 13


@pytest.mark.slow
@pytest.mark.parametrize(("source", "backend"), list(BLOCKS), ids=list(BLOCKS.values()))
def test_docs_block_runs(source, backend, tmp_path, trained_run):
    shutil.copytree(trained_run, tmp_path / "runs" / "model_14-digits")
    run_python(source, backend=backend, cwd=tmp_path, timeout=600)
