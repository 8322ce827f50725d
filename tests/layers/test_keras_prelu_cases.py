"""Keras' own PReLU tests (keras/src/layers/activations/prelu_test.py, Keras 3.15)
run against `keras_prelu.PReLU`, which takes `keras.layers.PReLU`'s `shared_axes`.

The two cases are copied with one change: `prelu.PReLU` is keras_prelu's class.
Where the paper differs from Keras' layer, the cases need no adaptation:
- the initial slope (0.25 here, 0 in Keras) is set by `alpha_initializer` in the
  first case and overwritten by `assign` in the second;
- the gradient at `y = 0` (`df/dy = a` here, 0 in Keras) is not tested by Keras;
  its reference, `np_prelu`, already puts `x = 0` in the `alpha * x` branch, as
  Eqn. 1 does. tests/layers/test_prelu.py tests that gradient.
"""

import numpy as np
from keras.src import testing

from keras_prelu.layers import prelu


class PReLUTest(testing.TestCase):
    def test_prelu(self):
        self.run_layer_test(
            prelu.PReLU,
            init_kwargs={
                "alpha_initializer": "zeros",
                "alpha_regularizer": "L1",
                "alpha_constraint": "MaxNorm",
                "shared_axes": 1,
            },
            input_shape=(2, 3, 4),
            supports_masking=True,
        )

    def test_prelu_correctness(self):
        def np_prelu(x, alpha):
            return (x > 0) * x + (x <= 0) * alpha * x

        inputs = np.random.randn(2, 10, 5, 3)
        prelu_layer = prelu.PReLU(
            alpha_initializer="glorot_uniform",
            alpha_regularizer="l1",
            alpha_constraint="non_neg",
            shared_axes=(1, 2),
        )
        prelu_layer.build(inputs.shape)

        weights = np.random.random((1, 1, 3))
        prelu_layer.alpha.assign(weights)
        ref_out = np_prelu(inputs, weights)
        self.assertAllClose(prelu_layer(inputs), ref_out)
