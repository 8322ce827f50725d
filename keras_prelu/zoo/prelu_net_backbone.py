"""`PReLUNetBackbone`: the convolutional stages of a model of the paper."""

import itertools

import keras
from keras_hub.models import Backbone

from keras_prelu.errors import InvalidValueError
from keras_prelu.layers.spatial_pyramid_pooling import SpatialPyramidPooling
from keras_prelu.paper import LEAKY_SLOPE
from keras_prelu.zoo.architectures import ACTIVATIONS
from keras_prelu.zoo.architectures import ARCHITECTURES
from keras_prelu.zoo.architectures import conv_name
from keras_prelu.zoo.blocks import INITIALIZERS
from keras_prelu.zoo.blocks import POOLINGS
from keras_prelu.zoo.blocks import activation_layer
from keras_prelu.zoo.blocks import choice
from keras_prelu.zoo.blocks import image_input
from keras_prelu.zoo.blocks import initial_slope
from keras_prelu.zoo.blocks import kernel_initializer

__all__ = ["PReLUNetBackbone"]


@keras.saving.register_keras_serializable(package="keras_prelu")
class PReLUNetBackbone(Backbone):
    """The convolutional stages of a model of He et al. (2015), Table 1 or Table 3.

    Every convolution is followed by the activation; layer names are stable
    whatever the activation: `conv{s}_{i}` (or `conv{s}` for a one-layer stage),
    its activation `act{s}_{i}`, and `pool{s}`. The output is the pre-pyramid
    feature map (the last `act` layer's output), or its pooled vector with
    `pooling`. `keras_prelu.zoo.ModelA(include_top=False, ...)` and the other
    builders return this class.

    Args:
        architecture: a name of `keras_prelu.zoo.ARCHITECTURES`.
        input_shape: `(height, width, channels)`, channels last; `(224, 224, 3)`
            by default. `(None, None, 3)` takes images of any size of at least
            the architecture's minimum (`ARCHITECTURES[name].min_input_size`).
        input_tensor: a tensor made by `keras.Input(...)` to build the model on.
        activation: `"prelu"` (channel-wise), `"prelu_shared"`, `"relu"` or
            `"leaky_relu"`.
        leaky_slope: the fixed slope of `"leaky_relu"`; 0.25 as Table 2.
        initializer: convolution kernels: `"he"` (Eqn. 16, fan-out), `"he_fan_in"`
            (Eqn. 12) or `"xavier"`; the He rules include the activation's
            initial slope `a`: `std = sqrt(2 / ((1 + a^2) n))`.
        width_multiplier: scales every convolution's width (rounded, at least 1).
        pooling: None (the feature map), `"spp"`, `"avg"` or `"max"` (a vector).
        seed: seed of the initializers (one per layer, counted up from it).
        dtype: the dtype policy of every layer; the global policy by default.

    Example:

    ```python
    import numpy as np
    from keras_prelu.zoo import PReLUNetBackbone

    backbone = PReLUNetBackbone("model_a", input_shape=(None, None, 3))
    images = np.zeros((1, 224, 160, 3), "float32")
    features = backbone(images)  # (1, 14, 10, 512): height and width / 16
    ```
    """

    def __init__(
        self,
        architecture,
        *,
        input_shape=None,
        input_tensor=None,
        activation="prelu",
        leaky_slope=LEAKY_SLOPE,
        initializer="he",
        width_multiplier=1.0,
        pooling=None,
        seed=None,
        dtype=None,
        **kwargs,
    ):
        arch = ARCHITECTURES.get(architecture)
        if arch is None:
            raise InvalidValueError(
                f"Argument `architecture` must be one of {sorted(ARCHITECTURES)}. "
                f"Received: architecture={architecture!r}"
            )
        choice("activation", activation, ACTIVATIONS)
        choice("initializer", initializer, INITIALIZERS)
        choice("pooling", pooling, POOLINGS)
        if not width_multiplier > 0:
            raise InvalidValueError(
                "Argument `width_multiplier` must be positive. "
                f"Received: width_multiplier={width_multiplier!r}"
            )
        input_shape, inputs = image_input(arch, input_shape, input_tensor)
        dtype = keras.dtype_policies.get(dtype or keras.config.dtype_policy())
        slope = initial_slope(activation, leaky_slope)
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
                    kernel_initializer=kernel_initializer(initializer, slope, next(seeds)),
                    name=name,
                    dtype=dtype,
                )(x)
                x = activation_layer(activation, leaky_slope, name.replace("conv", "act"), dtype)(x)
            if stage.pool is not None:
                pool_size, pool_strides = stage.pool
                x = keras.layers.MaxPooling2D(
                    pool_size, pool_strides, name=f"pool{s}", dtype=dtype
                )(x)
        if pooling == "spp":
            x = SpatialPyramidPooling(arch.spp_levels or (7,), name="spp", dtype=dtype)(x)
        elif pooling is not None:
            pool_layer = {
                "avg": keras.layers.GlobalAveragePooling2D,
                "max": keras.layers.GlobalMaxPooling2D,
            }[pooling]
            x = pool_layer(name=f"{pooling}_pool", dtype=dtype)(x)
        kwargs.setdefault("name", f"{arch.name}_backbone")
        super().__init__(inputs=inputs, outputs=x, dtype=dtype, **kwargs)

        # === Config ===
        self.architecture = architecture
        self.image_shape = input_shape
        self.activation = activation
        self.leaky_slope = leaky_slope
        self.initializer = initializer
        self.width_multiplier = width_multiplier
        self.pooling = pooling
        self.seed = seed
        # The initializers' seeds used here; the classifier's head counts on from them.
        self.seeds_used = sum(stage.depth for stage in arch.stages)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "architecture": self.architecture,
                "input_shape": self.image_shape,
                "activation": self.activation,
                "leaky_slope": self.leaky_slope,
                "initializer": self.initializer,
                "width_multiplier": self.width_multiplier,
                "pooling": self.pooling,
                "seed": self.seed,
            }
        )
        return config
