"""Signal propagation at initialization: the paper's Eqn 10 and Eqn 14, measured.

For every weight layer `l` (convolution or fully-connected) of a model, on a
batch of inputs:

- forward (Eqn 10): the variance of its responses `y_l = W_l x_l + b_l`,
  `Var[y_l] = n_l Var[w_l] E[x_l^2]`; through a ReLU `E[x_l^2] = 1/2
  Var[y_{l-1}]`, so He's rule `1/2 n_l Var[w_l] = 1` (Eqn 12) keeps it
  constant over depth while Xavier's `n_l Var[w_l] = 1` halves it at every
  rectified layer;
- backward (Eqn 14): the variance of the gradient reaching its input,
  `Var[dx_l] = n^_l Var[w_l] Var[dy_l]` with `n^_l = k^2 d_l` (fan-out);
  He's fan-out rule (Eqn 16) keeps it constant, Xavier's shrinks it.

`signal_propagation` returns one `SignalRow` per weight layer;
`format_signal_table` prints them, `keras_prelu.analysis.plotting.plot_signal` draws
them on a log scale.
"""

import dataclasses
import math

import keras
import numpy as np
from keras import ops

from keras_prelu.analysis.gradients import gradients
from keras_prelu.analysis.model_layers import nested_layers
from keras_prelu.errors import InvalidValueError

__all__ = [
    "SignalRow",
    "format_signal_table",
    "random_projection_loss",
    "signal_propagation",
    "weight_layers",
]


@dataclasses.dataclass(frozen=True)
class SignalRow:
    """One weight layer's fans, weight variance and measured variances.

    Attributes:
        name, kind: the layer's name and class name.
        fan_in: `n_l = k^2 c` (Eqn 10), inputs of one response.
        fan_out: `n^_l = k^2 d` (Eqn 14), responses fed by one input.
        weight_variance: `Var[w_l]` of the kernel as it is now.
        forward_variance: `Var[y_l]`, variance of the layer's outputs.
        input_second_moment: `E[x_l^2]` of the layer's inputs.
        backward_variance: `Var[dx_l]`, variance of the gradient of the loss
            with respect to the layer's inputs (None when not computed).
    """

    name: str
    kind: str
    fan_in: int
    fan_out: int
    weight_variance: float
    forward_variance: float
    input_second_moment: float
    backward_variance: float | None


def _fans(kernel_shape):
    """`(n, n^)`: fan-in `k^2 c` and fan-out `k^2 d` of a kernel."""
    receptive = math.prod(kernel_shape[:-2])
    return receptive * kernel_shape[-2], receptive * kernel_shape[-1]


def weight_layers(model):
    """The layers of `model` with a kernel of rank >= 2 (conv, dense), in order."""
    layers = []
    for layer in nested_layers(model):
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) >= 2:
            layers.append(layer)
    return layers


def random_projection_loss(outputs, seed=0):
    """`sum(outputs * g)` with a fixed standard Gaussian `g`.

    Its gradient at the outputs is `g`: a backward signal of unit variance
    entering the top layer, the `Var[dy_L] = 1` of the closed forms.
    """
    generator = np.random.default_rng(seed)
    shape = tuple(keras.ops.shape(outputs))
    g = keras.ops.convert_to_tensor(generator.standard_normal(shape).astype("float32"))
    return keras.ops.sum(keras.ops.cast(outputs, "float32") * g)


