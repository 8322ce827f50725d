"""Parameters and multiply-adds per layer, counted as the paper counts them.

The paper's complexity (Table 3, e.g. 1.90e10 for model A on a 224x224 image)
is the number of multiply-adds of the convolutional and fully-connected layers;
activations, pooling and biases are negligible beside them and not counted.
"""

import dataclasses
import math

import keras


@dataclasses.dataclass(frozen=True)
class LayerComplexity:
    """One layer's output shape, parameter count and multiply-adds."""

    name: str
    kind: str
    output_shape: tuple
    params: int
    multiply_adds: int


def _multiply_adds(layer):
    """Multiply-adds of one example through `layer` (conv and dense only).

    Convolution: `h_out * w_out * k_h * k_w * c_in * c_out / groups`.
    Dense: `units_in * units_out` for each position of its input.
    """
    if isinstance(layer, keras.layers.Conv2D):
        kernel = layer.kernel.shape  # (k_h, k_w, c_in / groups, c_out)
        spatial = layer.output.shape[1:-1]
        return math.prod(spatial) * math.prod(kernel)
    if isinstance(layer, keras.layers.Dense):
        positions = math.prod(layer.input.shape[1:-1])
        return positions * math.prod(layer.kernel.shape)
    return 0


def layer_complexity(model):
    """Per-layer complexity of a functional `model` with a fixed input size.

    Returns:
        A list of `LayerComplexity`, one per layer with weights or an output,
        in the model's order.

    Raises:
        ValueError: when the model's input size is not fully known.
    """
    input_shape = tuple(model.inputs[0].shape[1:])
    if None in input_shape:
        raise ValueError(
            "Complexity is counted for a fixed input size; build `model` with "
            f"a known input_shape, got {input_shape}."
        )
    return [
        LayerComplexity(
            name=layer.name,
            kind=type(layer).__name__,
            output_shape=tuple(layer.output.shape[1:]),
            params=layer.count_params(),
            multiply_adds=_multiply_adds(layer),
        )
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]


def model_complexity(model):
    """Total `(parameters, multiply-adds)` of one example through `model`."""
    rows = layer_complexity(model)
    return (
        sum(row.params for row in rows),
        sum(row.multiply_adds for row in rows),
    )
