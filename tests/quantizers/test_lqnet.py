"""LQ-Net against plain NumPy / loop references: codebook, thresholds, basis update, gradients."""
import itertools
import math

import numpy as np
import pytest
import torch

from model_quantization.quantizers import LQNetQuantizer


def _levels(basis, signed, ternary=None):
    """All codeword values for a 1-group basis (list of floats), by enumerating digits."""
    if ternary == "real":
        if signed:
            return [-basis[0], 0.0, basis[0]]
        return sorted([0.0, basis[0], basis[0] + basis[1]])
    digits = (-1.0, 1.0) if signed else (0.0, 1.0)
    return sorted(sum(d * v for d, v in zip(code, basis))
                  for code in itertools.product(digits, repeat=len(basis)))


def _quantize_loop(x, levels):
    """Element by element: the level whose midpoint interval contains x (ties go up)."""
    out = np.empty_like(x)
    for i, v in np.ndenumerate(x):
        k = 0
        for j in range(len(levels) - 1):
            if v >= (levels[j] + levels[j + 1]) / 2:
                k = j + 1
        out[i] = levels[k]
    return out


@pytest.mark.parametrize("signed,levels", [(True, 4), (False, 4), (True, 8), (False, 3), (True, 3)])
def test_lqnet_forward_matches_loop_reference(signed, levels):
    q = LQNetQuantizer(levels, signed, fan_in=18, channel_dim=0 if signed else 1).double().eval()
    basis = q.basis[:, 0].tolist()
    ref_levels = _levels(basis, signed, "real" if levels == 3 else None)
    np.testing.assert_allclose(q.grid()[0].numpy(), ref_levels, rtol=0, atol=1e-15)
    x = np.random.RandomState(levels).randn(4, 2, 3, 3) * max(ref_levels)
    y = q(torch.tensor(x)).numpy()
    np.testing.assert_allclose(y, _quantize_loop(x, ref_levels), rtol=0, atol=1e-15)


def test_lqnet_weight_init_uses_fan_in():
    q = LQNetQuantizer(4, True, fan_in=50)
    unit = 0.6745 * math.sqrt(2.0 / 50) / 2
    np.testing.assert_allclose(q.basis[:, 0].numpy(), [unit, 2 * unit], rtol=1e-6)


def test_lqnet_weight_init_takes_fan_from_first_input_when_not_given():
    q = LQNetQuantizer(2, True).eval()
    q(torch.randn(6, 8, 1, 1))
    assert float(q.basis[0, 0]) == pytest.approx(0.6745 * math.sqrt(2.0 / 8), rel=1e-6)


def test_lqnet_activation_init():
    q = LQNetQuantizer(4, False, channel_dim=1)
    np.testing.assert_allclose(q.basis[:, 0].numpy(), [0.6745, 2 * 0.6745], rtol=1e-6)


def test_lqnet_basis_update_is_least_squares_then_ema():
    q = LQNetQuantizer(4, False, channel_dim=1).double().train()
    old = q.basis[:, 0].numpy().copy()
    codes_of = {0.0: (0, 0), old[0]: (1, 0), old[1]: (0, 1), old[0] + old[1]: (1, 1)}
    x = np.abs(np.random.RandomState(0).randn(2, 3, 5, 5)) * 1.5
    y = q(torch.tensor(x, requires_grad=True)).detach().numpy()
    B = np.array([codes_of[min(codes_of, key=lambda k: abs(k - v))] for v in y.reshape(-1)])
    solution = np.linalg.lstsq(B.astype(float), x.reshape(-1), rcond=None)[0]
    np.testing.assert_allclose(q.basis[:, 0].numpy(), 0.9 * old + 0.1 * solution, rtol=1e-4)
    assert float(q.iteration) == 1.0


def test_lqnet_custom_update_is_running_mean_of_solutions():
    q = LQNetQuantizer(2, False, channel_dim=1, custom_update=True).double().train()
    solutions = []
    for seed in range(3):
        x = np.abs(np.random.RandomState(seed).randn(50)) + 0.2
        top = q.grid()[0, 1].item()
        y = q(torch.tensor(x, requires_grad=True)).detach().numpy()
        assigned = x[y == top]  # one binary digit: v* = mean of the elements coded 1
        solutions.append(assigned.mean())
    assert float(q.basis[0, 0]) == pytest.approx(np.mean(solutions), rel=1e-4)


def test_lqnet_basis_frozen_in_eval_and_without_grad():
    q = LQNetQuantizer(4, False, channel_dim=1).eval()
    before = q.basis.clone()
    q(torch.rand(100) * 3)
    with torch.no_grad():
        q.train()(torch.rand(100) * 3)
    assert torch.equal(q.basis, before) and float(q.iteration) == 0.0


