"""The zoo's named models and their registry (`list_models`, `get_model`)."""

import keras

from keras_prelu.errors import InvalidValueError
from keras_prelu.zoo.prelu_net import PReLUNet


def _register(cls):
    return keras.saving.register_keras_serializable(package="keras_prelu")(cls)


@_register
class Model14(PReLUNet):
    """The 14-layer model of Table 1 (11 conv + 3 fc, SPP {6, 3, 2, 1}).

    The model of the paper's activation study (Table 2): ReLU 33.82 / 13.34,
    PReLU channel-wise 32.64 / 12.75 top-1 / top-5 error (10-view).
    Takes `PReLUNet`'s keyword arguments.
    """

    default_architecture = "model_14"


@_register
class Model30(PReLUNet):
    """The 30-layer model of Sec. 2.2 (Fig. 3): Table 1 plus 16 conv 2x2, 256.

    Converges with He initialization, stalls with Xavier's.
    Takes `PReLUNet`'s keyword arguments.
    """

    default_architecture = "model_30"


@_register
class VGG19(PReLUNet):
    """VGG-19, the baseline of Table 3 (16 conv + 3 fc, pool and flatten).

    Takes `PReLUNet`'s keyword arguments.
    """

    default_architecture = "vgg19"


@_register
class ModelA(PReLUNet):
    """Model A of Table 3 (19 weight layers, SPP {7, 3, 2, 1}).

    PReLU: 25.59 / 8.23 top-1 / top-5 error (10-view), 22.97 / 6.28 (dense
    multi-scale). Takes `PReLUNet`'s keyword arguments.
    """

    default_architecture = "model_a"


@_register
class ModelB(PReLUNet):
    """Model B of Table 3 (22 weight layers, SPP {7, 3, 2, 1}).

    PReLU: 25.53 / 8.13 top-1 / top-5 error (10-view), 22.85 / 6.27 (dense
    multi-scale). Takes `PReLUNet`'s keyword arguments.
    """

    default_architecture = "model_b"


@_register
class ModelC(PReLUNet):
    """Model C of Table 3 (22 weight layers, wider, SPP {7, 3, 2, 1}).

    PReLU: 24.27 / 7.38 top-1 / top-5 error (10-view), 21.59 / 5.71 (dense
    multi-scale). Takes `PReLUNet`'s keyword arguments.
    """

    default_architecture = "model_c"


_MODELS = {
    cls.default_architecture: cls for cls in (Model14, Model30, VGG19, ModelA, ModelB, ModelC)
}


def list_models():
    """Names of the zoo's models, sorted."""
    return sorted(_MODELS)


def get_model(name, **kwargs):
    """Builds the zoo model `name` with `PReLUNet`'s keyword arguments."""
    if name not in _MODELS:
        raise InvalidValueError(
            f"Argument `name` must be one of {list_models()}. Received: name={name!r}"
        )
    return _MODELS[name](**kwargs)
