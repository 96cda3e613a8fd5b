"""DoReFa-Net against plain NumPy references (activations, tanh weights, binary weights)."""
import numpy as np
import pytest
import torch

from model_quantization.quantizers import DoReFaQuantizer


@pytest.mark.parametrize("levels,boundary", [(4, 1.0), (3, 2.0), (256, 1.5)])
def test_dorefa_activations_match_reference(levels, boundary):
    rng = np.random.RandomState(levels)
    x = rng.randn(2, 3, 6, 6) * boundary
    g = rng.rand(*x.shape) + 0.5
    q = DoReFaQuantizer(levels, False, boundary=boundary).double()
    xt = torch.tensor(x, requires_grad=True)
    y = q(xt)
    (y * torch.tensor(g)).sum().backward()
    ry = np.round(np.clip(x, 0, boundary) * (levels - 1) / boundary) * boundary / (levels - 1)
    np.testing.assert_allclose(y.detach().numpy(), ry, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(xt.grad.numpy(), g * ((x >= 0) & (x <= boundary)))


def _tanh_reference(w, levels, g):
    """Forward and the hand-derived gradient of sum(g * y) (STE on the rounding)."""
    t = np.tanh(w)
    m = np.abs(t).max()
    tn = t / (2 * m) + 0.5
    y = 2 * np.round(tn * (levels - 1)) / (levels - 1) - 1
    # d tn_i / d t_j = delta_ij / (2m) - t_i / (2 m^2) * d m / d t_j ; d m / d t_j = sign at argmax
    grad_t = 2 * g / (2 * m)
    j = np.unravel_index(np.argmax(np.abs(t)), t.shape)
    grad_t[j] -= np.sign(t[j]) * np.sum(2 * g * t) / (2 * m * m)
    return y, grad_t * (1 - t * t)


@pytest.mark.parametrize("levels", [3, 4, 16])
def test_dorefa_weights_match_reference(levels):
    rng = np.random.RandomState(levels)
    w = rng.randn(4, 3, 3, 3) * 0.3
    g = rng.rand(*w.shape) - 0.5
    q = DoReFaQuantizer(levels, True).double()
    wt = torch.tensor(w, requires_grad=True)
    y = q(wt)
    (y * torch.tensor(g)).sum().backward()
    ry, rgrad = _tanh_reference(w, levels, g)
    np.testing.assert_allclose(y.detach().numpy(), ry, rtol=0, atol=1e-12)
    np.testing.assert_allclose(wt.grad.numpy(), rgrad, rtol=1e-9, atol=1e-12)


def test_dorefa_binary_weights_are_sign_times_mean_abs():
    w = np.array([[0.5, -0.2, 0.0, -1.1], [0.3, 0.3, -0.4, 2.0]])
    q = DoReFaQuantizer(2, True).double()
    wt = torch.tensor(w, requires_grad=True)
    y = q(wt)
    expected = np.where(w >= 0, 1.0, -1.0) * np.abs(w).mean()
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=0, atol=1e-15)
    g = np.arange(8.0).reshape(2, 4)
    y.backward(torch.tensor(g))
    np.testing.assert_array_equal(wt.grad.numpy(), g)  # straight through


def test_dorefa_binary_weights_mean_per_group():
    w = np.array([[1.0, -3.0], [0.5, 0.5]])
    q = DoReFaQuantizer(2, True, num_groups=2).double()
    y = q(torch.tensor(w)).numpy()
    np.testing.assert_array_equal(y, [[2.0, -2.0], [0.5, 0.5]])


def test_dorefa_var_mean_weights_match_reference():
    rng = np.random.RandomState(5)
    w = rng.randn(4, 2, 3, 3) * 0.2 + 0.1
    q = DoReFaQuantizer(4, True, adaptive="var-mean").double()
    y = q(torch.tensor(w)).numpy()
    wn = (w - w.mean()) / (w.std(ddof=1) + 1e-5)
    ry, _ = _tanh_reference(wn, 4, np.zeros_like(w))
    np.testing.assert_allclose(y, ry, rtol=0, atol=1e-12)


def test_dorefa_iteration_counts_every_forward():
    q = DoReFaQuantizer(4, False).eval()
    for _ in range(3):
        q(torch.rand(5))
    assert float(q.iteration) == 3.0


def test_dorefa_warmup_passes_input_through():
    q = DoReFaQuantizer(4, False, stable=2)
    x = torch.rand(10) * 0.9 + 0.05
    assert torch.equal(q(x), x) and torch.equal(q(x), x)
    assert torch.unique(q(x)).numel() <= 4 and float(q.iteration) == 3.0


def test_dorefa_rejects_var_mean_for_activations():
    with pytest.raises(ValueError, match="adaptive='var-mean'.*activations take adaptive='none'"):
        DoReFaQuantizer(4, False, adaptive="var-mean")
