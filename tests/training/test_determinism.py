"""The same `keras-prelu train` twice gives the same numbers and the same weights."""

import numpy as np
import pytest

from keras_prelu.evaluation import load_trained
from tests.helpers.processes import Child
from tests.helpers.processes import keras_prelu_command

# Runs in the TensorFlow session only: the processes it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")


@pytest.mark.slow
def test_the_main_job_repeats_exactly_on_one_machine(tmp_path):
    # Two fresh processes at once, from another working directory: two epochs of
    # the main job each (the second starts from the first's weights and order).
    runs = [tmp_path / "first", tmp_path / "second"]
    children = [
        Child(
            [*keras_prelu_command(), "train", "--epochs", "2", "--run-dir", str(run)],
            cwd=tmp_path,
        )
        for run in runs
    ]
    for child in children:
        assert child.finish(timeout=900) == 0, child.stderr[-4000:]
    # The summary: "Trained 2 epochs (...)" and "Validation, centre crop: top-1 error ...".
    summaries = [
        [line for line in child.stdout.splitlines() if line.startswith(("Trained", "Validation"))]
        for child in children
    ]
    assert len(summaries[0]) == 2 and summaries[0] == summaries[1]
    first, second = (load_trained(run).model for run in runs)
    for a, b in zip(first.weights, second.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
