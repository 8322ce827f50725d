"""Top-k error, the paper's measure (He et al., 2015, Tables 2-7)."""

import keras

from keras_prelu import _compat
from keras_prelu.errors import InvalidValueError

__all__ = ["SparseTopKError"]


def sparse_top_k_error(y_true, y_pred, k=1):
    """`1 - top-k accuracy` per example: 1 where the label is not in the top k.

    With `k` at least the number of classes every label is in the top k (PyTorch's
    `topk` refuses such a `k`, TensorFlow and JAX clip it): k is clipped here.
    """
    classes = y_pred.shape[-1]
    if classes is not None:
        k = min(k, classes)
    accuracy = keras.metrics.sparse_top_k_categorical_accuracy(y_true, y_pred, k=k)
    return 1.0 - accuracy


@keras.saving.register_keras_serializable(package="keras_prelu")
class SparseTopKError(keras.metrics.MeanMetricWrapper):
    """The fraction of examples whose integer label is not among the top `k`.

    `1 - keras.metrics.SparseTopKCategoricalAccuracy(k)`: the top-1 and top-5
    error that the paper reports. Named `top{k}_error` by default, so that
    the logs of `fit()` read `top1_error`, `val_top1_error`, ...

    Args:
        k: int >= 1, the number of top predictions that may hold the label.
        name: the metric's name; defaults to `f"top{k}_error"`.
        dtype: the metric's dtype.

    Examples:
        >>> import numpy as np
        >>> from keras_prelu.training import SparseTopKError
        >>> metric = SparseTopKError(1)  # named top1_error; SparseTopKError(5): top5_error
        >>> labels, scores = np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]], "float32")
        >>> metric.update_state(labels, scores)  # the second is wrong
        >>> float(metric.result())
        0.5
    """

    def __init__(self, k=1, name=None, dtype=None):
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidValueError(f"Argument `k` must be an int >= 1. Received: k={k!r}")
        super().__init__(
            fn=sparse_top_k_error,
            name=name or f"top{k}_error",
            dtype=dtype,
            k=k,
        )
        self.k = k
        # Lower is better (read by callbacks that infer a mode).
        _compat.set_lower_is_better(self)

    def get_config(self):
        return {"k": self.k, "name": self.name, "dtype": self.dtype}
