"""Whole-model gradients: the zoo's models on this session's backend against `torch.nn`.

The reference is built here from the architecture's table with PyTorch's own
layers (`nn.Conv2d`, `nn.PReLU`, `nn.MaxPool2d`, adaptive max pooling for the
pyramid, `nn.Linear`), in float64, with the Keras model's weights copied in.
The backend matrix runs this file on TensorFlow, JAX and PyTorch, so the three
backends agree with one reference and with each other. Non-uniform slopes make
every slope matter, and the loss is a cross-entropy of the logits.
"""

import keras
import numpy as np
import pytest
import torch
from keras import ops
from torch import nn

from keras_prelu import PReLU
from keras_prelu.zoo import get_model
from keras_prelu.zoo.architectures import ARCHITECTURES
from keras_prelu.zoo.architectures import conv_name
from tests.helpers.gradients import gradients

NUM_CLASSES = 5
FC_UNITS = (16, 16)
# Every gradient within this fraction of the model's largest one.
TOLERANCE = 1e-5


def same_padding(size, kernel, stride):
    """TensorFlow's "same" padding of an axis: (before, after), the extra one after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SpatialPyramid(nn.Module):
    """Adaptive max pooling to n x n for each level, flattened channel-major."""

    def __init__(self, levels):
        super().__init__()
        self.levels = levels

    def forward(self, x):
        pooled = [nn.functional.adaptive_max_pool2d(x, n).flatten(1) for n in self.levels]
        return torch.cat(pooled, dim=1)


def torch_model(architecture, keras_model, side, channel_shared):
    """The architecture in `torch.nn` (NCHW, float64), holding `keras_model`'s weights."""
    weights = {
        v.path: torch.tensor(ops.convert_to_numpy(v), dtype=torch.float64)
        for v in keras_model.weights
    }
    layers, named = [], {}
    channels = 3
    for s, stage in enumerate(architecture.stages, start=1):
        for i in range(1, stage.depth + 1):
            name = conv_name(s, stage, i)
            stride = stage.strides if i == 1 else 1
            padding = stage.padding if i == 1 else "same"
            kernel = weights[f"{name}/kernel"]
            if padding == "same":
                before, after = same_padding(side, stage.kernel_size, stride)
                layers.append(nn.ZeroPad2d((before, after, before, after)))
                side += before + after
            conv = nn.Conv2d(
                channels, kernel.shape[-1], stage.kernel_size, stride, dtype=torch.float64
            )
            side = (side - stage.kernel_size) // stride + 1
            channels = kernel.shape[-1]
            act = nn.PReLU(1 if channel_shared else channels, dtype=torch.float64)
            layers += [conv, act]
            named[name] = conv
            named[name.replace("conv", "act")] = act
        if stage.pool is not None:
            pool_size, pool_strides = stage.pool
            layers.append(nn.MaxPool2d(pool_size, pool_strides))
            side = (side - pool_size) // pool_strides + 1
    layers.append(SpatialPyramid(architecture.spp_levels))
    features = channels * sum(n * n for n in architecture.spp_levels)
    for k, width in enumerate(FC_UNITS + (NUM_CLASSES,), start=1):
        fc = nn.Linear(features, width, dtype=torch.float64)
        layers.append(fc)
        named[f"fc{k}"] = fc
        if k <= len(FC_UNITS):
            act = nn.PReLU(1 if channel_shared else width, dtype=torch.float64)
            layers.append(act)
            named[f"act_fc{k}"] = act
        features = width
    with torch.no_grad():
        for name, module in named.items():
            if isinstance(module, nn.PReLU):
                module.weight.copy_(weights[f"{name}/alpha"])
            elif isinstance(module, nn.Conv2d):
                module.weight.copy_(weights[f"{name}/kernel"].permute(3, 2, 0, 1))
                module.bias.copy_(weights[f"{name}/bias"])
            else:
                module.weight.copy_(weights[f"{name}/kernel"].T)
                module.bias.copy_(weights[f"{name}/bias"])
    return nn.Sequential(*layers), named


def torch_gradients(model, named, images, labels):
    """`{keras variable path: gradient}` of the mean cross-entropy of the logits."""
    logits = model(torch.tensor(images, dtype=torch.float64).permute(0, 3, 1, 2))
    nn.functional.cross_entropy(logits, torch.tensor(labels)).backward()
    grads = {}
    for name, module in named.items():
        if isinstance(module, nn.PReLU):
            grads[f"{name}/alpha"] = module.weight.grad.numpy()
        else:
            kernel = module.weight.grad
            kernel = kernel.permute(2, 3, 1, 0) if kernel.ndim == 4 else kernel.T
            grads[f"{name}/kernel"] = kernel.numpy()
            grads[f"{name}/bias"] = module.bias.grad.numpy()
    return grads


def keras_gradients(model, images, labels):
    """`{variable path: gradient}` of the same loss on this session's backend."""
    variables = model.trainable_variables

    def loss(*values):
        logits, _ = model.stateless_call(list(values), model.non_trainable_variables, images)
        return ops.mean(
            keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        )

    grads = gradients(loss, *[ops.convert_to_numpy(v) for v in variables])
    return {v.path: g for v, g in zip(variables, grads)}


@pytest.mark.parametrize(
    "name, side, width_multiplier",
    [("model_14", 64, 0.25), ("model_a", 40, 1 / 16)],
)
@pytest.mark.parametrize("activation", ["prelu", "prelu_shared"])
def test_whole_model_gradients_match_torch_nn(name, side, width_multiplier, activation):
    keras_model = get_model(
        name,
        input_shape=(side, side, 3),
        num_classes=NUM_CLASSES,
        fc_units=FC_UNITS,
        classifier_activation=None,
        activation=activation,
        fc_initializer="he",
        width_multiplier=width_multiplier,
        seed=1,
    )
    rng = np.random.default_rng(0)
    slopes = [layer.alpha for layer in keras_model.layers if isinstance(layer, PReLU)]
    for alpha in slopes:
        alpha.assign(rng.uniform(-0.2, 0.8, size=alpha.shape).astype("float32"))
    images = rng.normal(size=(2, side, side, 3)).astype("float32")
    labels = np.array([1, 3])

    reference, named = torch_model(
        ARCHITECTURES[name], keras_model, side, activation == "prelu_shared"
    )
    expected = torch_gradients(reference, named, images, labels)
    actual = keras_gradients(keras_model, images, labels)

    assert set(actual) == set(expected)
    largest = max(np.abs(grad).max() for grad in expected.values())
    errors = {path: np.abs(actual[path] - grad).max() / largest for path, grad in expected.items()}
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, f"{worst}: {errors[worst]:.2e} of the largest gradient"
