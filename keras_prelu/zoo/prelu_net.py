import itertools
import os

import keras

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


def _choice(name, value, accepted):
    if value not in accepted:
        raise ValueError(f"`{name}` must be one of {accepted}, got {name}={value!r}.")
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


def _activation_layer(activation, leaky_slope, name):
    if activation == "relu":
        return keras.layers.ReLU(name=name)
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(leaky_slope, name=name)
    mode = CHANNEL_SHARED if activation == "prelu_shared" else CHANNEL_WISE
    return PReLU(mode=mode, name=name)


def _validate_top(arch, input_shape, num_classes, fc_units, dropout):
    """Checks the arguments that shape the fc layers."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"`num_classes` must be a positive integer, got num_classes={num_classes!r}."
        )
    if arch.spp_levels is None and None in input_shape:
        raise ValueError(
            f"{arch.name} flattens its last feature map, so with "
            "include_top=True `input_shape` must be fully known, "
            f"got input_shape={input_shape!r}."
        )
    if len(fc_units) != 2 or not all(isinstance(units, int) and units > 0 for units in fc_units):
        raise ValueError(
            f"`fc_units` must be two positive integers (fc1, fc2), got fc_units={fc_units!r}."
        )
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")


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
    `tf.distribute` strategy (`keras_prelu.layers.Dropout`). Layer names are stable whatever the
    activation: `conv{s}_{i}` (or `conv{s}` for a one-layer stage) and its
    activation `act{s}_{i}`, `pool{s}`, then `spp` (or `flatten` for VGG-19),
    `fc1`, `act_fc1`, `drop_fc1`, `fc2`, `act_fc2`, `drop_fc2`, `fc3` (logits)
    and `predictions` (the classifier activation, in float32). The pre-SPP
    feature map is the output of the last `act` layer; `include_top=False`
    returns it, or its pooled vector with `pooling`.

    The named models of `keras_prelu.zoo` (`ModelA`, ...) are this class with
    the architecture fixed.

    Args:
        architecture: a name of `keras_prelu.zoo.ARCHITECTURES`; fixed by the
            named subclasses.
        include_top: whether to add the fc layers.
        input_shape: `(height, width, channels)`; `(None, None, 3)` takes
            images of any size (with SPP, also with the top). Channels last.
        num_classes: units of fc3.
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
        weights: path of a `.weights.h5` file to load, or None.
        seed: seed of the initializers, for reproducible models.
        **kwargs: `keras.Model` arguments such as `name`.
    """

    default_architecture = None

    def __init__(
        self,
        architecture=None,
        *,
        include_top=True,
        input_shape=(224, 224, 3),
        num_classes=1000,
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
        default = self.default_architecture
        if architecture is None:
            architecture = default
        elif default is not None and architecture != default:
            raise ValueError(
                f"{type(self).__name__} is architecture {default!r}, got "
                f"architecture={architecture!r}; use PReLUNet for others."
            )
        arch = ARCHITECTURES.get(architecture)
        if arch is None:
            raise ValueError(
                f"`architecture` must be one of {sorted(ARCHITECTURES)}, "
                f"got architecture={architecture!r}."
            )
        _choice("activation", activation, ACTIVATIONS)
        _choice("initializer", initializer, INITIALIZERS)
        _choice("fc_initializer", fc_initializer, FC_INITIALIZERS)
        _choice("pooling", pooling, POOLINGS)
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "`input_shape` must be (height, width, channels) with known "
                f"channels, got input_shape={input_shape!r}."
            )
        if not width_multiplier > 0:
            raise ValueError(
                f"`width_multiplier` must be positive, got width_multiplier={width_multiplier!r}."
            )
        fc_units = tuple(fc_units)
        if include_top:
            _validate_top(arch, input_shape, num_classes, fc_units, dropout)
        if weights is not None and not os.path.exists(weights):
            raise ValueError(
                f"`weights` must be the path of a weights file or None, got "
                f"weights={weights!r}, which does not exist."
            )
        slope = _initial_slope(activation, leaky_slope)
        # One seed per layer, counted up from `seed`.
        seeds = itertools.count(seed) if seed is not None else itertools.repeat(None)

        # === Functional Model ===
        inputs = keras.Input(shape=input_shape, name="image")
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
                )(x)
                x = _activation_layer(activation, leaky_slope, name.replace("conv", "act"))(x)
            if stage.pool is not None:
                pool_size, pool_strides = stage.pool
                x = keras.layers.MaxPooling2D(pool_size, pool_strides, name=f"pool{s}")(x)
        if include_top:
            if arch.spp_levels is None:
                x = keras.layers.Flatten(name="flatten")(x)
            else:
                x = SpatialPyramidPooling(arch.spp_levels, name="spp")(x)
            units = fc_units + (num_classes,)
            for k, (width, stddev) in enumerate(zip(units, FC_STDDEVS), start=1):
                x = keras.layers.Dense(
                    width,
                    kernel_initializer=_kernel_initializer(
                        fc_initializer, slope, next(seeds), stddev
                    ),
                    name=f"fc{k}",
                )(x)
                if k < len(units):
                    x = _activation_layer(activation, leaky_slope, f"act_fc{k}")(x)
                    x = Dropout(dropout, name=f"drop_fc{k}")(x)
            outputs = keras.layers.Activation(
                classifier_activation, dtype="float32", name="predictions"
            )(x)
        elif pooling == "spp":
            levels = arch.spp_levels or (7,)
            outputs = SpatialPyramidPooling(levels, name="spp")(x)
        elif pooling is not None:
            pool_layer = {
                "avg": keras.layers.GlobalAveragePooling2D,
                "max": keras.layers.GlobalMaxPooling2D,
            }[pooling]
            outputs = pool_layer(name=f"{pooling}_pool")(x)
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
        if weights is not None:
            self.load_weights(weights)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
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
