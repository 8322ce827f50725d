"""The pieces the zoo's classes and builders share: argument checks and layer makers."""

import difflib
import inspect

import keras

from keras_prelu.errors import InvalidTypeError
from keras_prelu.errors import InvalidValueError
from keras_prelu.initializers import PReLUHeNormal
from keras_prelu.layers.prelu import CHANNEL_SHARED
from keras_prelu.layers.prelu import CHANNEL_WISE
from keras_prelu.layers.prelu import PReLU
from keras_prelu.paper import INITIAL_SLOPE

__all__ = [
    "DEFAULT_INPUT_SHAPE",
    "DEFAULT_NUM_CLASSES",
    "FC_INITIALIZERS",
    "INITIALIZERS",
    "POOLINGS",
    "activation_layer",
    "check_head",
    "check_unknown_arguments",
    "checked_num_classes",
    "choice",
    "image_input",
    "initial_slope",
    "kernel_initializer",
]

INITIALIZERS = ("he", "he_fan_in", "xavier")
FC_INITIALIZERS = ("paper",) + INITIALIZERS
POOLINGS = (None, "spp", "avg", "max")
DEFAULT_INPUT_SHAPE = (224, 224, 3)
DEFAULT_NUM_CLASSES = 1000
# The `keras.Model` arguments that the builders take besides their own.
MODEL_ARGUMENTS = ("name", "trainable", "dtype")


def choice(name, value, accepted):
    if value not in accepted:
        raise InvalidValueError(
            f"Argument `{name}` must be one of {accepted}. Received: {name}={value!r}"
        )
    return value


def initial_slope(activation, leaky_slope):
    """The activation's negative slope at initialization (He's `a`)."""
    return {"relu": 0.0, "leaky_relu": leaky_slope}.get(activation, INITIAL_SLOPE)


def kernel_initializer(rule, slope, seed, stddev=None):
    """An initializer of `INITIALIZERS` or, with `stddev`, the paper's fc one."""
    if rule == "paper":
        return keras.initializers.RandomNormal(stddev=stddev, seed=seed)
    if rule == "xavier":
        return PReLUHeNormal(slope=1.0, mode="fan_in", seed=seed)
    mode = "fan_in" if rule == "he_fan_in" else "fan_out"
    return PReLUHeNormal(slope=slope, mode=mode, seed=seed)


def activation_layer(activation, leaky_slope, name, dtype):
    if activation == "relu":
        return keras.layers.ReLU(name=name, dtype=dtype)
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(leaky_slope, name=name, dtype=dtype)
    mode = CHANNEL_SHARED if activation == "prelu_shared" else CHANNEL_WISE
    return PReLU(mode=mode, name=name, dtype=dtype)


def check_unknown_arguments(builder, kwargs):
    """Raises `TypeError` for keyword arguments `builder` does not take, as Python would."""
    parameters = inspect.signature(builder).parameters.values()
    accepted = [p.name for p in parameters if p.kind is not p.VAR_KEYWORD]
    accepted += list(MODEL_ARGUMENTS)
    unknown = sorted(set(kwargs) - set(accepted))
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, accepted, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise InvalidTypeError(
        f"{builder.__name__}() got unexpected keyword arguments: {', '.join(hints)}. "
        f"It takes: {', '.join(sorted(set(accepted)))}."
    )


def checked_num_classes(num_classes, classes):
    """`num_classes`, also spelled `classes` as in keras.applications."""
    if classes is not None and num_classes is not None and classes != num_classes:
        raise InvalidValueError(
            "Arguments `num_classes` and `classes` name the same thing (keras.applications "
            f"spell it `classes`); give one. Received: num_classes={num_classes!r}, "
            f"classes={classes!r}"
        )
    value = num_classes if num_classes is not None else classes
    value = DEFAULT_NUM_CLASSES if value is None else value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(
            f"Argument `num_classes` must be a positive integer. Received: num_classes={value!r}"
        )
    return value


def image_input(arch, input_shape, input_tensor):
    """The model's input tensor: `input_tensor`, or a new `keras.Input(input_shape)`."""
    if keras.config.image_data_format() != "channels_last":
        raise InvalidValueError(
            "keras-prelu's zoo models are channels_last (height, width, channels), but "
            "keras.config.image_data_format() is "
            f"{keras.config.image_data_format()!r}: call "
            "keras.config.set_image_data_format('channels_last') before building them "
            "(the layers themselves take data_format='channels_first')."
        )
    if input_tensor is not None:
        if not isinstance(input_tensor, keras.KerasTensor):
            raise InvalidValueError(
                "Argument `input_tensor` must be a Keras tensor made by keras.Input(...). "
                f"Received: input_tensor={input_tensor!r}"
            )
        if keras.utils.get_source_inputs(input_tensor) != [input_tensor]:
            raise InvalidValueError(
                "Argument `input_tensor` must be made by keras.Input(...), not by other "
                "layers: to put layers before the model, call it on their output, "
                "`outputs = model(x)`. Received: a tensor made by layers."
            )
        shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != shape:
            raise InvalidValueError(
                f"Arguments `input_shape` and `input_tensor` disagree: input_tensor has shape "
                f"{shape}. Received: input_shape={tuple(input_shape)!r}"
            )
        input_shape = shape
    input_shape = tuple(DEFAULT_INPUT_SHAPE if input_shape is None else input_shape)
    if len(input_shape) != 3 or input_shape[-1] is None:
        raise InvalidValueError(
            "Argument `input_shape` must be (height, width, channels) with known channels. "
            f"Received: input_shape={input_shape!r}"
        )
    smallest = arch.min_input_size
    if any(side is not None and side < smallest for side in input_shape[:2]):
        raise InvalidValueError(
            f"Argument `input_shape`: {arch.name} needs images of at least {smallest}x{smallest} "
            "pixels (its convolutions and poolings leave no feature map below that). "
            f"Received: input_shape={input_shape!r}"
        )
    if input_tensor is None:
        input_tensor = keras.Input(shape=input_shape, name="image")
    return input_shape, input_tensor


def check_head(arch, input_shape, fc_units, dropout):
    """Checks the arguments that shape the fc layers."""
    if arch.spp_levels is None and None in input_shape:
        raise InvalidValueError(
            f"Argument `input_shape` must be fully known: {arch.name} flattens its last "
            f"feature map when include_top=True. Received: input_shape={input_shape!r}"
        )
    if len(fc_units) != 2 or not all(
        isinstance(units, int) and not isinstance(units, bool) and units > 0 for units in fc_units
    ):
        raise InvalidValueError(
            "Argument `fc_units` must be two positive integers (fc1, fc2). "
            f"Received: fc_units={fc_units!r}"
        )
    if not 0 <= dropout < 1:
        raise InvalidValueError(
            f"Argument `dropout` must be in [0, 1). Received: dropout={dropout!r}"
        )
