import difflib
import itertools
import os
from pathlib import Path

import keras

from keras_prelu.errors import InvalidTypeError
from keras_prelu.errors import InvalidValueError
from keras_prelu.errors import first_line
from keras_prelu.initializers import PReLUHeNormal
from keras_prelu.layers.dropout import Dropout
from keras_prelu.layers.prelu import CHANNEL_SHARED
from keras_prelu.layers.prelu import CHANNEL_WISE
from keras_prelu.layers.prelu import PReLU
from keras_prelu.layers.spatial_pyramid_pooling import SpatialPyramidPooling
from keras_prelu.paper import DROPOUT_RATE
from keras_prelu.paper import FC_STDDEVS
from keras_prelu.paper import FC_UNITS
from keras_prelu.paper import INITIAL_SLOPE
from keras_prelu.paper import LEAKY_SLOPE
from keras_prelu.zoo.architectures import ARCHITECTURES

ACTIVATIONS = ("prelu", "prelu_shared", "relu", "leaky_relu")
INITIALIZERS = ("he", "he_fan_in", "xavier")
FC_INITIALIZERS = ("paper",) + INITIALIZERS
POOLINGS = (None, "spp", "avg", "max")
DEFAULT_INPUT_SHAPE = (224, 224, 3)
DEFAULT_NUM_CLASSES = 1000
# The `keras.Model` arguments that the builders take besides their own.
MODEL_ARGUMENTS = ("name", "trainable", "dtype")


def _choice(name, value, accepted):
    if value not in accepted:
        raise InvalidValueError(
            f"Argument `{name}` must be one of {accepted}. Received: {name}={value!r}"
        )
    return value


def _initial_slope(activation, leaky_slope):
    """The activation's negative slope at initialization (He's `a`)."""
    return {"relu": 0.0, "leaky_relu": leaky_slope}.get(activation, INITIAL_SLOPE)


def _kernel_initializer(rule, slope, seed, stddev=None):
    """An initializer of `INITIALIZERS` or, with `stddev`, the paper's fc one."""
    if rule == "paper":
        return keras.initializers.RandomNormal(stddev=stddev, seed=seed)
    if rule == "xavier":
        return PReLUHeNormal(slope=1.0, mode="fan_in", seed=seed)
    mode = "fan_in" if rule == "he_fan_in" else "fan_out"
    return PReLUHeNormal(slope=slope, mode=mode, seed=seed)


def _activation_layer(activation, leaky_slope, name, dtype):
    if activation == "relu":
        return keras.layers.ReLU(name=name, dtype=dtype)
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(leaky_slope, name=name, dtype=dtype)
    mode = CHANNEL_SHARED if activation == "prelu_shared" else CHANNEL_WISE
    return PReLU(mode=mode, name=name, dtype=dtype)


def _check_unknown_arguments(cls, kwargs):
    """Raises `TypeError` for keyword arguments the builder does not take, as Python would."""
    unknown = sorted(set(kwargs) - set(MODEL_ARGUMENTS))
    if not unknown:
        return
    accepted = [
        name for name in cls.__init__.__code__.co_varnames[1 : cls.__init__.__code__.co_argcount]
    ]
    accepted += list(cls.__init__.__kwdefaults__ or {}) + list(MODEL_ARGUMENTS)
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, accepted, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise InvalidTypeError(
        f"{cls.__name__}() got unexpected keyword arguments: {', '.join(hints)}. "
        f"It takes: {', '.join(sorted(set(accepted)))}."
    )


def _num_classes(num_classes, classes):
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


def _input(arch, input_shape, input_tensor):
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


def _check_top(arch, input_shape, fc_units, dropout, pooling):
    """Checks the arguments that shape the fc layers."""
    if pooling is not None:
        raise InvalidValueError(
            "Argument `pooling` applies to include_top=False (a model with its top pools "
            f"with {'SPP' if arch.spp_levels else 'flattening'}). Received: pooling={pooling!r}"
        )
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


