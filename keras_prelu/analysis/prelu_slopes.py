"""Learned slopes of a model's rectifiers, per layer: the paper's Table 1.

The paper's Table 1 lists, for the 14-layer model, the learned coefficient of
each layer's channel-shared PReLU and the mean of its channel-wise ones:
0.681 / 0.596 for conv1, 0.10-0.56 for conv2_x, 0.008-0.21 for conv3_x,
0.063 / 0.074 for fc1 and 0.031 / 0.075 for fc2 (`keras_prelu.paper.TABLE_1`).
Early layers keep large slopes, deeper ones become "more nonlinear".
"""

import dataclasses

import keras
import numpy as np

from keras_prelu.analysis.model_layers import nested_layers
from keras_prelu.layers.prelu import PReLU

__all__ = ["SlopeRow", "format_slope_table", "learned_slopes"]


@dataclasses.dataclass(frozen=True)
class SlopeRow:
    """The negative-side slopes of one activation layer.

    Attributes:
        name: the activation layer's name.
        kind: `"channel_wise"` or `"channel_shared"` (learned PReLU slopes)
            or `"fixed"` (ReLU, Leaky ReLU: not learned).
        count: number of slopes (channels; 1 when shared or fixed).
        mean, min, max: of the slopes.
    """

    name: str
    kind: str
    count: int
    mean: float
    min: float
    max: float


def _slopes(layer):
    """`(kind, slopes)` of an activation layer, or None for other layers."""
    if isinstance(layer, PReLU):
        return layer.mode, keras.ops.convert_to_numpy(layer.alpha)
    if isinstance(layer, keras.layers.PReLU):
        values = keras.ops.convert_to_numpy(layer.alpha)
        shared = values.size == 1
        return ("channel_shared" if shared else "channel_wise"), values
    if isinstance(layer, keras.layers.LeakyReLU):
        return "fixed", np.array([layer.negative_slope])
    if isinstance(layer, keras.layers.ReLU):
        return "fixed", np.array([layer.negative_slope])
    return None


def learned_slopes(model):
    """The slopes of every rectifier layer of `model`, in order.

    Reads `keras_prelu.layers.PReLU` and `keras.layers.PReLU` (learned),
    `keras.layers.LeakyReLU` and `keras.layers.ReLU` (fixed) layers.

    Returns:
        A list of `SlopeRow`.
    """
    rows = []
    for layer in nested_layers(model):
        found = _slopes(layer)
        if found is None:
            continue
        kind, values = found
        values = np.asarray(values, "float64").ravel()
        rows.append(
            SlopeRow(
                name=layer.name,
                kind=kind,
                count=int(values.size),
                mean=float(values.mean()),
                min=float(values.min()),
                max=float(values.max()),
            )
        )
    return rows


def format_slope_table(rows):
    """The rows of `learned_slopes` as a text table (mean, min, max)."""
    lines = [f"{'layer':<10} {'kind':<15} {'count':>6} {'mean':>8} {'min':>8} {'max':>8}"]
    for row in rows:
        lines.append(
            f"{row.name:<10} {row.kind:<15} {row.count:>6} {row.mean:>8.3f} "
            f"{row.min:>8.3f} {row.max:>8.3f}"
        )
    return "\n".join(lines)