def signal_propagation(model, inputs, *, loss=None, backward=True, seed=0):
    """Variances of the responses and gradients of each weight layer.

    Runs `model` once on `inputs` in inference mode (no dropout). The model
    must be a functional (or sequential) model whose weight layers are each
    called once.

    Args:
        model: a built functional Keras model.
        inputs: a batch, as `model` takes it.
        loss: `loss(outputs) -> scalar` whose gradient is propagated back; by
            default `random_projection_loss` (a unit-variance gradient at the
            outputs).
        backward: whether to measure the gradients.
        seed: seed of the default loss' projection.

    Returns:
        A list of `SignalRow`, one per weight layer, input to output.

    Raises:
        ValueError: when `model` has no weight layer or no graph of layers.
    """
    layers = weight_layers(model)
    if not layers:
        raise InvalidValueError(
            f"`model` has no convolution or dense layer to measure: {model.name!r}."
        )
    try:
        probe_tensors = [t for layer in layers for t in (layer.input, layer.output)]
    except (AttributeError, ValueError) as error:
        raise InvalidValueError(
            "`model` must be a functional or sequential model (its layers "
            f"need symbolic inputs and outputs): {error}"
        ) from error
    probe = keras.Model(model.input, probe_tensors)
    if loss is None:
        loss = lambda outputs: random_projection_loss(outputs, seed)  # noqa: E731

    values = probe(inputs, training=False)
    if backward:
        layer_inputs = [values[2 * index] for index in range(len(layers))]
        input_gradients = _input_gradients(model, layers, layer_inputs, inputs, loss)
    else:
        input_gradients = [None] * len(layers)

    rows = []
    for index, layer in enumerate(layers):
        x = np.asarray(keras.ops.convert_to_numpy(values[2 * index]), "float64")
        y = np.asarray(keras.ops.convert_to_numpy(values[2 * index + 1]), "float64")
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        fan_in, fan_out = _fans(kernel.shape)
        grad = input_gradients[index]
        rows.append(
            SignalRow(
                name=layer.name,
                kind=type(layer).__name__,
                fan_in=fan_in,
                fan_out=fan_out,
                weight_variance=float(np.var(kernel)),
                forward_variance=float(np.var(y)),
                input_second_moment=float(np.mean(np.square(x))),
                backward_variance=(
                    None
                    if grad is None
                    else float(np.var(np.asarray(keras.ops.convert_to_numpy(grad), "float64")))
                ),
            )
        )
    return rows


class _InputOffset(keras.layers.Layer):
    """Adds a zero variable of its input's full shape: the input's gradient is its gradient."""

    def __init__(self, shape, **kwargs):
        super().__init__(**kwargs)
        self.offset = self.add_weight(shape=shape, initializer="zeros", name="offset")

    def call(self, inputs):
        return inputs + ops.cast(self.offset, inputs.dtype)


def _input_gradients(model, layers, layer_inputs, inputs, loss):
    """`dE/dx_l` for the input `x_l` of each of `layers`, `E = loss(model(inputs))`.

    Backends differentiate with respect to variables, not to a tensor inside a
    model; so the model is called again through its own layers with a zero
    offset added before each of `layers`, and the offsets are differentiated.
    """
    offsets = {
        id(layer): _InputOffset(tuple(x.shape), name=f"{layer.name}_offset")
        for layer, x in zip(layers, layer_inputs)
    }

    def call_with_offset(layer, *args, **kwargs):
        if id(layer) in offsets:
            args = (offsets[id(layer)](args[0]), *args[1:])
        return layer(*args, **kwargs)

    tapped = keras.models.clone_model(
        model,
        input_tensors=keras.tree.map_structure(
            lambda x: keras.Input(batch_shape=tuple(x.shape)), inputs
        ),
        clone_function=lambda layer: layer,  # the same layers and weights
        call_function=call_with_offset,
    )

    def objective():
        outputs = tapped(inputs, training=False)
        return loss(outputs[0] if isinstance(outputs, list) and len(outputs) == 1 else outputs)

    variables = [offsets[id(layer)].offset for layer in layers]
    return gradients(objective, variables)


def format_signal_table(rows):
    """The rows of `signal_propagation` as a text table."""
    lines = [f"{'layer':<12} {'n':>7} {'n^':>7} {'Var[w]':>10} {'Var[y]':>10} {'Var[dx]':>10}"]
    for row in rows:
        backward = "-" if row.backward_variance is None else f"{row.backward_variance:.3e}"
        lines.append(
            f"{row.name:<12} {row.fan_in:>7} {row.fan_out:>7} "
            f"{row.weight_variance:>10.3e} {row.forward_variance:>10.3e} "
            f"{backward:>10}"
        )
    return "\n".join(lines)
