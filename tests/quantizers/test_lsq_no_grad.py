"""LSQ inference path (autograd off): the same output bit for bit as the autograd forward,
the weight left untouched, the warm-up and iteration counting unchanged."""
import itertools

import pytest
import torch

from model_quantization.quantizers import LSQQuantizer, PACTQuantizer
from model_quantization.quantizers._common import standardize

CASES = list(itertools.product([True, False], ["none", "var-mean"], [1, 4], ["none", "STE-scale"],
                               [None, 0.25]))


def _weight(seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(8, 6, 3, 3, generator=g) * 0.05 + 0.01).to(dtype)


@pytest.mark.parametrize("signed, adaptive, groups, grad_type, grad_scale", CASES)
def test_lsq_no_grad_forward_equals_autograd_forward(signed, adaptive, groups, grad_type,
                                                     grad_scale):
    q = LSQQuantizer(4, signed, init_clip=1.2 if adaptive != "none" else 0.06,
                     num_groups=groups, adaptive=adaptive, grad_type=grad_type,
                     grad_scale=grad_scale)
    w = _weight(groups)
    expected = q(w.clone().requires_grad_(True)).detach()
    with torch.no_grad():
        got = q(w)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lsq_no_grad_forward_equals_autograd_forward_per_channel_activations(dtype):
    q = LSQQuantizer(4, False, init_clip=0.7, num_groups=6, channel_dim=1).to(dtype)
    x = _weight(3, dtype).relu().reshape(2, 6, 12, 3) * 20
    expected = q(x.clone().requires_grad_(True)).detach()
    with torch.no_grad():
        got = q(x)
    assert got.dtype == dtype and torch.equal(got, expected)


def test_pact_no_grad_forward_equals_autograd_forward():
    q = PACTQuantizer(4, init_clip=0.05)
    x = _weight(4).relu()
    expected = q(x.clone().requires_grad_(True)).detach()
    with torch.no_grad():
        assert torch.equal(q(x), expected)


def test_lsq_no_grad_var_mean_leaves_the_weight_unchanged():
    q = LSQQuantizer(4, True, init_clip=1.5, adaptive="var-mean")
    w = _weight(5)
    before = w.clone()
    with torch.no_grad():
        y = q(w)
    assert torch.equal(w, before) and y.data_ptr() != w.data_ptr()


def test_lsq_no_grad_forward_counts_iterations_and_keeps_warmup():
    q = LSQQuantizer(4, False, stable=2)
    x = _weight(6).abs()
    with torch.no_grad():
        first = q(x)
        q(x)
        q(x)
    assert torch.equal(first, x)  # warm-up: pass-through
    assert float(q.iteration) == 3.0
    assert float(q.clip_val.detach()) == pytest.approx(float(x.abs().max()))


def test_standardize_returns_a_new_tensor_equal_to_the_formula():
    w = _weight(7)
    out = standardize(w, 2)
    flat = w.reshape(2, -1)
    std, mean = torch.std_mean(flat, dim=1, keepdim=True)
    assert out.data_ptr() != w.data_ptr()
    # the statistics come from other reductions than std_mean: equal to within float rounding
    assert torch.allclose(out, ((flat - mean) / (std + 1e-5)).reshape(w.shape), rtol=1e-6,
                          atol=1e-6)


def test_standardize_gradient_divides_by_the_detached_std():
    w = _weight(8).requires_grad_(True)
    standardize(w, 1).sum().backward()
    std = torch.std(w.detach())
    assert torch.allclose(w.grad, torch.full_like(w, 1.0) / (std + 1e-5))


@pytest.mark.parametrize("shape,groups", [((256, 256, 3, 3), 1), ((64, 3, 7, 7), 1),
                                          ((128, 64, 1, 1), 128), ((10, 512), 2)])
def test_standardize_statistics_agree_with_std_mean(shape, groups):
    torch.manual_seed(0)
    w = torch.randn(*shape) * 0.05 + 0.01
    flat = w.reshape(groups, -1)
    std, mean = torch.std_mean(flat, dim=1, keepdim=True)
    reference = ((flat - mean) / (std + 1e-5)).reshape(shape)
    got = standardize(w, groups)
    assert got.shape == w.shape and got.data_ptr() != w.data_ptr()
    assert torch.allclose(got, reference, rtol=1e-5, atol=1e-6)
    assert float((got - reference).abs().max()) < 1e-5
