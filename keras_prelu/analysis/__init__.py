"""Diagnostics of the paper's claims, usable on any Keras model.

- `signal_propagation`: variances of each weight layer's responses (Eqn 10)
  and of the gradients reaching it (Eqn 14), at initialization or later;
- `learned_slopes`: the rectifier slopes per layer (Table 1);
- `mean_responses`: the mean response of each activation layer over a
  dataset (Fig. 2);
- `layer_complexity` / `model_complexity`: parameters and multiply-adds;
- `keras_prelu.analysis.studies`: the paper's studies at small scale
  (`keras-prelu reproduce`).
"""

from keras_prelu.analysis.complexity import LayerComplexity
from keras_prelu.analysis.complexity import layer_complexity
from keras_prelu.analysis.complexity import model_complexity
from keras_prelu.analysis.responses import ResponseRow
from keras_prelu.analysis.responses import activation_layers
from keras_prelu.analysis.responses import mean_responses
from keras_prelu.analysis.responses import plot_mean_responses
from keras_prelu.analysis.signal import SignalRow
from keras_prelu.analysis.signal import format_signal_table
from keras_prelu.analysis.signal import plot_signal
from keras_prelu.analysis.signal import random_projection_loss
from keras_prelu.analysis.signal import signal_propagation
from keras_prelu.analysis.signal import weight_layers
from keras_prelu.analysis.slopes import SlopeRow
from keras_prelu.analysis.slopes import format_slope_table
from keras_prelu.analysis.slopes import learned_slopes

__all__ = [
    "LayerComplexity",
    "ResponseRow",
    "SignalRow",
    "SlopeRow",
    "activation_layers",
    "format_signal_table",
    "format_slope_table",
    "layer_complexity",
    "learned_slopes",
    "mean_responses",
    "model_complexity",
    "plot_mean_responses",
    "plot_signal",
    "random_projection_loss",
    "signal_propagation",
    "weight_layers",
]