def conv_name(stage_index, stage, layer_index):
    """`conv{s}` for a one-layer stage, else `conv{s}_{i}` (1-based)."""
    if stage.depth == 1:
        return f"conv{stage_index}"
    return f"conv{stage_index}_{layer_index}"


@keras.saving.register_keras_serializable(package="keras_prelu")
class PReLUNet(keras.Model):
    """A model of He et al. (2015), built from its row of Table 1 or Table 3.

    Every convolution and the fc1, fc2 layers are followed by the activation;
    dropout follows fc1 and fc2, with independent masks on every replica of a
    `tf.distribute` strategy (`keras_prelu.layers.Dropout`). Layer names are stable
    whatever the activation: `conv{s}_{i}` (or `conv{s}` for a one-layer stage) and
    its activation `act{s}_{i}`, `pool{s}`, then `spp` (or `flatten` for VGG-19),
    `fc1`, `act_fc1`, `drop_fc1`, `fc2`, `act_fc2`, `drop_fc2`, `fc3` (logits)
    and `predictions` (the classifier activation, in float32). The pre-SPP
    feature map is the output of the last `act` layer; `include_top=False`
    returns it, or its pooled vector with `pooling`.

    The named models of `keras_prelu.zoo` (`ModelA`, ...) are this class with
    the architecture fixed. Like `keras.applications`, a builder refuses
    arguments it does not know (`TypeError`).

    Args:
        architecture: a name of `keras_prelu.zoo.ARCHITECTURES`; fixed by the
            named subclasses.
        include_top: whether to add the fc layers.
        input_shape: `(height, width, channels)`, channels last; `(224, 224, 3)`
            by default. `(None, None, 3)` takes images of any size (with SPP,
            also with the top) of at least the architecture's minimum
            (`ARCHITECTURES[name].min_input_size`: 17 for the 14-layer model).
        input_tensor: a tensor made by `keras.Input(...)` to build the model
            on, as in `keras.applications`; its shape is the input shape.
        num_classes: units of fc3; 1000 by default. `classes`, keras.applications'
            spelling, is accepted too.
        classifier_activation: activation of the predictions, `"softmax"` by
            default, None for logits.
        activation: `"prelu"` (channel-wise), `"prelu_shared"`, `"relu"` or
            `"leaky_relu"`.
        leaky_slope: the fixed slope of `"leaky_relu"`; 0.25 as Table 2.
        initializer: convolution kernels: `"he"` (Eqn. 16, fan-out, the
            paper's choice), `"he_fan_in"` (Eqn. 12) or `"xavier"` (`n *
            Var[w] = 1`, fan-in). The He rules include the activation's
            initial slope `a` (0.25 for PReLU, 0 for ReLU): `std = sqrt(2 /
            ((1 + a^2) n))`. All Gaussians are plain, not truncated.
        fc_initializer: fc kernels: `"paper"` (Gaussians of std 0.01, 0.01,
            0.001 for fc1, fc2, fc3, Sec. 2.2; default) or one of the
            `initializer` names. He's rule on fc3 gives large initial logits
            when there are few classes.
        dropout: dropout rate after fc1 and fc2.
        fc_units: widths of fc1 and fc2, `(4096, 4096)` in the paper; smaller
            widths fit small datasets.
        width_multiplier: scales every convolution's width (rounded, at least
            1): a model's depth pattern at a fraction of its cost.
        pooling: with `include_top=False`: None (the feature map), `"spp"`,
            `"avg"` or `"max"` (a vector).
        weights: None (random initialization), or the path of a `.weights.h5`
            file of this very model, of a `.keras` file or of a preset folder
            (`keras_prelu.save_preset`), whose weights are copied by layer name
            (so that a headless model takes them from a full one). No
            pretrained ImageNet weights are published.
        seed: seed of the initializers, for reproducible models.
        name, trainable: as for `keras.Model`.
        dtype: the dtype policy of every layer (e.g. `"mixed_bfloat16"`); the
            global policy by default. It is saved with the model.
    """

    default_architecture = None

    def __init__(
        self,
        architecture=None,
        *,
        include_top=True,
        input_shape=None,
        input_tensor=None,
        num_classes=None,
        classes=None,
        classifier_activation="softmax",
        activation="prelu",
        leaky_slope=LEAKY_SLOPE,
        initializer="he",
        fc_initializer="paper",
        dropout=DROPOUT_RATE,
        fc_units=FC_UNITS,
        width_multiplier=1.0,
        pooling=None,
        weights=None,
        seed=None,
        **kwargs,
    ):
        _check_unknown_arguments(type(self), kwargs)
        default = self.default_architecture
        if architecture is None:
            architecture = default
        elif default is not None and architecture != default:
            raise InvalidValueError(
                f"Argument `architecture` of {type(self).__name__} is {default!r}; use "
                f"PReLUNet for others. Received: architecture={architecture!r}"
            )
        arch = ARCHITECTURES.get(architecture)
        if arch is None:
            raise InvalidValueError(
                f"Argument `architecture` must be one of {sorted(ARCHITECTURES)}. "
                f"Received: architecture={architecture!r}"
            )
        _choice("activation", activation, ACTIVATIONS)
        _choice("initializer", initializer, INITIALIZERS)
        _choice("fc_initializer", fc_initializer, FC_INITIALIZERS)
        _choice("pooling", pooling, POOLINGS)
        num_classes = _num_classes(num_classes, classes)
        input_shape, inputs = _input(arch, input_shape, input_tensor)
        if not width_multiplier > 0:
            raise InvalidValueError(
                "Argument `width_multiplier` must be positive. "
                f"Received: width_multiplier={width_multiplier!r}"
            )
        fc_units = tuple(fc_units)
        if include_top:
            _check_top(arch, input_shape, fc_units, dropout, pooling)
        weights_path = _weights_path(weights)
        dtype = keras.dtype_policies.get(kwargs.pop("dtype", None) or keras.config.dtype_policy())
        slope = _initial_slope(activation, leaky_slope)
        # One seed per layer, counted up from `seed`.
        seeds = itertools.count(seed) if seed is not None else itertools.repeat(None)

        # === Functional Model ===
        x = inputs
        for s, stage in enumerate(arch.stages, start=1):
            for i in range(1, stage.depth + 1):
                name = conv_name(s, stage, i)
                first = i == 1
                x = keras.layers.Conv2D(
                    max(1, round(stage.filters * width_multiplier)),
                    stage.kernel_size,
                    strides=stage.strides if first else 1,
                    padding=stage.padding if first else "same",
                    kernel_initializer=_kernel_initializer(initializer, slope, next(seeds)),
                    name=name,
                    dtype=dtype,
                )(x)
                x = _activation_layer(activation, leaky_slope, name.replace("conv", "act"), dtype)(
                    x
                )
            if stage.pool is not None:
                pool_size, pool_strides = stage.pool
                x = keras.layers.MaxPooling2D(
                    pool_size, pool_strides, name=f"pool{s}", dtype=dtype
                )(x)
        if include_top:
            if arch.spp_levels is None:
                x = keras.layers.Flatten(name="flatten", dtype=dtype)(x)
            else:
                x = SpatialPyramidPooling(arch.spp_levels, name="spp", dtype=dtype)(x)
            units = fc_units + (num_classes,)
            for k, (width, stddev) in enumerate(zip(units, FC_STDDEVS), start=1):
                x = keras.layers.Dense(
                    width,
                    kernel_initializer=_kernel_initializer(
                        fc_initializer, slope, next(seeds), stddev
                    ),
                    name=f"fc{k}",
                    dtype=dtype,
                )(x)
                if k < len(units):
                    x = _activation_layer(activation, leaky_slope, f"act_fc{k}", dtype)(x)
                    x = Dropout(dropout, name=f"drop_fc{k}", dtype=dtype)(x)
            outputs = keras.layers.Activation(
                classifier_activation, dtype="float32", name="predictions"
            )(x)
        elif pooling == "spp":
            levels = arch.spp_levels or (7,)
            outputs = SpatialPyramidPooling(levels, name="spp", dtype=dtype)(x)
        elif pooling is not None:
            pool_layer = {
                "avg": keras.layers.GlobalAveragePooling2D,
                "max": keras.layers.GlobalMaxPooling2D,
            }[pooling]
            outputs = pool_layer(name=f"{pooling}_pool", dtype=dtype)(x)
        else:
            outputs = x
        kwargs.setdefault("name", arch.name)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.architecture = architecture
        self.include_top = include_top
        self.image_shape = input_shape
        self.num_classes = num_classes
        self.classifier_activation = classifier_activation
        self.activation = activation
        self.leaky_slope = leaky_slope
        self.initializer = initializer
        self.fc_initializer = fc_initializer
        self.dropout = dropout
        self.fc_units = fc_units
        self.width_multiplier = width_multiplier
        self.pooling = pooling
        self.seed = seed
        # The policy the layers were built with (a functional model keeps none itself).
        self.layers_dtype_policy = dtype
        if weights_path is not None:
            _load_weights(self, weights_path)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.layers_dtype_policy),
            "architecture": self.architecture,
            "include_top": self.include_top,
            "input_shape": self.image_shape,
            "num_classes": self.num_classes,
            "classifier_activation": self.classifier_activation,
            "activation": self.activation,
            "leaky_slope": self.leaky_slope,
            "initializer": self.initializer,
            "fc_initializer": self.fc_initializer,
            "dropout": self.dropout,
            "fc_units": self.fc_units,
            "width_multiplier": self.width_multiplier,
            "pooling": self.pooling,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def from_preset(cls, preset, *, load_weights=True, **kwargs):
        """The model saved in the preset folder `preset` (`keras_prelu.save_preset`).

        `kwargs` replace arguments of the saved model, e.g. `input_shape=(None,
        None, 3)` or `dtype="mixed_bfloat16"`; the weights are copied into the
        model they build. Called on a named class (`ModelA.from_preset`), the
        preset must hold that class.
        """
        from keras_prelu.presets import from_preset

        return from_preset(preset, load_weights=load_weights, expected_class=cls, **kwargs)


