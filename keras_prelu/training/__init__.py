"""Training the paper's way: recipe, optimizer, learning-rate switch, runs.

He et al., "Delving Deep into Rectifiers", ICCV 2015, Sec. 3.

The optimizer, the metrics and the callbacks are imported with the package, so
that `import keras_prelu` registers every class a saved model can name. `fit`
and the parallel setup read data with `tf.data`: they are imported when first
used, so that the package does not import TensorFlow on the other backends.
"""

import importlib

from keras_prelu.training.caffe_sgd import CaffeSGD
from keras_prelu.training.checkpoint import ResumableCheckpoint
from keras_prelu.training.epoch_callbacks import NonFiniteError
from keras_prelu.training.epoch_callbacks import StopOnNonFinite
from keras_prelu.training.lr_switch import SwitchLROnPlateau
from keras_prelu.training.metrics import SparseTopKError
from keras_prelu.training.recipe import Recipe

_LAZY = {
    "BUNDLED_MODEL_KWARGS": "keras_prelu.training.fit_steps",
    "BUNDLED_RECIPE": "keras_prelu.training.recipe",
    "FitResult": "keras_prelu.training.fit_steps",
    "default_model_kwargs": "keras_prelu.training.fit_steps",
    "default_recipe": "keras_prelu.training.fit_steps",
    "fit": "keras_prelu.training.fit_steps",
    "prepare_run": "keras_prelu.training.fit_steps",
    "get_strategy": "keras_prelu.training.strategy",
    "initialize_processes": "keras_prelu.training.distribution",
    "Parallel": "keras_prelu.training.parallel",
}

__all__ = [
    "CaffeSGD",
    "NonFiniteError",
    "Recipe",
    "ResumableCheckpoint",
    "SparseTopKError",
    "StopOnNonFinite",
    "SwitchLROnPlateau",
    *sorted(_LAZY),
]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


def __dir__():
    return __all__
