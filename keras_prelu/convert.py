"""`to_prelu`: the ReLUs of any functional or Sequential Keras model as PReLUs."""

import math
import numbers

import keras
from keras import layers
from keras import ops

from keras_prelu.errors import InvalidValueError
from keras_prelu.initializers import PReLUHeNormal
from keras_prelu.layers import PReLU
from keras_prelu.layers.prelu import MODES
from keras_prelu.paper import INITIAL_SLOPE

__all__ = ["to_prelu"]

# The suffix of the PReLU split off a layer with a fused `activation="relu"`.
SPLIT_SUFFIX = "_prelu"

_DENSE_AND_CONV = (layers.Dense, layers.Conv1D, layers.Conv2D, layers.Conv3D)
_DEPTHWISE = (layers.DepthwiseConv1D, layers.DepthwiseConv2D)
_SEPARABLE = (layers.SeparableConv1D, layers.SeparableConv2D)
_TRANSPOSED = (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)
# The layers whose fused `activation="relu"` is split off, and whose kernels are drawn anew.
KERNEL_LAYERS = _DENSE_AND_CONV + _DEPTHWISE + _SEPARABLE + _TRANSPOSED

# Layers that may sit between a kernel and the rectifier it feeds, as in
# conv -> batch norm -> ReLU or conv -> batch norm -> add -> ReLU: they hold no kernel
# and are no activation, so the kernels before them still feed the rectifier after them.
_BETWEEN_KERNEL_AND_RECTIFIER = (
    layers.BatchNormalization,
    layers.LayerNormalization,
    layers.GroupNormalization,
    layers.Add,
    layers.Average,
    layers.Concatenate,
    layers.Dropout,
    layers.SpatialDropout1D,
    layers.SpatialDropout2D,
    layers.SpatialDropout3D,
    layers.Identity,
    layers.Flatten,
    layers.Reshape,
    layers.Permute,
    layers.ZeroPadding1D,
    layers.ZeroPadding2D,
    layers.ZeroPadding3D,
    layers.Cropping1D,
    layers.Cropping2D,
    layers.Cropping3D,
    layers.UpSampling1D,
    layers.UpSampling2D,
    layers.UpSampling3D,
    layers.AveragePooling1D,
    layers.AveragePooling2D,
    layers.AveragePooling3D,
    layers.MaxPooling1D,
    layers.MaxPooling2D,
    layers.MaxPooling3D,
    layers.GlobalAveragePooling1D,
    layers.GlobalAveragePooling2D,
    layers.GlobalAveragePooling3D,
    layers.GlobalMaxPooling1D,
    layers.GlobalMaxPooling2D,
    layers.GlobalMaxPooling3D,
)


