"""The paper's models: Table 1, Table 3 and the 30-layer model of Sec. 2.2.

The zoo is a keras-hub model family: `PReLUNetBackbone` (the conv stages),
`PReLUNetImageClassifier` (with the paper's head), and the
`PReLUNetImageClassifierPreprocessor` with its `PReLUNetImageConverter` (the
centre view minus the training mean), so that `keras_hub.models.ImageClassifier
.from_preset(folder)` loads a keras-prelu preset. `ModelA(...)` and the other
builders return these classes, as `keras.applications` builders do.
"""

from keras_prelu.zoo.architectures import ARCHITECTURES
from keras_prelu.zoo.architectures import Architecture
from keras_prelu.zoo.architectures import Stage
from keras_prelu.zoo.models import ANY_SIZE
from keras_prelu.zoo.models import VGG19
from keras_prelu.zoo.models import Model14
from keras_prelu.zoo.models import Model30
from keras_prelu.zoo.models import ModelA
from keras_prelu.zoo.models import ModelB
from keras_prelu.zoo.models import ModelC
from keras_prelu.zoo.models import PReLUNet
from keras_prelu.zoo.models import get_model
from keras_prelu.zoo.models import list_models
from keras_prelu.zoo.models import with_input_shape
from keras_prelu.zoo.prelu_net_backbone import PReLUNetBackbone
from keras_prelu.zoo.prelu_net_image_classifier import PReLUNetImageClassifier
from keras_prelu.zoo.prelu_net_image_classifier_preprocessor import (
    PReLUNetImageClassifierPreprocessor,
)
from keras_prelu.zoo.prelu_net_image_converter import PReLUNetImageConverter

__all__ = [
    "ANY_SIZE",
    "ARCHITECTURES",
    "VGG19",
    "Architecture",
    "Model14",
    "Model30",
    "ModelA",
    "ModelB",
    "ModelC",
    "PReLUNet",
    "PReLUNetBackbone",
    "PReLUNetImageClassifier",
    "PReLUNetImageClassifierPreprocessor",
    "PReLUNetImageConverter",
    "Stage",
    "get_model",
    "list_models",
    "with_input_shape",
]
