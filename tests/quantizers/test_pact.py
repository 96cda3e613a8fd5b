"""PACT against a plain NumPy reference: forward, input gradient and the clip rule."""
import numpy as np
import pytest
import torch

from model_quantization.quantizers import PACTQuantizer


def _reference(x, a, levels, g):
    y = np.round(np.clip(x, 0, a) * (levels - 1) / a) * a / (levels - 1)
    grad_x = g * ((x >= 0) & (x < a))
    grad_a = np.sum(g * (x >= a))
    return y, grad_x, grad_a


@pytest.mark.parametrize("levels", [3, 4, 256])
def test_pact_matches_numpy_reference(levels):
    rng = np.random.RandomState(levels)
    x = rng.randn(3, 4, 5, 5) * 3 + 1
    g = rng.rand(*x.shape) + 0.5
    q = PACTQuantizer(levels, init_clip=2.5).double()
    xt = torch.tensor(x, requires_grad=True)
    y = q(xt)
    (y * torch.tensor(g)).sum().backward()
    ry, rgx, rga = _reference(x, 2.5, levels, g)
    np.testing.assert_allclose(y.detach().numpy(), ry, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(xt.grad.numpy(), rgx)
    assert float(q.clip_val.grad.reshape(())) == pytest.approx(rga, rel=1e-12)


def test_pact_clip_gets_no_gradient_from_rounding():
    q = PACTQuantizer(4, init_clip=1.0)
    q(torch.tensor([0.1, 0.4, 0.7, 0.95])).sum().backward()  # all strictly inside [0, a)
    assert float(q.clip_val.grad.reshape(())) == 0.0


def test_pact_default_clip_is_eight():
    assert float(PACTQuantizer(4).clip_val.detach().reshape(())) == 8.0


def test_pact_rejects_signed_and_names_the_fix():
    with pytest.raises(ValueError, match="unsigned activations only.*'lsq' or 'dorefa'"):
        PACTQuantizer(4, signed=True)
