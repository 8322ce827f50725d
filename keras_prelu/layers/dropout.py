import keras
from keras import ops

__all__ = ["Dropout"]


@keras.saving.register_keras_serializable(package="keras_prelu")
class Dropout(keras.layers.Dropout):
    """Dropout that draws independent masks on each `tf.distribute` replica.

    `keras.layers.Dropout` zeroes each input unit with probability `rate` and
    scales the others by `1 / (1 - rate)`. Under `MirroredStrategy` its seed
    state is mirrored, so every replica draws the *same* mask for its part of
    the batch: not dropout on the global batch. This layer draws the mask of
    the whole global batch (`num_replicas` times the local batch) from that
    shared seed and keeps the slice of its replica: the replicas drop
    independently, and N replicas drop exactly the units one device would
    drop for the same global batch. Outside a multi-replica context (one
    device, or the JAX backend, where `keras.distribution` already draws one
    global mask) it is `keras.layers.Dropout`.

    The paper applies dropout with rate 0.5 after fc1 and fc2 (He et al.,
    2015, Sec. 3; Srivastava et al., 2014).

    It takes the arguments of `keras.layers.Dropout`: `rate`, a float in
    [0, 1], the fraction of input units to drop; `noise_shape`, the shape of
    the binary mask, broadcast against the input (`None` entries take the
    input's size; a batch entry of 1 shares one mask across the global batch,
    hence across replicas); `seed`, an int, the random seed.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from keras_prelu import Dropout
        >>> layer = Dropout(0.5, seed=1)
        >>> outputs = layer(np.ones((4, 8)), training=True)
        >>> np.unique(keras.ops.convert_to_numpy(outputs)).tolist()  # dropped or scaled by 2
        [0.0, 2.0]
    """

    def call(self, inputs, training=False):
        replica_id, num_replicas = _replica_position()
        shares_one_mask = self.noise_shape is not None and self.noise_shape[0] == 1
        if not training or self.rate == 0 or num_replicas == 1 or shares_one_mask:
            return super().call(inputs, training=training)
        input_shape = ops.shape(inputs)
        noise_shape = self.noise_shape or (None,) * len(input_shape)
        local_shape = [
            size if noise is None else noise for noise, size in zip(noise_shape, input_shape)
        ]
        global_shape = [local_shape[0] * num_replicas, *local_shape[1:]]
        global_mask = keras.random.dropout(
            ops.ones(global_shape, dtype=inputs.dtype),
            self.rate,
            seed=self.seed_generator,
        )
        start = [replica_id * local_shape[0]] + [0] * (len(local_shape) - 1)
        return ops.multiply(inputs, ops.slice(global_mask, start, local_shape))


def _replica_position():
    """`(replica id, number of replicas)` of the running `tf.distribute` copy.

    TensorFlow-only, and the only backend-specific code of the layer: only
    `tf.distribute` runs one copy of the layer per replica, and only the
    replica context knows which copy this is. `(0, 1)` everywhere else.
    """
    if keras.backend.backend() != "tensorflow":
        return 0, 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None:  # Cross-replica context: one global computation.
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync
