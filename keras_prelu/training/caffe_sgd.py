"""SGD with momentum and Caffe's weight decay (L2 added to the gradient)."""

import re

import keras
from keras import ops

from keras_prelu import _compat
from keras_prelu import paper
from keras_prelu.training import checks

__all__ = ["CaffeSGD"]

# Keras names the weight matrices of Dense/Conv layers `kernel` (and
# `depthwise_kernel`, `pointwise_kernel`, `recurrent_kernel`): the weights the
# paper decays. PReLU slopes (`alpha`) and biases do not match (Sec. 2.1).


@keras.saving.register_keras_serializable(package="keras_prelu")
class CaffeSGD(keras.optimizers.SGD):
    """SGD with momentum and Caffe's weight decay, as used by He et al. (2015).

    Caffe adds the L2 decay to the gradient, *before* the momentum:

    ```text
    velocity = momentum * velocity - learning_rate * (g + weight_decay * w)
    w = w + velocity
    ```

    for the variables selected by `decay_pattern`; the others follow plain
    `keras.optimizers.SGD`. This is Caffe's `SGDSolver` with
    `regularization_type: "L2"` (whose velocity is the negative of the one
    above), and `keras.optimizers.SGD` with `L2(weight_decay / 2)` regularizers
    on the decayed variables, without putting them in the model.

    It is not Keras' `weight_decay` argument, which decays outside the momentum
    (`w -= learning_rate * weight_decay * w`): at momentum 0.9 the same number
    decays about 10 times less.

    Args:
        learning_rate: float, the learning rate. Defaults to `0.01`
            (the paper's initial rate, Sec. 3).
        momentum: float in [0, 1]. Defaults to `0.9` (Sec. 3).
        weight_decay: float >= 0, Caffe's `weight_decay`. Defaults to
            `0.0005` (Sec. 3).
        decay_pattern: regular expression searched in each variable's `path`
            when the optimizer is built; the matching variables are decayed.
            Defaults to `"kernel$"`: weight matrices and convolution kernels,
            not PReLU slopes (the paper does not decay them, Sec. 2.1) nor
            biases. Variables passed to `exclude_from_weight_decay()` are not
            decayed either.
        nesterov: bool, Nesterov momentum. Defaults to `False` (Caffe's SGD).
        **kwargs: the other arguments of `keras.optimizers.SGD`
            (`clipnorm`, `loss_scale_factor`, `name`...), except
            `weight_decay`'s decoupled meaning.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from keras_prelu.training import CaffeSGD
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> optimizer = CaffeSGD(learning_rate=0.01, momentum=0.9, weight_decay=0.0005)
        >>> model.compile(optimizer=optimizer, loss="mse")
        >>> history = model.fit(np.ones((8, 4)), np.ones((8, 1)), epochs=2, verbose=0)

    Reference:
        - [He et al., 2015](https://arxiv.org/abs/1502.01852), Sec. 3.
        - [Jia et al., 2014](https://arxiv.org/abs/1408.5093), Caffe's
          `SGDSolver::Regularize` and `ComputeUpdateValue`.
    """

    def __init__(
        self,
        learning_rate=paper.LEARNING_RATE,
        momentum=paper.MOMENTUM,
        weight_decay=paper.WEIGHT_DECAY,
        decay_pattern=checks.KERNELS_ONLY,
        nesterov=False,
        **kwargs,
    ):
        checks.NON_NEGATIVE.check("weight_decay", weight_decay)
        checks.PATTERN.check("decay_pattern", decay_pattern)
        super().__init__(
            learning_rate=learning_rate,
            momentum=float(momentum),
            nesterov=nesterov,
            **kwargs,
        )
        self.weight_decay = float(weight_decay)
        self.decay_pattern = decay_pattern

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        pattern = re.compile(self.decay_pattern)
        self._decayed = [
            self.weight_decay > 0
            and pattern.search(variable.path) is not None
            and _compat.uses_weight_decay(self, variable)
            for variable in variables
        ]

    def is_decayed(self, variable):
        """Whether `variable` (a model variable) gets the L2 decay."""
        return self._decayed[_compat.variable_index(self, variable)]

    def update_step(self, gradient, variable, learning_rate):
        if self.is_decayed(variable):
            gradient = ops.add(
                ops.cast(gradient, variable.dtype),
                ops.multiply(ops.cast(self.weight_decay, variable.dtype), variable),
            )
        super().update_step(gradient, variable, learning_rate)

    def _apply_weight_decay(self, variables):
        # The base class decays `weight_decay` outside the momentum; here the
        # decay is part of the gradient in `update_step` (as in keras' Muon).
        return

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "weight_decay": self.weight_decay,
                "decay_pattern": self.decay_pattern,
            }
        )
        return config
