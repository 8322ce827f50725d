"""The model `fit` trains: a zoo name, a `keras.Model`, or a callable that builds one."""

import copy
import re

import keras

from keras_prelu.errors import InvalidValueError
from keras_prelu.zoo import get_model
from keras_prelu.zoo import list_models

__all__ = ["ModelSpec", "outputs_probabilities"]

ZOO, GIVEN, BUILDER = "zoo", "model", "builder"


class ModelSpec:
    """What `fit` was given as `model`, and how it builds the network from it.

    - a name of `keras_prelu.zoo.list_models()`: built by `get_model` with the
      run's keyword arguments (`kind == ZOO`);
    - a `keras.Model` (functional, Sequential, or a subclass registered with
      `keras.saving.register_keras_serializable`): re-created from its Keras
      serialization inside the strategy's scope, with its weights copied
      (`kind == GIVEN`); the model given is left as it is;
    - a callable without arguments that returns a `keras.Model`, called inside
      the strategy's scope (`kind == BUILDER`), which `MirroredStrategy` and
      `keras.distribution` need for models too large to build twice.

    A run is resumed by re-creating its model, so a model that is not from the
    zoo must be re-creatable from its serialization (`architecture`): the same
    serialization that `model.keras` holds.

    Args:
        model: the `model` argument of `fit`.
    """

    def __init__(self, model):
        if isinstance(model, str):
            if model not in list_models():
                raise InvalidValueError(
                    f"Argument `model` must be one of {list_models()}, a keras.Model or a "
                    f"callable that returns one. Received: model={model!r}"
                )
            self.kind, self.name = ZOO, model
        elif isinstance(model, keras.Model):
            self.kind, self.name = GIVEN, model.name
            self.architecture = architecture(model)
        elif callable(model):
            self.kind, self.name = BUILDER, getattr(model, "__name__", type(model).__name__)
        else:
            raise InvalidValueError(
                f"Argument `model` must be one of {list_models()}, a keras.Model or a "
                f"callable that returns one. Received: model={model!r}"
            )
        self.model = model

    @property
    def is_zoo(self):
        return self.kind == ZOO

    def build(self, model_kwargs, seed, *, input_shape, num_classes):
        """The network to train; call it inside the strategy's scope.

        Args:
            model_kwargs: the zoo builder's keyword arguments (zoo models only).
            seed: the initializers' seed (zoo models only; the others draw
                from Keras' global seed, which `fit` sets).
            input_shape: the crops' shape, `(crop, crop, 3)`, which the network
                must take.
            num_classes: the number of scores the network must output.
        """
        if self.kind == ZOO:
            return _build_zoo_model(self.name, {"seed": seed, **model_kwargs})
        if self.kind == GIVEN:
            network = recreate(self.architecture)
            _check_shapes(network, input_shape, num_classes)
            if self.model.built:
                network.set_weights(self.model.get_weights())
            return network
        network = self.model()
        if not isinstance(network, keras.Model):
            raise InvalidValueError(
                "Argument `model` must be a callable that returns a keras.Model. "
                f"Received: a callable that returned {network!r}"
            )
        _check_shapes(network, input_shape, num_classes)
        self.architecture = architecture(network)
        return network

    def outputs_probabilities(self, network, model_kwargs):
        """Whether the network's outputs are softmax probabilities (else logits)."""
        if self.kind == ZOO:
            return model_kwargs.get("classifier_activation", "softmax") is not None
        return outputs_probabilities(network)


def architecture(model):
    """The Keras serialization of `model`, once it is known to re-create it.

    Raises:
        ValueError: `model` cannot be serialized or re-created from its
            serialization (a subclass without `get_config`, or not registered
            with `keras.saving.register_keras_serializable`).
    """
    try:
        serialized = keras.saving.serialize_keras_object(model)
        recreate(serialized)
    except Exception as error:  # Keras raises many kinds for one cause.
        reason = " ".join(str(error).split())[:300]
        raise InvalidValueError(
            f"Argument `model` ({type(model).__name__} {model.name!r}) cannot be re-created "
            "from its Keras serialization, as resuming its run and loading its "
            "model.keras need: build it with the functional or Sequential API, or give "
            "its class a `get_config` and register it with "
            f"`keras.saving.register_keras_serializable`. ({type(error).__name__}: {reason})"
        ) from None
    return serialized


def recreate(architecture):
    """The model of the serialization `architecture` (which Keras' reading would consume)."""
    return keras.saving.deserialize_keras_object(copy.deepcopy(architecture))


def _check_shapes(network, input_shape, num_classes):
    """Raises unless `network` maps a batch of `input_shape` crops to `num_classes` scores."""
    shape = (None, *input_shape)
    try:
        if not network.built:
            network.build(shape)
        output_shape = tuple(network.compute_output_spec(keras.KerasTensor(shape)).shape)
    except Exception as error:  # Keras raises many kinds for one cause.
        reason = " ".join(str(error).split())[:300]
        raise InvalidValueError(
            f"Argument `model` must take the {input_shape[0]}x{input_shape[1]} RGB crops of "
            f"the augmentation, inputs of shape {shape}. Received: a model that does not "
            f"({type(error).__name__}: {reason})"
        ) from None
    if output_shape != (None, num_classes):
        raise InvalidValueError(
            f"Argument `model` must output a score for each of the data's {num_classes} "
            f"classes, shape (batch, {num_classes}). Received: a model of output shape "
            f"{output_shape}"
        )


def _build_zoo_model(name, kwargs):
    try:
        return get_model(name, **kwargs)
    except ValueError as error:
        # Keras' layer errors are several lines, with ANSI codes: the reason is
        # before the arguments received.
        reason = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split("Arguments received")[0]
        height, width = kwargs["input_shape"][:2]
        raise InvalidValueError(
            f"Argument `model_kwargs` (or the crop size): {name} cannot be built for "
            f"{height}x{width} inputs: {' '.join(reason.split())}"
        ) from None


def outputs_probabilities(model):
    """Whether `model` ends in a softmax (a `Softmax` layer or a layer with the
    softmax activation, as the zoo's `predictions`), else it outputs logits."""
    last = model.layers[-1]
    return isinstance(last, keras.layers.Softmax) or (
        getattr(last, "activation", None) is keras.activations.softmax
    )
