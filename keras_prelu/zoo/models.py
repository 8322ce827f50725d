"""The zoo's builders (`ModelA(...)`, ...) and their registry (`list_models`, `get_model`).

Like `keras.applications`, a builder is a function returning a model: a
`PReLUNetImageClassifier` with the paper's head, or with `include_top=False` its
`PReLUNetBackbone`.
"""

import os
from pathlib import Path

import keras

from keras_prelu.errors import InvalidValueError
from keras_prelu.errors import first_line
from keras_prelu.paper import DROPOUT_RATE
from keras_prelu.paper import FC_UNITS
from keras_prelu.paper import LEAKY_SLOPE
from keras_prelu.saving import presets
from keras_prelu.zoo.architectures import ARCHITECTURES
from keras_prelu.zoo.blocks import check_unknown_arguments
from keras_prelu.zoo.blocks import checked_num_classes
from keras_prelu.zoo.prelu_net_backbone import PReLUNetBackbone
from keras_prelu.zoo.prelu_net_image_classifier import PReLUNetImageClassifier

__all__ = [
    "ANY_SIZE",
    "VGG19",
    "Model14",
    "Model30",
    "ModelA",
    "ModelB",
    "ModelC",
    "PReLUNet",
    "get_model",
    "list_models",
    "with_input_shape",
]

# The `input_shape` of a model that takes RGB images of any height and width.
ANY_SIZE = (None, None, 3)


