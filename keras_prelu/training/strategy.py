"""Choosing the `tf.distribute` strategy that `model.fit` trains under."""

import keras

from keras_prelu.errors import InvalidValueError
from keras_prelu.training.checks import STRATEGIES

__all__ = ["get_strategy"]


def get_strategy(name="auto"):
    """Returns the `tf.distribute.Strategy` to create the model under.

    - `"auto"`: `MirroredStrategy` over all visible GPUs when there are
      several, the default (no-op) strategy otherwise;
    - `"mirrored"`: `MirroredStrategy` over all visible GPUs (or the CPU);
    - `"none"`: the default strategy.

    `MultiWorkerMirroredStrategy` is not offered: it cannot run `model.fit` in
    Keras 3.15 / TensorFlow 2.21 (tensorflow/tensorflow#72388); several machines
    train on the JAX backend with `keras.distribution` (`initialize_processes`).

    As in the paper (Sec. 3), the global batch is split across the replicas;
    see `Parallel.per_replica_batch_size`. Create the model, optimizer and metrics
    inside `strategy.scope()`.

    `"mirrored"` needs the TensorFlow backend; the other backends distribute
    with `keras.distribution`, and get the default strategy from `"auto"`
    and `"none"`.

    Args:
        name: one of `"auto"`, `"mirrored"`, `"none"`.
    """
    if name not in STRATEGIES:
        raise InvalidValueError(
            f"Argument `name` must be one of {STRATEGIES}. Received: name={name!r}"
        )
    import tensorflow as tf

    if name == "none":
        return tf.distribute.get_strategy()
    backend = keras.backend.backend()
    if name == "mirrored" and backend != "tensorflow":
        # Keras has no keras.distribution on PyTorch: it trains on one device.
        other = "the JAX backend's keras.distribution" if backend == "torch" else "strategy='auto'"
        raise InvalidValueError(
            "strategy='mirrored' is tf.distribute and needs the TensorFlow "
            f"backend; the Keras backend is {backend!r}. For several devices use "
            f"{other}; for one, strategy='none'."
        )
    several_gpus = len(tf.config.list_logical_devices("GPU")) > 1
    if name == "mirrored" or (backend == "tensorflow" and several_gpus):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
