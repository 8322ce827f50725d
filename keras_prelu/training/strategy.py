"""Choosing the `tf.distribute` strategy that `model.fit` trains under."""

import keras

from keras_prelu.errors import InvalidValueError

STRATEGIES = ("auto", "mirrored", "multi_worker", "none")

MULTI_WORKER_UNSUPPORTED = (
    "strategy='multi_worker' (tf.distribute.MultiWorkerMirroredStrategy) "
    "does not work with `model.fit` in Keras 3 on TensorFlow: `fit` fails "
    "reducing a PerReplica data batch in "
    "TensorFlowTrainer._maybe_symbolic_build ('Attempt to convert a value "
    "(PerReplica...) with an unsupported type to a Tensor'), and past that "
    "in reducing the per-replica logs (tensorflow/tensorflow#72388). To "
    "train on several machines use the JAX backend and keras.distribution "
    "(keras.distribution.initialize(...) then DataParallel); to use the "
    "GPUs of one machine use strategy='mirrored'."
)


def get_strategy(name="auto"):
    """Returns the `tf.distribute.Strategy` to create the model under.

    - `"auto"`: `MirroredStrategy` over all visible GPUs when there are
      several, the default (no-op) strategy otherwise;
    - `"mirrored"`: `MirroredStrategy` over all visible GPUs (or the CPU);
    - `"none"`: the default strategy;
    - `"multi_worker"`: raises `NotImplementedError` (see its message):
      `MultiWorkerMirroredStrategy` cannot run `model.fit` in Keras 3.

    As in the paper (Sec. 3), the global batch is split across the replicas;
    see `per_replica_batch_size`. Create the model, optimizer and metrics
    inside `strategy.scope()`.

    `"mirrored"` needs the TensorFlow backend; the other backends distribute
    with `keras.distribution`, and get the default strategy from `"auto"`
    and `"none"`.

    Args:
        name: one of `"auto"`, `"mirrored"`, `"multi_worker"`, `"none"`.
    """
    if name not in STRATEGIES:
        raise InvalidValueError(
            f"Argument `name` must be one of {STRATEGIES}. Received: name={name!r}"
        )
    if name == "multi_worker":
        raise NotImplementedError(MULTI_WORKER_UNSUPPORTED)
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


def per_replica_batch_size(global_batch_size, strategy):
    """`global_batch_size / num_replicas_in_sync`, checking it divides evenly.

    The paper keeps the mini-batch at 128 whatever the number of GPUs and
    splits it among them (Sec. 3); an uneven split would change the effective
    batch from one replica to another.
    """
    if not isinstance(global_batch_size, int) or global_batch_size < 1:
        raise InvalidValueError(
            "Argument `global_batch_size` must be an int >= 1. "
            f"Received: global_batch_size={global_batch_size!r}"
        )
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise InvalidValueError(
            f"The global batch size {global_batch_size} is not divisible by "
            f"the {replicas} replicas of the strategy; choose a multiple of "
            f"{replicas}."
        )
    return global_batch_size // replicas
