"""Gradients of a loss with respect to chosen variables, on every Keras backend.

The paper explains Xavier's stall of its 30-layer model by "the gradients are
diminishing" (Sec. 2.2): `value_and_gradients` measures them on TensorFlow,
JAX and PyTorch, and `GradientNorms` logs their norms while a model trains.
"""

import csv
import dataclasses
import os

import keras
import numpy as np

from keras_prelu.errors import InvalidValueError

__all__ = ["GradientNorms", "GradientRecord", "gradients", "value_and_gradients"]


def value_and_gradients(loss_fn, variables):
    """The loss and `d loss / d v` for every variable `v` of `variables`.

    Args:
        loss_fn: a function without arguments that returns a scalar tensor
            computed from the variables' current values, e.g. a model's loss on
            a fixed batch.
        variables: `keras.Variable`s (e.g. `layer.kernel`).

    Returns:
        `(loss, gradients)`: the loss as a float, and a list of float32 NumPy
        arrays, one per variable, of its shape (zeros for a variable the loss
        does not depend on).

    On TensorFlow the loss is recorded by a `tf.GradientTape`; on JAX it is
    differentiated by `jax.value_and_grad`, the variables' values swapped in
    through a `keras.StatelessScope`; on PyTorch by `torch.autograd.grad`.
    """
    variables = list(variables)
    if not variables or not all(isinstance(variable, keras.Variable) for variable in variables):
        raise InvalidValueError(
            "Argument `variables` must be one or more keras.Variables. "
            f"Received: variables={variables!r}"
        )
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        values = [variable.value for variable in variables]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(values)
            loss = loss_fn()
        grads = tape.gradient(loss, values, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    elif backend == "jax":
        import jax

        def loss_of(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return loss_fn()

        loss, grads = jax.value_and_grad(loss_of)([variable.value for variable in variables])
    elif backend == "torch":
        import torch

        values = [variable.value for variable in variables]
        loss = loss_fn()
        grads = torch.autograd.grad(loss, values, allow_unused=True)
        grads = [
            torch.zeros_like(value) if grad is None else grad for value, grad in zip(values, grads)
        ]
        loss = loss.detach()
        grads = [grad.detach() for grad in grads]
    else:
        raise NotImplementedError(
            f"Gradients are computed on the tensorflow, jax and torch backends, not {backend!r}."
        )
    return float(keras.ops.convert_to_numpy(loss)), [
        np.asarray(keras.ops.convert_to_numpy(grad), np.float32) for grad in grads
    ]


def gradients(loss_fn, variables):
    """`d loss / d v` for every variable of `variables` (see `value_and_gradients`)."""
    return value_and_gradients(loss_fn, variables)[1]


@dataclasses.dataclass(frozen=True)
class GradientRecord:
    """The loss and gradient norms on the probe batch at one step of training.

    Attributes:
        epoch: the epoch (0-based) the step belongs to.
        step: optimizer steps taken since the start of the run (0: the initial
            weights).
        loss: the model's loss on the probe batch, in inference mode.
        norms: `{layer name: ||dE/dW||}` for the kernel of each layer logged.
    """

    epoch: int
    step: int
    loss: float
    norms: dict


class GradientNorms(keras.callbacks.Callback):
    """Logs `||dE/dW||` of some layers' kernels on a fixed batch while training.

    Before the first step and after every `every` steps, the model's compiled
    loss `E` on `(images, labels)` is computed in inference mode (no dropout)
    and differentiated with respect to the kernel of each layer of `layers`
    (`gradients`): the paper's diminishing gradients, measured (Sec. 2.2,
    Fig. 3). The records are in `records`; with `path`, also in a CSV file,
    row by row. A run resumed after epoch `k` (`keras_prelu.training.fit`)
    keeps the file's rows of epochs before `k` and logs the rest again; a run
    with nothing left to train keeps them all.

    Args:
        images: the probe batch's images.
        labels: the probe batch's labels.
        layers: names of the layers whose `kernel` gradient is logged.
        every: steps between two records.
        path: a CSV file to keep the records in, or None.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from keras_prelu.analysis import GradientNorms
        >>> x, y = np.ones((8, 4)), np.zeros(8)
        >>> layers = [keras.layers.Dense(3, name="fc1"), keras.layers.Dense(2, name="fc2")]
        >>> model = keras.Sequential([keras.Input((4,)), *layers])
        >>> model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> norms = GradientNorms(x[:4], y[:4], layers=("fc1", "fc2"), every=1)
        >>> history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[norms])
        >>> [record.step for record in norms.records]  # before the first step, then every step
        [0, 1, 2, 3, 4]
        >>> sorted(norms.records[0].norms)
        ['fc1', 'fc2']
    """

    def __init__(self, images, labels, layers, *, every=10, path=None):
        super().__init__()
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise InvalidValueError(
                f"Argument `every` must be an int >= 1. Received: every={every!r}"
            )
        layers = tuple(layers)
        if not layers or not all(isinstance(name, str) for name in layers):
            raise InvalidValueError(
                f"Argument `layers` must be one or more layer names. Received: layers={layers!r}"
            )
        self.images = images
        self.labels = labels
        self.layers = layers
        self.every = every
        self.path = None if path is None else os.fspath(path)
        self.records = []
        self._started = False

    def on_train_begin(self, logs=None):
        self._kernels = [self.model.get_layer(name).kernel for name in self.layers]
        self.records = self._read() if self.path else []
        self._started = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._started:
            self._started = True
            self.records = [record for record in self.records if record.epoch < epoch]
            if self.path:
                self._write(self.records, mode="w")
            if epoch == 0:
                self._record(epoch, 0)
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = self._epoch * self.params["steps"] + batch + 1
        if step % self.every == 0:
            self._record(self._epoch, step)

    def _record(self, epoch, step):
        # Read before the kernels: on JAX, `self.model` syncs them with the training state.
        model = self.model

        def loss():
            predictions = model(self.images, training=False)
            return model.compute_loss(
                x=self.images, y=self.labels, y_pred=predictions, training=False
            )

        value, grads = value_and_gradients(loss, self._kernels)
        record = GradientRecord(
            epoch=epoch,
            step=step,
            loss=value,
            norms={name: float(np.linalg.norm(grad)) for name, grad in zip(self.layers, grads)},
        )
        self.records.append(record)
        if self.path:
            self._write([record], mode="a")

    def _read(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path, newline="") as file:
            rows = list(csv.DictReader(file))
        return [
            GradientRecord(
                epoch=int(row["epoch"]),
                step=int(row["step"]),
                loss=float(row["loss"]),
                norms={name: float(row[name]) for name in self.layers},
            )
            for row in rows
        ]

    def _write(self, records, mode):
        with open(self.path, mode, newline="") as file:
            writer = csv.writer(file)
            if mode == "w":
                writer.writerow(["epoch", "step", "loss", *self.layers])
            for record in records:
                writer.writerow(
                    [record.epoch, record.step, record.loss]
                    + [record.norms[name] for name in self.layers]
                )
