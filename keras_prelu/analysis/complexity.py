"""Parameters and multiply-adds per layer, counted as the paper counts them.

The paper's complexity (Table 3, e.g. 1.90e10 for model A on a 224x224 image)
is the number of multiply-adds of the convolutional and fully-connected layers;
activations, pooling and biases are negligible beside them and not counted.
"""

import dataclasses
import math

from keras_prelu.errors import InvalidValueError
from keras_prelu.paper import FC_UNITS
from keras_prelu.zoo.architectures import ACTIVATIONS
from keras_prelu.zoo.architectures import ARCHITECTURES
from keras_prelu.zoo.architectures import conv_name

__all__ = [
    "LayerComplexity",
    "architecture_complexity",
    "format_complexity_table",
    "format_models_table",
    "layer_complexity",
    "model_complexity",
]


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
    import keras  # counting from an architecture (`info`) needs no Keras

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
    import keras

    input_shape = tuple(model.inputs[0].shape[1:])
    if None in input_shape:
        raise InvalidValueError(
            "Argument `model` must have a fixed input size (complexity is counted for "
            f"one). Received: input_shape={input_shape}"
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


def architecture_complexity(
    name,
    image_size=224,
    *,
    activation="prelu",
    fc_units=FC_UNITS,
    width_multiplier=1.0,
    num_classes=1000,
):
    """`layer_complexity` of the zoo model `name` from its shapes alone, no weights built.

    The rows are those of the model that `keras_prelu.zoo.get_model(name, ...)`
    builds for `(image_size, image_size, 3)` inputs with these arguments: a
    convolution `k x k, c_in -> c_out` on an `h x w` output has `k*k*c_in*c_out
    + c_out` parameters and `h*w*k*k*c_in*c_out` multiply-adds; a channel-wise
    PReLU has one slope per channel, a channel-shared one a single slope (Sec. 2.1).
    """
    if name not in ARCHITECTURES:
        raise InvalidValueError(
            f"Argument `name` must be one of {sorted(ARCHITECTURES)}. Received: name={name!r}"
        )
    if activation not in ACTIVATIONS:
        raise InvalidValueError(
            f"Argument `activation` must be one of {ACTIVATIONS}. "
            f"Received: activation={activation!r}"
        )
    arch = ARCHITECTURES[name]
    if arch.output_side(image_size) < 1:
        raise InvalidValueError(
            f"Argument `image_size` must be at least {arch.min_input_size} for {name}. "
            f"Received: image_size={image_size!r}"
        )
    rows = []

    def add(layer_name, kind, shape, params=0, multiply_adds=0):
        rows.append(LayerComplexity(layer_name, kind, tuple(shape), params, multiply_adds))

    def add_activation(layer_name, shape):
        slopes = {"prelu": shape[-1], "prelu_shared": 1}.get(activation, 0)
        kind = {"relu": "ReLU", "leaky_relu": "LeakyReLU"}.get(activation, "PReLU")
        add(layer_name, kind, shape, params=slopes)

    side, channels = image_size, 3
    for s, stage in enumerate(arch.stages, start=1):
        filters = max(1, round(stage.filters * width_multiplier))
        for i in range(1, stage.depth + 1):
            strides, padding = (stage.strides, stage.padding) if i == 1 else (1, "same")
            if padding == "valid":
                side = (side - stage.kernel_size) // strides + 1
            else:
                side = -(-side // strides)
            weights = stage.kernel_size**2 * channels * filters
            layer_name = conv_name(s, stage, i)
            shape = (side, side, filters)
            add(layer_name, "Conv2D", shape, weights + filters, side * side * weights)
            add_activation(layer_name.replace("conv", "act"), shape)
            channels = filters
        if stage.pool is not None:
            pool_size, pool_strides = stage.pool
            side = (side - pool_size) // pool_strides + 1
            add(f"pool{s}", "MaxPooling2D", (side, side, channels))
    if arch.spp_levels is None:
        features = side * side * channels
        add("flatten", "Flatten", (features,))
    else:
        features = sum(level * level for level in arch.spp_levels) * channels
        add("spp", "SpatialPyramidPooling", (features,))
    units = (*fc_units, num_classes)
    for k, width in enumerate(units, start=1):
        add(f"fc{k}", "Dense", (width,), features * width + width, features * width)
        if k < len(units):
            add_activation(f"act_fc{k}", (width,))
            add(f"drop_fc{k}", "Dropout", (width,))
        features = width
    add("predictions", "Activation", (num_classes,))
    return rows


def format_complexity_table(rows, name, image_size):
    """`rows` of one model as a table: each layer, the total and a summary line."""
    lines = [f"{'layer':<12} {'output':>16} {'params':>14} {'multiply-adds':>16}"]
    for row in rows:
        shape = "x".join(str(d) for d in row.output_shape)
        lines.append(f"{row.name:<12} {shape:>16} {row.params:>14,} {row.multiply_adds:>16,}")
    params = sum(row.params for row in rows)
    madds = sum(row.multiply_adds for row in rows)
    lines.append(f"{'total':<12} {'':>16} {params:>14,} {madds:>16,}")
    lines.append(
        f"{name}: {params / 1e6:.2f}M parameters, {madds / 1e9:.2f}G multiply-adds per "
        f"{image_size}x{image_size} image"
    )
    return "\n".join(lines)


def format_models_table(rows_by_model):
    """`{model name: its rows}` as one line per model: parameters and multiply-adds."""
    lines = [f"{'model':<10} {'params':>14} {'multiply-adds':>18}"]
    for name, rows in rows_by_model.items():
        params = sum(row.params for row in rows)
        madds = sum(row.multiply_adds for row in rows)
        lines.append(f"{name:<10} {params:>14,} {madds:>18,}")
    return "\n".join(lines)
