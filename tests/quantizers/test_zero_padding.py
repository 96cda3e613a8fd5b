"""``commutes_with_zero_padding``: a quantizer that says True gives the same values, input
gradients, clip gradients and state whether the zero padding comes before or after it (the
patched detectron2 ``Conv2d`` then lets the convolution pad); the ones below that say False would
not. LQ-Net says False without being in that list: its levels are learned, and 0 stays a level only
while the fitted basis stays positive."""
import copy

import pytest
import torch
import torch.nn.functional as F

from model_quantization.quantizers import build_quantizer

PAD = (1, 2, 2, 1)

COMMUTING = {
    "dorefa act": ("dorefa", dict(num_levels=4, signed=False)),
    "dorefa act warm-up": ("dorefa", dict(num_levels=4, signed=False, stable=2)),
    "lsq act": ("lsq", dict(num_levels=4, signed=False, init_clip=1.5)),
    "lsq act warm-up": ("lsq", dict(num_levels=4, signed=False, init_clip=1.5, stable=2)),
    "lsq act per channel": ("lsq", dict(num_levels=3, signed=False, init_clip=1.2, num_groups=3,
                                        channel_dim=1)),
    "pact": ("pact", dict(num_levels=4, init_clip=1.5)),
}
NOT_COMMUTING = {
    "dorefa weight": ("dorefa", dict(num_levels=4, signed=True)),
    "lsq signed": ("lsq", dict(num_levels=4, signed=True, init_clip=1.5)),
    "lsq STE-scale": ("lsq", dict(num_levels=4, signed=False, init_clip=1.5,
                                  grad_type="STE-scale")),
}


def _inputs():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 6) * 1.5  # negatives, inside, above the clip
    x[0, 0, 0, :3] = 0.0
    g = torch.rand(F.pad(x, PAD).shape) + 0.5
    return x, g


def _paths(q, steps=3):
    """Run pad-then-quantize and quantize-then-pad ``steps`` times on two copies of ``q``."""
    x, g = _inputs()
    q_before, q_after = q, copy.deepcopy(q)
    for _ in range(steps):
        x_before, x_after = x.clone().requires_grad_(), x.clone().requires_grad_()
        y_before = q_before(F.pad(x_before, PAD))
        y_after = F.pad(q_after(x_after), PAD)
        (y_before * g).sum().backward()
        (y_after * g).sum().backward()
        yield (y_before, x_before.grad, q_before), (y_after, x_after.grad, q_after)


@pytest.mark.parametrize("name", sorted(COMMUTING))
def test_commuting_quantizer_pads_either_side_alike(name):
    method, kwargs = COMMUTING[name]
    q = build_quantizer(method, **kwargs)
    assert q.commutes_with_zero_padding()
    for (y_b, gx_b, q_b), (y_a, gx_a, q_a) in _paths(q):
        assert torch.equal(y_b, y_a)
        assert torch.equal(gx_b, gx_a)
        state_b, state_a = q_b.state_dict(), q_a.state_dict()
        for key in state_b:
            assert torch.allclose(state_b[key], state_a[key], rtol=1e-6, atol=0), key
        for (n, p_b), (_, p_a) in zip(q_b.named_parameters(), q_a.named_parameters()):
            assert torch.allclose(p_b.grad, p_a.grad, rtol=1e-5, atol=1e-7), n


@pytest.mark.parametrize("name", sorted(NOT_COMMUTING))
def test_non_commuting_quantizer_says_so_and_would_differ(name):
    method, kwargs = NOT_COMMUTING[name]
    q = build_quantizer(method, **kwargs)
    assert not q.commutes_with_zero_padding()
    (y_b, gx_b, q_b), (y_a, gx_a, q_a) = next(_paths(q, steps=1))
    grads_b = [p.grad for p in q_b.parameters() if p.grad is not None]
    grads_a = [p.grad for p in q_a.parameters() if p.grad is not None]
    same = torch.equal(y_b, y_a) and torch.equal(gx_b, gx_a) and all(
        torch.allclose(b, a) for b, a in zip(grads_b, grads_a))
    assert not same, "{} commutes with zero padding here; it could say so".format(name)
