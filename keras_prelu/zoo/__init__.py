"""The paper's models: Table 1, Table 3 and the 30-layer model of Sec. 2.2."""

from keras_prelu.zoo.architectures import ARCHITECTURES
from keras_prelu.zoo.architectures import Architecture
from keras_prelu.zoo.architectures import Stage
from keras_prelu.zoo.models import VGG19
from keras_prelu.zoo.models import Model14
from keras_prelu.zoo.models import Model30
from keras_prelu.zoo.models import ModelA
from keras_prelu.zoo.models import ModelB
from keras_prelu.zoo.models import ModelC
from keras_prelu.zoo.models import get_model
from keras_prelu.zoo.models import list_models
from keras_prelu.zoo.prelu_net import PReLUNet

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "Model14",
    "Model30",
    "ModelA",
    "ModelB",
    "ModelC",
    "PReLUNet",
    "Stage",
    "VGG19",
    "get_model",
    "list_models",
]
