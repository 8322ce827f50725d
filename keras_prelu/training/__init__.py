"""Training the paper's way: recipe, optimizer, learning-rate switch, runs.

He et al., "Delving Deep into Rectifiers", ICCV 2015, Sec. 3.
"""

from keras_prelu.training.caffe_sgd import CaffeSGD
from keras_prelu.training.checkpoint import ResumableCheckpoint
from keras_prelu.training.lr_switch import SwitchLROnPlateau
from keras_prelu.training.recipe import Recipe
from keras_prelu.training.strategy import get_strategy
from keras_prelu.training.strategy import per_replica_batch_size

__all__ = [
    "CaffeSGD",
    "Recipe",
    "ResumableCheckpoint",
    "SwitchLROnPlateau",
    "get_strategy",
    "per_replica_batch_size",
]
