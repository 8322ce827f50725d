from keras_prelu.layers.dropout import Dropout
from keras_prelu.layers.prelu import PReLU
from keras_prelu.layers.spatial_pyramid_pooling import SpatialPyramidPooling

__all__ = ["Dropout", "PReLU", "SpatialPyramidPooling"]