def to_prelu(model, mode="channel_wise", slope=INITIAL_SLOPE, reinitialize=True, *, seed=None):
    """Returns a copy of `model` in which every ReLU is a `keras_prelu.PReLU`.

    Replaced are `ReLU` layers without a cap, threshold or negative slope,
    `Activation("relu")` layers, `keras.ops.relu` / `keras.activations.relu` called on
    the model's symbolic tensors, and `activation="relu"` fused into `Dense`,
    `Conv1D/2D/3D`, `SeparableConv1D/2D`, `DepthwiseConv1D/2D` and
    `Conv1D/2D/3DTranspose`, which is split into the linear layer and a PReLU
    named `<layer name>_prelu`. Other activations (ReLU6, capped or thresholded
    ReLUs, GELU, ...) stay. Models nested in `model` are converted too. Every layer
    keeps its name and its weights; each PReLU's slopes start at `slope`, one per
    channel (`mode="channel_wise"`) or one per layer (`"channel_shared"`).

    With `slope=0` and `reinitialize=False` the new model computes what `model`
    computes (PReLU with `a = 0` is ReLU, Eqn. 1): a trained ReLU network becomes a
    PReLU network that fine-tuning starts from there.

    With `reinitialize`, every kernel that feeds a new PReLU, directly or through
    normalization, merging, padding, pooling, dropout and reshaping layers, is
    drawn from `PReLUHeNormal(slope)` in the forward case (Eqn. 12),
    `std = sqrt(2 / ((1 + a^2) n))`, with `n` the number of inputs connected to one
    response: `k^2 c` for a convolution of `c` input channels (`c / groups` when
    grouped), the input units of a `Dense` layer, `k^2` for a depthwise kernel, and
    `k^2 c / s^2` (each factor `k_i / s_i` at least 1) for a transposed convolution
    of stride `s`. The depthwise kernel of a separable convolution, linear, gets the
    `a = 1` case (`std = sqrt(1 / k^2)`) and its pointwise kernel the rectifier's.
    Every other weight is copied.

    Args:
        model: a functional or Sequential `keras.Model`, built.
        mode: `"channel_wise"` (default) or `"channel_shared"`.
        slope: the initial slope `a` of every PReLU; 0.25 (the paper's) by default.
        reinitialize: whether to draw the kernels that feed the PReLUs anew.
        seed: an integer for reproducible kernels, or None.

    Returns:
        A new functional or Sequential model with the same name, inputs and outputs.
        A functional model of a subclass (e.g. a keras-hub backbone) comes back as
        a plain functional `keras.Model`.

    Raises:
        ValueError: `mode`, `slope` or `seed` is invalid; `model`, or a model
            nested in it, is not functional or Sequential (a subclassed model),
            or is not built.

    Examples:
        >>> import keras
        >>> from keras_prelu import to_prelu
        >>> relu_net = keras.Sequential(
        ...     [
        ...         keras.Input((8,)),
        ...         keras.layers.Dense(4, activation="relu", name="fc1"),
        ...         keras.layers.Dense(2, name="fc2"),
        ...     ]
        ... )
        >>> prelu_net = to_prelu(relu_net, seed=0)  # fc1 kernel drawn by Eqn. 12
        >>> [layer.name for layer in prelu_net.layers]
        ['fc1', 'fc1_prelu', 'fc2']

    Reference:
        K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers", ICCV 2015,
        Sec. 2.1 (PReLU), Sec. 2.2 (initialization), arXiv:1502.01852.
    """
    if mode not in MODES:
        raise InvalidValueError(f"Argument `mode` must be one of {MODES}. Received: mode={mode!r}")
    if isinstance(slope, bool) or not isinstance(slope, numbers.Real) or not math.isfinite(slope):
        raise InvalidValueError(
            f"Argument `slope` must be a finite real number. Received: slope={slope!r}"
        )
    if not isinstance(reinitialize, bool):
        raise InvalidValueError(
            "Argument `reinitialize` must be True or False. "
            f"Received: reinitialize={reinitialize!r}"
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise InvalidValueError(
            f"Argument `seed` must be an integer or None. Received: seed={seed!r}"
        )
    data_formats = {
        layer.data_format for layer in _convertible_layers(model) if hasattr(layer, "data_format")
    }
    data_format = data_formats.pop() if len(data_formats) == 1 else None
    converter = _Converter(mode, float(slope), data_format)
    converted = converter.convert(model)
    for original, clone in converter.copies:
        clone.set_weights(original.get_weights())
    if reinitialize:
        converter.reinitialize_kernels(
            keras.random.SeedGenerator(None if seed is None else int(seed))
        )
    return converted


def _convertible_layers(model):
    """The layers of `model` and of the models nested in it, once all are known to be
    functional or Sequential and built."""
    if not _is_graph_model(model):
        raise InvalidValueError(
            "Argument `model` must be a functional model (`keras.Model(inputs, outputs)`, "
            "keras.applications, functional keras-hub backbones) or a `keras.Sequential`, "
            "and so must the models nested in it: a subclassed model's computation is "
            f"its `call` method, which cannot be rewritten. Received: model={model!r} of "
            f"type {type(model).__name__}"
        )
    if not model.built:
        raise InvalidValueError(
            "Argument `model` must be built: give a Sequential model a `keras.Input` or "
            f"call `model.build(input_shape)` first. Received: model={model!r}"
        )
    found = []
    for layer in model.layers:
        found += _convertible_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return found


def _is_graph_model(model):
    return isinstance(model, keras.Sequential) or (
        isinstance(model, keras.Model) and isinstance(model, keras.Function)
    )


def _is_relu(operation):
    """Whether `operation` is `max(0, x)`: a plain ReLU layer or operation, `Activation("relu")`."""
    if isinstance(operation, layers.Activation):
        return operation.activation is keras.activations.relu
    # Graph operations that are not layers: keras.ops.relu adds a `Relu`, and
    # keras.activations.relu a `ReLU` with the arguments of the ReLU layer.
    kind = None if isinstance(operation, layers.Layer) else type(operation).__name__
    if kind == "Relu":
        return True
    if isinstance(operation, layers.ReLU) or kind == "ReLU":
        return (
            operation.max_value is None
            and operation.threshold == 0
            and operation.negative_slope == 0
        )
    return False


def _has_fused_relu(layer):
    return isinstance(layer, KERNEL_LAYERS) and layer.activation is keras.activations.relu


class _Converter:
    """Clones a model's layers with PReLUs for ReLUs, and finds the kernels they follow.

    `copies` pairs every cloned layer with its original (the weights to copy);
    `followers` maps a split layer's clone to its PReLU; `kernels_in[id(tensor)]`
    lists the kernel layers that a symbolic tensor of the new model depends on only
    through `_BETWEEN_KERNEL_AND_RECTIFIER` layers; `rectifier_kernels` collects
    those that reach a new PReLU, in the order of the graph.
    """

    def __init__(self, mode, slope, data_format):
        self.mode = mode
        self.slope = slope
        self.data_format = data_format
        self.copies = []
        self.followers = {}
        self.new_prelus = set()
        self.kernels_in = {}
        self.rectifier_kernels = {}

    def convert(self, model):
        if isinstance(model, keras.Sequential):
            return self._convert_sequential(model)
        # New inputs named like the input layers (clone_model names them after the tensors).
        input_names = {
            id(layer.output): layer.name
            for layer in model.layers
            if isinstance(layer, layers.InputLayer)
        }
        inputs = keras.tree.map_structure(
            lambda tensor: _input_like(tensor, input_names[id(tensor)]), model.input
        )
        return keras.models.clone_model(
            model, input_tensors=inputs, clone_function=self.clone, call_function=self.call
        )

    def _convert_sequential(self, model):
        (model_input,) = model.inputs
        input_layer = model.get_config()["layers"][0]["config"]
        new_layers = [_input_like(model_input, input_layer["name"])]
        kernels = {}
        for layer in model.layers:
            clone = self.clone(layer)
            new_layers.append(clone)
            kernels = self._kernels_after(clone, kernels)
            if id(clone) in self.followers:
                new_layers.append(self.followers[id(clone)])
        converted = keras.Sequential(new_layers, name=model.name, trainable=model.trainable)
        if model.compiled:
            converted.compile_from_config(model.get_compile_config())
        return converted

    def clone(self, layer):
        """The new layer (or converted model) that takes the place of `layer`."""
        if isinstance(layer, keras.Model):
            return self.convert(layer)
        if _is_relu(layer):
            return self._prelu(layer.name, getattr(layer, "dtype_policy", None), self.data_format)
        config = layer.get_config()
        split = _has_fused_relu(layer)
        if split:
            config["activation"] = "linear"
        clone = type(layer).from_config(config)
        if isinstance(layer, layers.Layer):
            self.copies.append((layer, clone))
        if split:
            self.followers[id(clone)] = self._prelu(
                layer.name + SPLIT_SUFFIX, layer.dtype_policy, getattr(layer, "data_format", None)
            )
        return clone

    def _prelu(self, name, dtype_policy, data_format):
        prelu = PReLU(
            mode=self.mode,
            alpha_initializer=keras.initializers.Constant(self.slope),
            # A Dense layer's units are its last axis, whatever the image data format.
            data_format=data_format or "channels_last",
            name=name,
            dtype=dtype_policy,
        )
        self.new_prelus.add(id(prelu))
        return prelu

    def call(self, layer, *args, **kwargs):
        """Calls a cloned `layer` in the new graph, followed by its PReLU if it was split."""
        outputs = layer(*args, **kwargs)
        kernels = {}
        for tensor in keras.tree.flatten((args, kwargs)):
            kernels.update(self.kernels_in.get(id(tensor), {}))
        kernels = self._kernels_after(layer, kernels)
        if id(layer) in self.followers:
            outputs = self.followers[id(layer)](outputs)
        for tensor in keras.tree.flatten(outputs):
            self.kernels_in[id(tensor)] = kernels
        return outputs

    def _kernels_after(self, layer, kernels):
        """The kernel layers that the outputs of `layer` depend on, given those of its
        inputs, `kernels`; records the kernels that reach a new PReLU."""
        if id(layer) in self.new_prelus:
            self.rectifier_kernels.update(kernels)
            return {}
        if id(layer) in self.followers:
            self.rectifier_kernels[id(layer)] = layer
            return {}
        if isinstance(layer, KERNEL_LAYERS):
            return {id(layer): layer} if layer.activation is keras.activations.linear else {}
        if isinstance(layer, _BETWEEN_KERNEL_AND_RECTIFIER):
            return kernels
        return {}

    def reinitialize_kernels(self, seed_generator):
        """Draws every kernel in `rectifier_kernels` from `PReLUHeNormal` (Eqn. 12)."""
        for layer in self.rectifier_kernels.values():
            variables = {variable.name: variable for variable in layer.weights}
            for name, fan_in, slope in _kernel_fans(layer, self.slope):
                variable = variables[name]
                unit = PReLUHeNormal(slope, mode="fan_in", seed=seed_generator)
                # The draw for one connection, scaled to `fan_in` (not always an integer).
                values = unit((1, math.prod(variable.shape)), dtype=variable.dtype)
                variable.assign(ops.reshape(values, variable.shape) / math.sqrt(fan_in))


def _input_like(tensor, name):
    return keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=name)


def _kernel_fans(layer, slope):
    """`(kernel name, n, slope)` for each kernel of `layer`: `n` the inputs of one response."""
    if isinstance(layer, _SEPARABLE):
        depthwise = math.prod(layer.kernel_size)
        pointwise = layer.pointwise_kernel.shape[-2]
        return [("depthwise_kernel", depthwise, 1.0), ("pointwise_kernel", pointwise, slope)]
    if isinstance(layer, _DEPTHWISE):
        return [("kernel", math.prod(layer.kernel_size), slope)]
    if isinstance(layer, _TRANSPOSED):
        # The kernel is (*k, out, in); stride s spreads each input over k / s outputs a side.
        in_channels = layer.kernel.shape[-1]
        taps = math.prod(max(k / s, 1) for k, s in zip(layer.kernel_size, layer.strides))
        return [("kernel", in_channels * taps, slope)]
    # Dense (in, out) and convolutions (*k, in / groups, out).
    return [("kernel", math.prod(layer.kernel.shape[:-1]), slope)]
