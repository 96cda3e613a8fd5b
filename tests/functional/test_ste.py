"""STE helpers: exact forward values and the defined gradients."""
import torch

from model_quantization.functional import (
    grad_scale,
    round_ste,
    ste_below,
    ste_identity,
    ste_masked,
)


def test_round_ste_rounds_and_passes_gradient():
    x = torch.tensor([0.2, 1.7, -0.6], requires_grad=True)
    y = round_ste(x)
    y.sum().backward()
    assert y.tolist() == [0.0, 2.0, -1.0] and x.grad.tolist() == [1.0, 1.0, 1.0]


def test_grad_scale_keeps_value_bit_exact_and_scales_gradient():
    x = torch.tensor([0.1, 0.7, 1.3], requires_grad=True)
    y = grad_scale(x, 0.3)
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.equal(x.grad, torch.full((3,), 0.3))


def test_ste_identity_returns_value_exactly_and_gradient_to_through():
    x = torch.tensor([0.1, 0.7, 1.3], requires_grad=True)
    value = torch.tensor([1.0 / 3, 2.0 / 3, 1.0])
    y = ste_identity(value, x)
    assert torch.equal(y, value)  # (value - x).detach() + x would be off by an ulp
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0]


def test_ste_masked_blocks_gradient_outside_mask():
    x = torch.tensor([0.1, 0.7, 1.3], requires_grad=True)
    y = ste_masked(torch.zeros(3), x, x < 1)
    y.sum().backward()
    assert torch.equal(y, torch.zeros(3)) and x.grad.tolist() == [1.0, 1.0, 0.0]


def test_ste_below_equals_ste_masked_on_grouped_input():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 50, generator=g)
    hi = torch.tensor([[-0.5], [0.0], [0.8]])
    x.view(-1)[:3] = hi.view(-1)  # ties at hi: blocked in both (x < hi is False)
    upstream = torch.randn(3, 50, generator=g)
    value = torch.round(x)
    a = x.clone().requires_grad_()
    b = x.clone().requires_grad_()
    ya, yb = ste_below(value, a, hi), ste_masked(value, b, b < hi)
    assert torch.equal(ya, value) and torch.equal(yb, value)
    (ya * upstream).sum().backward()
    (yb * upstream).sum().backward()
    assert torch.equal(a.grad, b.grad)
    assert (a.grad[x >= hi] == 0).all() and torch.equal(a.grad[x < hi], upstream[x < hi])


def test_ste_below_keeps_no_boolean_mask_for_backward():
    x = torch.rand(4, 8, requires_grad=True)
    y = ste_below(torch.zeros(4, 8), x, torch.tensor(0.5))
    saved = [t for t in y.grad_fn.saved_tensors]
    assert all(t.dtype != torch.bool for t in saved)
