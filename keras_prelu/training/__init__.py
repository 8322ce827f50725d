"""Training the paper's way: recipe, optimizer, learning-rate switch, runs.

He et al., "Delving Deep into Rectifiers", ICCV 2015, Sec. 3.
"""

from keras_prelu.training.caffe_sgd import CaffeSGD
from keras_prelu.training.checkpoint import ResumableCheckpoint
from keras_prelu.training.lr_switch import SwitchLROnPlateau
from keras_prelu.training.metrics import SparseTopKError
from keras_prelu.training.recipe import Recipe
from keras_prelu.training.run import BUNDLED_MODEL_KWARGS
from keras_prelu.training.run import BUNDLED_RECIPE
from keras_prelu.training.run import FitResult
from keras_prelu.training.run import default_model_kwargs
from keras_prelu.training.run import default_recipe
from keras_prelu.training.run import fit
from keras_prelu.training.run_callbacks import NonFiniteError
from keras_prelu.training.run_callbacks import StopOnNonFinite
from keras_prelu.training.strategy import get_strategy
from keras_prelu.training.strategy import per_replica_batch_size

__all__ = [
    "BUNDLED_MODEL_KWARGS",
    "BUNDLED_RECIPE",
    "CaffeSGD",
    "FitResult",
    "NonFiniteError",
    "Recipe",
    "ResumableCheckpoint",
    "SparseTopKError",
    "StopOnNonFinite",
    "SwitchLROnPlateau",
    "default_model_kwargs",
    "default_recipe",
    "fit",
    "get_strategy",
    "per_replica_batch_size",
]
