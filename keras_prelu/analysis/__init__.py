"""Diagnostics of the paper's claims, usable on any Keras model.

- `signal_propagation`: variances of each weight layer's responses (Eqn 10)
  and of the gradients reaching it (Eqn 14), at initialization or later;
- `learned_slopes`: the rectifier slopes per layer (Table 1);
- `mean_responses`: the mean response of each activation layer over a
  dataset (Fig. 2);
- `layer_complexity` / `model_complexity`: parameters and multiply-adds;
  `architecture_complexity` the same for a zoo model from its shapes alone;
- `value_and_gradients` / `GradientNorms`: gradients of a loss with respect to
  chosen variables on every backend, and their norms during training;
- `paired_difference`: the mean of paired differences over seeds with its
  Student's t interval;
- `keras_prelu.analysis.studies`: the paper's findings at CPU scale
  (`keras-prelu reproduce`).
"""

from keras_prelu.analysis.complexity import LayerComplexity
from keras_prelu.analysis.complexity import architecture_complexity
from keras_prelu.analysis.complexity import format_complexity_table
from keras_prelu.analysis.complexity import format_models_table
from keras_prelu.analysis.complexity import layer_complexity
from keras_prelu.analysis.complexity import model_complexity
from keras_prelu.analysis.gradients import GradientNorms
from keras_prelu.analysis.gradients import GradientRecord
from keras_prelu.analysis.gradients import gradients
from keras_prelu.analysis.gradients import value_and_gradients
from keras_prelu.analysis.plotting import plot_mean_responses
from keras_prelu.analysis.plotting import plot_signal
from keras_prelu.analysis.prelu_slopes import SlopeRow
from keras_prelu.analysis.prelu_slopes import format_slope_table
from keras_prelu.analysis.prelu_slopes import learned_slopes
from keras_prelu.analysis.responses import ResponseRow
from keras_prelu.analysis.responses import activation_layers
from keras_prelu.analysis.responses import mean_responses
from keras_prelu.analysis.signal import SignalRow
from keras_prelu.analysis.signal import format_signal_table
from keras_prelu.analysis.signal import random_projection_loss
from keras_prelu.analysis.signal import signal_propagation
from keras_prelu.analysis.signal import weight_layers
from keras_prelu.analysis.statistics import PairedDifference
from keras_prelu.analysis.statistics import paired_difference

__all__ = [
    "GradientNorms",
    "GradientRecord",
    "LayerComplexity",
    "PairedDifference",
    "ResponseRow",
    "SignalRow",
    "SlopeRow",
    "activation_layers",
    "architecture_complexity",
    "format_complexity_table",
    "format_models_table",
    "format_signal_table",
    "format_slope_table",
    "gradients",
    "layer_complexity",
    "learned_slopes",
    "mean_responses",
    "model_complexity",
    "paired_difference",
    "plot_mean_responses",
    "plot_signal",
    "random_projection_loss",
    "signal_propagation",
    "value_and_gradients",
    "weight_layers",
]
