import os

# The session runs on the TensorFlow backend unless the caller chose another
# one; the backend matrix (tests/helpers/backend_matrix.py) runs the tests
# again on the others.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest_plugins = ["tests.helpers.backend_matrix"]


@pytest.fixture
def rng():
    """A NumPy generator seeded 0, new for each test."""
    return np.random.default_rng(0)