def _weights_path(weights):
    """`weights` as a path to load, or None; other strings get an error that says what exists."""
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise InvalidValueError(
            "Argument `weights` must be None or the path of a .weights.h5 file, a .keras file "
            f"or a preset folder. Received: weights={weights!r}"
        )
    path = Path(weights)
    if path.exists():
        return path
    raise InvalidValueError(
        "Argument `weights` must be None or the path of a .weights.h5 file, a .keras file or a "
        f"preset folder, and {os.fspath(weights)!r} does not exist. No pretrained ImageNet "
        "weights are published for keras-prelu's models: train one (`keras-prelu train`), "
        "share it with `keras_prelu.save_preset(run_dir, folder)`, and load it with "
        "`ModelA.from_preset(folder)` or `weights=folder`."
    )


def _load_weights(model, path):
    """Loads `path` into `model`: a `.weights.h5` file as is, a `.keras` file or a
    preset folder by layer name."""
    from keras_prelu import presets

    if path.is_dir() or path.suffix == ".keras":
        source = presets.from_preset(path) if path.is_dir() else keras.saving.load_model(path)
        presets.copy_weights_by_name(source, model)
        return
    try:
        model.load_weights(path)
    except ValueError as error:
        raise InvalidValueError(
            f"Argument `weights`: {path} does not fit this model ({first_line(error)}). A .keras "
            "file or a "
            "preset folder loads into another head or input size by layer name."
        ) from None
