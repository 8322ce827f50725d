"""PyTorch's fused `torch.nn.functional.prelu` against the paper, and why the layer does
not use it on the PyTorch backend.

Its gradients are the paper's in float32 (Eqn. 2-3, `df/dy = a` and `df/da = y` at
`y = 0`), but its semantics differ from the layer's in two places: `y = -inf` with
`a = 0` gives NaN (the layer: 0, the ReLU limit), and it needs the slopes in the
input's dtype, so under `mixed_bfloat16` the slope gradient is summed in bfloat16
(the layer sums it in float32).
"""

import numpy as np
import pytest
import torch

# PyTorch alone: no Keras backend to vary.
pytestmark = pytest.mark.backend("tensorflow")


def fused(y, a, dtype=torch.float32):
    y = torch.tensor(y, dtype=dtype, requires_grad=True)
    a = torch.tensor(a, dtype=dtype, requires_grad=True)
    out = torch.nn.functional.prelu(y, a)
    out.sum().backward()
    return out.detach(), y.grad, a.grad


def test_fused_kernel_gradients_are_the_papers_in_float32():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(3, 4, 5, 6)).astype("float32")  # NCHW: channels on axis 1
    y.flat[::5] = 0.0
    a = np.array([0.25, -0.5, 0.0, 1.5], "float32")
    slopes = a.reshape(1, 4, 1, 1)
    out, grad_y, grad_a = fused(y, a)
    np.testing.assert_allclose(out.numpy(), np.where(y > 0, y, slopes * y), rtol=1e-6)
    # df/dy = a for y <= 0, y = 0 included.
    np.testing.assert_array_equal(grad_y.numpy(), np.where(y > 0, 1.0, slopes * np.ones_like(y)))
    expected = np.where(y > 0, 0.0, y).sum(axis=(0, 2, 3))
    np.testing.assert_allclose(grad_a.numpy(), expected, rtol=1e-5)


def test_fused_kernel_differs_at_minus_infinity_with_a_zero_slope():
    out, _, _ = fused([[-np.inf, 1.0]], [0.0])
    assert np.isnan(out[0, 0].item())


@pytest.mark.parametrize("dtype", [torch.bfloat16])
def test_fused_kernel_needs_slopes_in_the_inputs_dtype(dtype):
    y = torch.full((4097, 1), -1.0, dtype=dtype)
    with pytest.raises(RuntimeError):
        torch.nn.functional.prelu(y, torch.tensor([0.25]))
    # In bfloat16, 4097 products of -1 do not sum to -4097 (the layer: exactly, in float32).
    _, _, grad_a = fused(-np.ones((4097, 1)), [0.25], dtype=dtype)
    assert grad_a.item() != -4097.0
