"""Mean response of each activation layer over a dataset (the paper's Fig. 2).

A PReLU passes `a * y` for negative `y`, so its responses have a smaller
mean than a ReLU's, which are all >= 0; the paper shows this per layer of
the 14-layer model, PReLU below ReLU throughout.
"""

import dataclasses

import keras
import numpy as np

from keras_prelu.analysis.model_layers import nested_layers
from keras_prelu.errors import InvalidValueError
from keras_prelu.layers.prelu import PReLU

__all__ = ["ResponseRow", "activation_layers", "mean_responses"]

_ACTIVATION_LAYERS = (
    PReLU,
    keras.layers.PReLU,
    keras.layers.LeakyReLU,
    keras.layers.ReLU,
    keras.layers.ELU,
)


@dataclasses.dataclass(frozen=True)
class ResponseRow:
    """One activation layer's responses over a dataset.

    Attributes:
        name: the layer's name.
        mean: the mean of its outputs over every example, position and
            channel.
        second_moment: the mean of their squares, `E[x^2]` of Eqn 10.
        negative_fraction: the fraction of outputs below 0.
    """

    name: str
    mean: float
    second_moment: float
    negative_fraction: float


def activation_layers(model):
    """The rectifier layers of `model` (PReLU, ReLU, Leaky ReLU...), in order."""
    return [layer for layer in nested_layers(model) if isinstance(layer, _ACTIVATION_LAYERS)]


def mean_responses(model, dataset, *, layers=None, max_batches=None):
    """Mean response of each activation layer of `model` over `dataset`.

    Args:
        model: a functional (or sequential) Keras model.
        dataset: an iterable of batches: `(images, labels)` tuples or
            images alone (a `tf.data.Dataset`, a list of arrays...).
        layers: names of the layers to read; defaults to every rectifier
            layer (`activation_layers`).
        max_batches: read at most this many batches.

    Returns:
        A list of `ResponseRow`, in the model's order.

    Raises:
        ValueError: a name of `layers` is not in `model`, or `dataset`
            yields no batch.
    """
    if layers is None:
        chosen = activation_layers(model)
    else:
        known = {layer.name: layer for layer in nested_layers(model)}
        missing = [name for name in layers if name not in known]
        if missing:
            raise InvalidValueError(
                f"`layers` names layers that {model.name!r} does not have: {missing}."
            )
        chosen = [known[name] for name in layers]
    if not chosen:
        raise InvalidValueError(f"`model` {model.name!r} has no activation layer to read.")
    probe = keras.Model(model.input, [layer.output for layer in chosen])
    sums = np.zeros((len(chosen), 3))
    count = np.zeros(len(chosen))
    for index, batch in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        outputs = probe(images, training=False)
        if len(chosen) == 1:
            outputs = [outputs]
        for k, output in enumerate(outputs):
            values = np.asarray(keras.ops.convert_to_numpy(output), "float64")
            sums[k] += (values.sum(), np.square(values).sum(), (values < 0).sum())
            count[k] += values.size
    if not count.any():
        raise InvalidValueError("`dataset` yielded no batch.")
    means = sums / count[:, None]
    return [
        ResponseRow(layer.name, float(m[0]), float(m[1]), float(m[2]))
        for layer, m in zip(chosen, means)
    ]