def PReLUNet(
    architecture,
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
    """A model of He et al. (2015), built from its row of Table 1 or Table 3.

    Every convolution and the fc1, fc2 layers are followed by the activation;
    dropout follows fc1 and fc2, with independent masks on every replica of a
    `tf.distribute` strategy (`keras_prelu.layers.Dropout`). Layer names are stable
    whatever the activation: `conv{s}_{i}` (or `conv{s}` for a one-layer stage) and
    its activation `act{s}_{i}`, `pool{s}`, then `spp` (or `flatten` for VGG-19),
    `fc1`, `act_fc1`, `drop_fc1`, `fc2`, `act_fc2`, `drop_fc2`, `fc3` (logits)
    and `predictions` (the classifier activation, in float32); `get_layer` finds
    each by name. The pre-SPP feature map is the output of the last `act` layer,
    `model.backbone.output`; `include_top=False` returns the backbone, whose
    output it is (or its pooled vector with `pooling`).

    The named builders of `keras_prelu.zoo` (`ModelA`, ...) are this function
    with the architecture fixed. Like `keras.applications`, a builder refuses
    arguments it does not know (`TypeError`).

    Args:
        architecture: a name of `keras_prelu.zoo.ARCHITECTURES`.
        include_top: whether to add the fc layers: a `PReLUNetImageClassifier`,
            else a `PReLUNetBackbone`.
        input_shape: `(height, width, channels)`, channels last; `(224, 224, 3)`
            by default. `ANY_SIZE`, `(None, None, 3)`, takes images of any size (with SPP,
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
            `initializer` names.
        dropout: dropout rate after fc1 and fc2.
        fc_units: widths of fc1 and fc2, `(4096, 4096)` in the paper.
        width_multiplier: scales every convolution's width (rounded, at least 1).
        pooling: with `include_top=False`: None (the feature map), `"spp"`,
            `"avg"` or `"max"` (a vector).
        weights: None (random initialization), or the path of a `.weights.h5`
            file of this very model, of a `.keras` file or of a preset folder
            (`keras_prelu.save_preset`), whose weights are copied by layer name
            (so that a headless model takes them from a full one). No
            pretrained ImageNet weights are published.
        seed: seed of the initializers, for reproducible models.
        **kwargs: `name` and `trainable`, as for `keras.Model`, and `dtype`:
            the dtype policy of every layer (e.g. `"mixed_bfloat16"`; the
            global policy by default), saved with the model.
    """
    check_unknown_arguments(PReLUNet, kwargs)
    return _build(
        architecture,
        include_top=include_top,
        input_shape=input_shape,
        input_tensor=input_tensor,
        num_classes=num_classes,
        classes=classes,
        classifier_activation=classifier_activation,
        activation=activation,
        leaky_slope=leaky_slope,
        initializer=initializer,
        fc_initializer=fc_initializer,
        dropout=dropout,
        fc_units=fc_units,
        width_multiplier=width_multiplier,
        pooling=pooling,
        weights=weights,
        seed=seed,
        **kwargs,
    )


def _build(architecture, *, include_top, pooling, weights, num_classes, classes, **kwargs):
    if architecture not in ARCHITECTURES:
        raise InvalidValueError(
            f"Argument `architecture` must be one of {sorted(ARCHITECTURES)}. "
            f"Received: architecture={architecture!r}"
        )
    arch = ARCHITECTURES[architecture]
    num_classes = checked_num_classes(num_classes, classes)
    if include_top and pooling is not None:
        raise InvalidValueError(
            "Argument `pooling` applies to include_top=False (a model with its top pools "
            f"with {'SPP' if arch.spp_levels else 'flattening'}). Received: pooling={pooling!r}"
        )
    weights_path = _weights_path(weights)
    head = {
        name: kwargs.pop(name)
        for name in ("classifier_activation", "fc_initializer", "dropout", "fc_units")
    }
    name = kwargs.pop("name", None)
    trainable = kwargs.pop("trainable", True)
    if include_top:
        backbone = PReLUNetBackbone(architecture, **kwargs)
        model = PReLUNetImageClassifier(
            backbone,
            num_classes,
            seed=kwargs.get("seed"),
            name=name or arch.name,
            compile=False,
            **head,
        )
    else:
        model = PReLUNetBackbone(architecture, pooling=pooling, name=name or arch.name, **kwargs)
    model.trainable = trainable
    if weights_path is not None:
        _load_weights(model, weights_path)
    return model


def _named(architecture, summary):
    """The builder of `architecture`: `PReLUNet` with it fixed."""

    def builder(*, include_top=True, **kwargs):
        check_unknown_arguments(PReLUNet, kwargs)
        given = kwargs.pop("architecture", architecture)
        if given != architecture:
            raise InvalidValueError(
                f"Argument `architecture` of {builder.__name__} is {architecture!r}; use "
                f"keras_prelu.zoo.PReLUNet for others. Received: architecture={given!r}"
            )
        return PReLUNet(architecture, include_top=include_top, **kwargs)

    builder.__doc__ = f"{summary}\n\n    Takes `PReLUNet`'s keyword arguments.\n"
    builder.architecture = architecture
    return builder


Model14 = _named(
    "model_14",
    "The 14-layer model of Table 1 (11 conv + 3 fc, SPP {6, 3, 2, 1}).\n\n    The model of "
    "the paper's activation study (Table 2): ReLU 33.82 / 13.34, PReLU\n    channel-wise "
    "32.64 / 12.75 top-1 / top-5 error (10-view).",
)
Model30 = _named(
    "model_30",
    "The 30-layer model of Sec. 2.2 (Fig. 3): Table 1 plus 16 conv 2x2, 256.\n\n    Converges "
    "with He initialization, stalls with Xavier's.",
)
VGG19 = _named("vgg19", "VGG-19, the baseline of Table 3 (16 conv + 3 fc, pool and flatten).")
ModelA = _named(
    "model_a",
    "Model A of Table 3 (19 weight layers, SPP {7, 3, 2, 1}).\n\n    PReLU: 25.59 / 8.23 "
    "top-1 / top-5 error (10-view), 22.97 / 6.28 (dense\n    multi-scale).",
)
ModelB = _named(
    "model_b",
    "Model B of Table 3 (22 weight layers, SPP {7, 3, 2, 1}).\n\n    PReLU: 25.53 / 8.13 "
    "top-1 / top-5 error (10-view), 22.85 / 6.27 (dense\n    multi-scale).",
)
ModelC = _named(
    "model_c",
    "Model C of Table 3 (22 weight layers, wider, SPP {7, 3, 2, 1}).\n\n    PReLU: 24.27 / "
    "7.38 top-1 / top-5 error (10-view), 21.59 / 5.71 (dense\n    multi-scale).",
)
for _builder, _name in (
    (Model14, "Model14"),
    (Model30, "Model30"),
    (VGG19, "VGG19"),
    (ModelA, "ModelA"),
    (ModelB, "ModelB"),
    (ModelC, "ModelC"),
):
    _builder.__name__ = _builder.__qualname__ = _name

_MODELS = {
    builder.architecture: builder for builder in (Model14, Model30, VGG19, ModelA, ModelB, ModelC)
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


def with_input_shape(model, input_shape):
    """`model` if it takes inputs of `input_shape`, else a copy of it with its weights that does.

    Its backbone is re-created from its config with the builders' `input_shape`
    (`ANY_SIZE` for images of any size, which SPP allows); the weights do not
    depend on the size.

    ```python
    import keras
    from keras_prelu.zoo import ANY_SIZE, Model14, with_input_shape

    model = Model14(input_shape=(32, 32, 3), fc_units=(16, 16), num_classes=10)
    resized = with_input_shape(model, ANY_SIZE)
    scores = resized(keras.ops.zeros((1, 48, 40, 3)))  # (1, 10), the same weights
    ```

    Args:
        model: a `PReLUNetImageClassifier` or `PReLUNetBackbone`.
        input_shape: `(height, width, channels)`, as for the builders.
    """
    input_shape = tuple(input_shape)
    inputs = getattr(model, "inputs", None)  # None for a model never built
    if inputs and tuple(inputs[0].shape[1:]) == input_shape:
        return model
    if not isinstance(model, (PReLUNetImageClassifier, PReLUNetBackbone)):
        raise InvalidValueError(
            "Argument `model` must be a zoo model (a PReLUNetImageClassifier or a "
            "PReLUNetBackbone), which is re-created for another input size; build other "
            f"models for the size they need. Received: {type(model).__name__} {model.name!r}"
        )
    config = model.get_config()
    if isinstance(model, PReLUNetImageClassifier):
        backbone = config["backbone"]
        config["backbone"] = dict(
            backbone, config=dict(backbone["config"], input_shape=input_shape)
        )
    else:
        config["input_shape"] = input_shape
    resized = type(model).from_config(config)
    resized.set_weights(model.get_weights())
    return resized


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
        "`keras_hub.models.ImageClassifier.from_preset(folder)` or `weights=folder`."
    )


def _load_weights(model, path):
    """Loads `path` into `model`: a `.weights.h5` file as is, a `.keras` file or a
    preset folder by layer name."""
    if path.is_dir() or path.suffix == ".keras":
        source = presets.from_preset(path) if path.is_dir() else keras.saving.load_model(path)
        presets.copy_weights_by_name(source, model)
        return
    try:
        model.load_weights(path)
    except ValueError as error:
        raise InvalidValueError(
            f"Argument `weights`: {path} does not fit this model ({first_line(error)}). A "
            ".keras file or a preset folder loads into another head or input size by layer name."
        ) from None