def test_lqnet_real_ternary_gives_three_values():
    for signed in (True, False):
        q = LQNetQuantizer(3, signed, fan_in=9, channel_dim=0 if signed else 1).eval()
        x = torch.linspace(-3, 3, 200) if signed else torch.linspace(0, 3, 200)
        assert torch.unique(q(x)).numel() == 3
    signed_grid = LQNetQuantizer(3, True, fan_in=9).grid()[0]
    assert float(signed_grid[1]) == 0.0 and float(signed_grid[0]) == -float(signed_grid[2])


def test_lqnet_qtool_ternary_collapses_to_two_values():
    for signed in (True, False):
        q = LQNetQuantizer(3, signed, fan_in=9, ternary="qtool").eval()
        assert torch.unique(q(torch.linspace(-3, 3, 200))).numel() == 2


def test_lqnet_activation_gradient_zero_at_and_above_top_level():
    q = LQNetQuantizer(4, False, channel_dim=1).eval()
    top = float(q.grid()[0, -1])
    x = torch.tensor([-0.5, 0.3, top - 0.01, top, top + 1.0], requires_grad=True)
    q(x).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_lqnet_weight_gradient_is_straight_through():
    q = LQNetQuantizer(4, True, fan_in=9).eval()
    w = torch.randn(4, 9, requires_grad=True)
    g = torch.randn(4, 9)
    q(w).backward(g)
    assert torch.equal(w.grad, g)


def test_lqnet_per_group_weights_use_their_own_basis():
    q = LQNetQuantizer(2, True, num_groups=2, fan_in=4).double().eval()
    with torch.no_grad():
        q.basis.copy_(torch.tensor([[1.0, 3.0]]))
    w = torch.tensor([[0.2, -5.0, 0.1, 0.7], [0.2, -5.0, 0.1, 0.7]], dtype=torch.float64)
    y = q(w)
    assert y[0].tolist() == [1.0, -1.0, 1.0, 1.0] and y[1].tolist() == [3.0, -3.0, 3.0, 3.0]


def test_lqnet_level_num_change_rebuilds_codebook():
    q = LQNetQuantizer(4, False, channel_dim=1)
    q.level_num.fill_(8)
    assert tuple(q.grid().shape) == (1, 8)
    assert tuple(q.basis.shape) == (3, 1) and tuple(q.codec_vector.shape) == (8, 3)


def test_lqnet_rejects_unsupported_levels_listing_supported():
    with pytest.raises(ValueError, match=r"num_levels=5 is not supported; use one of 2, 3, 4, 8"):
        LQNetQuantizer(5, True)


def test_lqnet_rejects_unknown_ternary_mode():
    with pytest.raises(ValueError, match="ternary='QTool'.*Did you mean 'qtool'"):
        LQNetQuantizer(3, True, ternary="QTool")


@pytest.mark.parametrize("signed,levels", [(False, 4), (True, 3), (True, 8)])
def test_lqnet_grouped_path_agrees_with_per_tensor_path(signed, levels):
    # two identical groups take the searchsorted/bincount path, one group the threshold loop
    x = torch.randn(1, 300, dtype=torch.float64) * 1.5
    single = LQNetQuantizer(levels, signed, fan_in=9).double().train()
    grouped = LQNetQuantizer(levels, signed, fan_in=9, num_groups=2).double().train()
    y1 = single(x.clone().requires_grad_())
    y2 = grouped(x.repeat(2, 1).requires_grad_())
    assert torch.equal(y2[0], y1[0]) and torch.equal(y2[1], y1[0])
    torch.testing.assert_close(grouped.basis[:, :1], single.basis, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grouped.basis[:, 1:], single.basis, rtol=1e-9, atol=1e-12)


def test_lqnet_warmup_passes_input_for_stable_training_steps():
    q = LQNetQuantizer(4, False, channel_dim=1, stable=2).train()
    before = q.basis.clone()
    x = torch.rand(50) * 2
    for _ in range(2):
        assert torch.equal(q(x.clone().requires_grad_()), x)
    assert torch.equal(q.basis, before)
    assert torch.unique(q(x.clone().requires_grad_()).detach()).numel() <= 4
    assert not torch.equal(q.basis, before) and float(q.iteration) == 3.0


def test_lqnet_level_counts_are_exact_beyond_float32_integers():
    from model_quantization.quantizers.lqnet import _count_ones
    n = 2 ** 24 + 1  # the first whole number float32 cannot hold
    assert float(_count_ones(torch.ones(n))) == n
    mask = (torch.arange(1000) % 3 == 0).float()
    assert float(_count_ones(mask)) == float(torch.count_nonzero(mask))
