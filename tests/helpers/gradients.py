"""Gradients for the tests, on the backend of the session (TensorFlow, JAX, PyTorch)."""

import keras
import numpy as np
from keras import ops


def gradients(loss_fn, *args):
    """Gradients of the scalar `loss_fn(*args)` with respect to every arg, as NumPy."""
    args = [ops.convert_to_tensor(np.asarray(a, dtype="float32")) for a in args]
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        grads = jax.grad(loss_fn, argnums=tuple(range(len(args))))(*args)
    elif backend == "torch":
        import torch

        args = [a.detach().requires_grad_() for a in args]
        grads = torch.autograd.grad(loss_fn(*args), args)
    else:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(args)
            loss = loss_fn(*args)
        grads = tape.gradient(loss, args)
    return [ops.convert_to_numpy(g) for g in grads]


def layer_gradients(layer, inputs, upstream):
    """`(dE/dinputs, [dE/dw for each trainable weight])` for `E = sum(upstream * layer(inputs))`."""

    upstream = ops.convert_to_tensor(upstream)

    def loss(x, *weights):
        outputs, _ = layer.stateless_call(list(weights), [], x)
        return ops.sum(outputs * upstream)

    weights = [ops.convert_to_numpy(w) for w in layer.trainable_weights]
    grads = gradients(loss, inputs, *weights)
    return grads[0], grads[1:]
