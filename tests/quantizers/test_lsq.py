"""LSQ (QTool form) against a plain NumPy reference: forward, input and clip gradients."""
import numpy as np
import pytest
import torch

from model_quantization.quantizers import LSQQuantizer


def _reference(x, c, levels, signed, g):
    """NumPy QTool-LSQ: output, d/dx and d/dc of sum(g * y) (per-tensor clip c, may be < 0)."""
    a = abs(c)
    u = x / a
    lo = -1.0 if signed else 0.0
    inside = (u >= lo) & (u <= 1.0)
    uc = np.clip(u, lo, 1.0)
    if signed:
        q = 2.0 * np.round((uc + 1) / 2 * (levels - 1)) / (levels - 1) - 1
    else:
        q = np.round(uc * (levels - 1)) / (levels - 1)
    y = q * a
    dy_da = np.where(inside, q - u, np.where(u > 1.0, 1.0, lo))
    grad_x = g * inside
    grad_c = np.sum(g * dy_da) * np.sign(c)
    return y, grad_x, grad_c


def _run(q, x, g):
    xt = torch.tensor(x, requires_grad=True)
    y = q(xt)
    (y * torch.tensor(g)).sum().backward()
    return y.detach().numpy(), xt.grad.numpy(), q.clip_val.grad.numpy()


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("levels", [3, 4, 256])
@pytest.mark.parametrize("clip", [0.8, -1.3])
def test_lsq_matches_numpy_reference(signed, levels, clip):
    rng = np.random.RandomState(levels)
    x = rng.randn(4, 3, 5, 5) * 1.2
    g = rng.rand(*x.shape) + 0.5
    q = LSQQuantizer(levels, signed, init_clip=1.0).double()
    with torch.no_grad():
        q.clip_val.fill_(clip)
    y, gx, gc = _run(q, x, g)
    ry, rgx, rgc = _reference(x, clip, levels, signed, g)
    np.testing.assert_allclose(y, ry, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(gx, rgx)
    np.testing.assert_allclose(gc.reshape(()), rgc, rtol=1e-10)


@pytest.mark.parametrize("signed,below", [(False, 0.0), (True, -1.0)])
def test_lsq_clip_gradient_per_region(signed, below):
    # c = 1, L = 4: x = 0.4 quantizes to 1/3 in both ranges, so inside d/dc = q - x/c = 1/3 - 0.4
    q = LSQQuantizer(4, signed, init_clip=1.0).double()
    for value, expected in [(0.4, 1.0 / 3 - 0.4), (2.0, 1.0), (-2.0, below)]:
        q.clip_val.grad = None
        q(torch.tensor([value], dtype=torch.float64)).sum().backward()
        assert float(q.clip_val.grad.reshape(())) == pytest.approx(expected, abs=1e-12)


def test_lsq_ste_scale_multiplies_input_gradient_by_sqrt_n_over_inside():
    x = torch.tensor([-1.0, 0.2, 0.5, 0.9, 3.0, 4.0, 0.1, -0.3], requires_grad=True)
    q = LSQQuantizer(4, False, init_clip=1.0, ndim=1, channel_dim=1, grad_type="STE-scale")
    q(x).sum().backward()
    inside = ((x >= 0) & (x <= 1)).detach()
    factor = np.sqrt(x.numel() / float(inside.sum()))
    expected = np.where(inside.numpy(), factor, 0.0)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_lsq_grad_scale_scales_clip_gradient_only():
    x = torch.linspace(-0.5, 2.0, 40)
    grads, outs = [], []
    for g in (None, 0.25):
        q = LSQQuantizer(4, False, init_clip=1.0, grad_scale=g)
        outs.append(q(x).detach())
        q(x).sum().backward()
        grads.append(float(q.clip_val.grad.reshape(())))
    assert torch.equal(outs[0], outs[1])
    assert grads[1] == pytest.approx(0.25 * grads[0], rel=1e-6)


def test_lsq_per_channel_weights_use_one_clip_per_output_channel():
    rng = np.random.RandomState(0)
    w = rng.randn(3, 2, 3, 3)
    clips = [0.5, 1.0, 2.0]
    q = LSQQuantizer(4, True, num_groups=3, channel_dim=0).double()
    assert tuple(q.clip_val.shape) == (3, 1, 1, 1)
    with torch.no_grad():
        q.clip_val.copy_(torch.tensor(clips).reshape(3, 1, 1, 1))
    g = np.ones_like(w)
    y, _, gc = _run(q, w, g)
    for i, c in enumerate(clips):
        ry, _, rgc = _reference(w[i], c, 4, True, g[i])
        np.testing.assert_allclose(y[i], ry, atol=1e-12)
        assert gc.reshape(-1)[i] == pytest.approx(rgc, rel=1e-10)


def test_lsq_per_channel_activations_clip_shape_and_values():
    q = LSQQuantizer(4, False, num_groups=2, channel_dim=1).double()
    assert tuple(q.clip_val.shape) == (1, 2, 1, 1)
    assert tuple(LSQQuantizer(4, False, channel_dim=1).clip_val.shape) == (1,)
    with torch.no_grad():
        q.clip_val.copy_(torch.tensor([1.0, 3.0]).reshape(1, 2, 1, 1))
    x = np.random.RandomState(1).rand(2, 2, 4, 4) * 4
    y = q(torch.tensor(x)).detach().numpy()
    for ch, c in enumerate((1.0, 3.0)):
        ry, _, _ = _reference(x[:, ch], c, 4, False, np.ones_like(x[:, ch]))
        np.testing.assert_allclose(y[:, ch], ry, atol=1e-12)


def test_lsq_var_mean_standardises_weights_with_detached_stats():
    rng = np.random.RandomState(2)
    w = rng.randn(4, 3, 3, 3) * 0.1 + 0.05
    q = LSQQuantizer(4, True, init_clip=1.5, adaptive="var-mean").double()
    wt = torch.tensor(w, requires_grad=True)
    y = q(wt)
    wn = (w - w.mean()) / (w.std(ddof=1) + 1e-5)
    ry, rgx, _ = _reference(wn, 1.5, 4, True, np.ones_like(w))
    np.testing.assert_allclose(y.detach().numpy(), ry, atol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(wt.grad.numpy(), rgx / (w.std(ddof=1) + 1e-5), rtol=1e-10)


def test_lsq_rejects_unknown_adaptive_with_suggestion():
    with pytest.raises(ValueError, match="adaptive='var_mean'.*Did you mean 'var-mean'"):
        LSQQuantizer(4, True, adaptive="var_mean")


def test_lsq_rejects_nonpositive_init_clip():
    with pytest.raises(ValueError, match="init_clip must be > 0"):
        LSQQuantizer(4, False, init_clip=0.0)


def test_lsq_supports_sixteen_bit_levels():
    q = LSQQuantizer(2 ** 16, False, init_clip=1.0, channel_dim=1)
    x = torch.linspace(0, 1, 200001)
    y = q(x).detach()
    assert 60000 < torch.unique(y).numel() <= 2 ** 16
    assert float((y - x).abs().max()) <= 0.5 / (2 ** 16 - 1) + 1e-6
