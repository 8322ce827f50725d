"""Diagnostics of the paper's claims, usable on any Keras model."""

from keras_prelu.analysis.complexity import LayerComplexity
from keras_prelu.analysis.complexity import layer_complexity
from keras_prelu.analysis.complexity import model_complexity

__all__ = ["LayerComplexity", "layer_complexity", "model_complexity"]
