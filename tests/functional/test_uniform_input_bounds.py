"""The one-pass input gradient of clip_fake_quant (CPU, one clip) against the masked product.

The backward zeroes the gradient outside the clip range with ``hardtanh_backward`` between two
input bounds found from the forward's own arithmetic. These tests put inputs on, and on every
representable neighbour around, each bound, and check the result equals ``grad * mask`` with the
mask computed the long way (``_masks``), value for value.
"""
import pytest
import torch

from model_quantization.functional import clip_fake_quant, uniform


def _neighbours(values, dtype, count=6):
    """Every representable value within ``count`` steps of each of ``values``."""
    base = torch.tensor(values, dtype=dtype)
    out, up, down = [base], base, base
    for _ in range(count):
        up = torch.nextafter(up, torch.full_like(up, float("inf")))
        down = torch.nextafter(down, torch.full_like(down, -float("inf")))
        out += [up, down]
    return torch.cat(out)


def _probe_inputs(clip, levels, signed, dtype):
    c = float(clip)
    edges = [-c, c] if signed else [0.0, c]
    tiny = torch.finfo(dtype).tiny
    special = [0.0, -0.0, tiny, -tiny, 1e-45 if dtype == torch.float32 else 5e-324, 3 * c, -3 * c]
    steps = levels - 1
    levels_at = [(-c if signed else 0.0) + k * (2 * c if signed else c) / steps
                 for k in range(levels)]
    torch.manual_seed(levels)
    noise = (torch.randn(2000, dtype=dtype) * 1.5 * c).tolist()
    return torch.cat([_neighbours(edges + levels_at, dtype), torch.tensor(special + noise,
                                                                          dtype=dtype)])


CASES = [
    (1.0, 4, False), (1.0, 2, False), (0.7, 3, False), (2.5, 256, False), (6.0, 16, False),
    (1.3, 4, True), (0.05, 3, True), (1.0, 2, True), (3.7, 255, True),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("clip,levels,signed", CASES)
def test_fast_input_gradient_equals_masked_product(clip, levels, signed, as_tensor, dtype):
    c = torch.tensor([[clip]], dtype=dtype) if as_tensor else clip
    x = _probe_inputs(clip, levels, signed, dtype).reshape(1, -1)
    g = torch.randn(x.shape, dtype=dtype)
    fast = uniform._fast_input_grad(g, x, c, levels, signed)
    assert fast is not None, "the one-pass gradient should apply to a single CPU clip"
    mask, _ = uniform._masks(x, c, levels, signed, "lsq")
    assert torch.equal(fast, g * mask)
    # Both bounds are exercised: gradients pass and are zeroed on both sides of each bound.
    assert 0 < int(mask.sum()) < mask.numel()


@pytest.mark.parametrize("signed", [False, True])
def test_clip_fake_quant_backward_uses_the_bounds_and_keeps_the_clip_gradient(signed):
    torch.manual_seed(0)
    x = (torch.randn(4, 8, 5, 5) * 2).requires_grad_()
    clip = torch.tensor([1.1], requires_grad=True)
    g = torch.randn(x.shape)
    clip_fake_quant(x, clip, 4, signed=signed, mode="lsq").backward(g)
    fast_x, fast_c = x.grad.clone(), clip.grad.clone()
    x.grad, clip.grad = None, None
    original = uniform._fast_input_grad
    uniform._fast_input_grad = lambda *args: None  # the masked path
    try:
        clip_fake_quant(x, clip, 4, signed=signed, mode="lsq").backward(g)
    finally:
        uniform._fast_input_grad = original
    assert torch.equal(fast_x, x.grad)
    assert torch.equal(fast_c, clip.grad)


def test_bounds_fall_back_when_not_in_the_window():
    # A clip of 1e30 puts the lower bound ~1e29 subnormal steps below zero: no bounds, masks.
    assert uniform._input_bounds(1e30, 4, False, torch.float32) is None
    assert uniform._input_bounds(0.0, 4, False, torch.float32) is None
    x = torch.tensor([-1.0, 0.0, 5e29, 2e30], requires_grad=True)
    clip_fake_quant(x, 1e30, 4, mode="fixed").backward(torch.ones(4))
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_one_pass_gradient_not_used_for_per_group_clips_or_half():
    x, g = torch.randn(3, 10), torch.randn(3, 10)
    assert uniform._fast_input_grad(g, x, torch.ones(3, 1), 4, False) is None
    assert uniform._fast_input_grad(g.half(), x.half(), 1.0, 4, False) is None
