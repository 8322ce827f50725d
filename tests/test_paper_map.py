"""PAPER.md maps the paper to the code: every symbol and every test it names exists."""

import importlib
import re
from pathlib import Path

import pytest

# Runs in the TensorFlow session only: no backend to vary.
pytestmark = pytest.mark.backend("tensorflow")

ROOT = Path(__file__).resolve().parents[1]
PAPER = (ROOT / "PAPER.md").read_text()
SYMBOLS = sorted(set(re.findall(r"`(keras_prelu(?:\.\w+)+)", PAPER)))
TESTS = sorted(set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", PAPER)))


def resolve(dotted):
    """The object named `dotted`: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for name in parts[end:]:
            target = getattr(target, name)
        return target
    raise ImportError(dotted)


def test_paper_md_names_symbols_and_tests():
    assert len(SYMBOLS) > 30 and len(TESTS) > 30


@pytest.mark.parametrize("dotted", SYMBOLS)
def test_every_symbol_exists(dotted):
    resolve(dotted)


@pytest.mark.parametrize("path, name", TESTS, ids=[f"{p}::{n}" for p, n in TESTS])
def test_every_test_exists(path, name):
    assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), flags=re.M), f"{path}::{name}"
