"""keras-prelu: the PReLU networks of He et al., "Delving Deep into Rectifiers".

K. He, X. Zhang, S. Ren, J. Sun, ICCV 2015 (arXiv:1502.01852).

Importing the package registers every class that a saved model or preset of
keras-prelu can name (the layers, the initializer, the zoo's keras-hub family, the
optimizer and the metrics), so that `keras.saving.load_model` finds them; it
imports TensorFlow on every backend, as keras-hub, which it builds on, does.
"""

from keras_prelu import training as training
from keras_prelu import zoo as zoo
from keras_prelu._version import __version__
from keras_prelu.convert import to_prelu
from keras_prelu.export import save_preset
from keras_prelu.initializers import PReLUHeNormal
from keras_prelu.layers import Dropout
from keras_prelu.layers import PReLU
from keras_prelu.layers import SpatialPyramidPooling
from keras_prelu.saving.presets import from_preset
from keras_prelu.saving.presets import load_preset_metadata

__all__ = [
    "Dropout",
    "PReLU",
    "PReLUHeNormal",
    "SpatialPyramidPooling",
    "__version__",
    "from_preset",
    "load_preset_metadata",
    "save_preset",
    "to_prelu",
]
