"""keras-prelu: the PReLU networks of He et al., "Delving Deep into Rectifiers".

K. He, X. Zhang, S. Ren, J. Sun, ICCV 2015 (arXiv:1502.01852).
"""

from keras_prelu.convert import to_prelu
from keras_prelu.initializers import PReLUHeNormal
from keras_prelu.layers import PReLU
from keras_prelu.layers import SpatialPyramidPooling

__version__ = "0.1.0"

__all__ = ["PReLU", "PReLUHeNormal", "SpatialPyramidPooling", "__version__", "to_prelu"]
