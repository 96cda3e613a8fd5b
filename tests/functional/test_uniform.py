"""clip_fake_quant: forward and hand-written gradients against NumPy, per tensor and per group."""
import numpy as np
import pytest
import torch

from model_quantization.functional import clip_fake_quant


def _reference(x, c, levels, signed):
    lo = -c if signed else np.zeros_like(c)
    step = (c - lo) / (levels - 1)
    y = np.round((np.clip(x, lo, c) - lo) / step) * step + lo
    inside = (x >= lo) & (x <= c)
    return y, inside


@pytest.mark.parametrize("signed", [False, True])
def test_clip_fake_quant_lsq_per_group_matches_reference(signed):
    rng = np.random.RandomState(0)
    x = rng.randn(3, 40) * 2
    c = np.array([[0.5], [1.0], [2.5]])
    g = rng.rand(3, 40)
    xt = torch.tensor(x, requires_grad=True)
    ct = torch.tensor(c, requires_grad=True)
    y = clip_fake_quant(xt, ct, 5, signed=signed, mode="lsq")
    (y * torch.tensor(g)).sum().backward()
    ry, inside = _reference(x, c, 5, signed)
    np.testing.assert_allclose(y.detach().numpy(), ry, atol=1e-12)
    np.testing.assert_array_equal(xt.grad.numpy(), g * inside)
    below = -1.0 if signed else 0.0
    dy_dc = np.where(inside, (ry - x) / c, np.where(x > c, 1.0, below))
    np.testing.assert_allclose(ct.grad.numpy(), (g * dy_dc).sum(axis=1, keepdims=True),
                               rtol=1e-10)


def test_clip_fake_quant_pact_clip_gradient_counts_clipped():
    x = torch.tensor([-1.0, 0.2, 0.9, 1.0, 1.5, 3.0], requires_grad=True)
    c = torch.tensor([1.0], requires_grad=True)
    clip_fake_quant(x, c, 4, mode="pact").sum().backward()
    assert float(c.grad) == 3.0  # x >= c: 1.0, 1.5, 3.0
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_clip_fake_quant_fixed_clip_has_no_clip_gradient():
    x = torch.tensor([0.1, 0.6, 2.0], requires_grad=True)
    y = clip_fake_quant(x, 1.0, 3, mode="fixed")
    y.sum().backward()
    assert y.tolist() == [0.0, 0.5, 1.0] and x.grad.tolist() == [1.0, 1.0, 0.0]


def test_clip_fake_quant_ste_scale_factor():
    x = torch.tensor([0.1, 0.5, 2.0, 3.0], requires_grad=True)
    clip_fake_quant(x, 1.0, 4, ste_scale=True).sum().backward()
    factor = float(np.sqrt(4 / 2))
    np.testing.assert_allclose(x.grad.numpy(), [factor, factor, 0.0, 0.0], rtol=1e-6)


def test_clip_fake_quant_rejects_unknown_mode():
    with pytest.raises(ValueError, match="unknown clip_fake_quant mode 'lsqq'"):
        clip_fake_quant(torch.zeros(2), 1.0, 4, mode="lsqq")


def test_clip_fake_quant_rejects_signed_pact():
    with pytest.raises(ValueError, match="unsigned only; use mode='lsq'"):
        clip_fake_quant(torch.zeros(2), 1.0, 4, signed=True, mode="pact")


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("levels", [2, 3, 4, 256])
def test_clip_fake_quant_inference_path_equals_training_path(signed, levels):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 5) * 2
    clip = torch.tensor([1.3], requires_grad=True)
    trained = clip_fake_quant(x.clone().requires_grad_(), clip, levels, signed=signed)
    with torch.no_grad():
        inferred = clip_fake_quant(x, clip, levels, signed=signed)
    assert trained.grad_fn is not None and inferred.grad_fn is None
    assert torch.equal(trained.detach(), inferred)


@pytest.mark.parametrize("levels", [3, 4, 256])
def test_tanh_weight_quant_inference_path_equals_training_path(levels):
    from model_quantization.functional.tanh_quant import tanh_weight_quant

    torch.manual_seed(0)
    w = torch.randn(8, 4, 3, 3)
    trained = tanh_weight_quant(w.clone().requires_grad_(), levels)
    with torch.no_grad():
        inferred = tanh_weight_quant(w, levels)
    assert inferred.grad_fn is None
    assert torch.equal(trained.detach(), inferred)
