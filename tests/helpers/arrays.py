"""Arrays for the tests."""

import keras


def to_numpy(x):
    """`x` (a tensor of any backend, or an array) as a NumPy array."""
    return keras.ops.convert_to_numpy(x)
