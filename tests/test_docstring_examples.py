"""The docstrings' `>>>` examples run as doctests, on every backend (the backend matrix).

The examples that need a model or data they do not build are ```python blocks
instead, which doctest does not run.
"""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest

import keras_prelu

# Examples that build a large model: in the slow suite.
SLOW = {"keras_prelu.convert"}


def modules_with_examples():
    names = [
        info.name
        for info in pkgutil.walk_packages(keras_prelu.__path__, "keras_prelu.")
        if not info.name.startswith("keras_prelu.cli")
    ]
    found = []
    for name in sorted(names):
        module = importlib.import_module(name)
        if doctest.DocTestFinder().find(module) and any(
            test.examples for test in doctest.DocTestFinder().find(module)
        ):
            found.append(name)
    return found


MODULES = modules_with_examples()


def test_the_examples_are_found():
    assert {"keras_prelu.layers.prelu", "keras_prelu.initializers"} <= set(MODULES)


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in MODULES],
)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    globs = {"np": np, "keras": keras, "ops": keras.ops, **vars(module)}
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = [test for test in finder.find(module, globs=globs) if test.examples]
    assert tests
    for test in tests:
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"
