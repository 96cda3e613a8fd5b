"""Contract every registered quantizer keeps, per role and level count.

Grid (at most L distinct outputs, all on the quantizer's own grid; grid values are fixed
points), STE (gradient = upstream inside the range, 0 outside), learnable parameters get finite
gradients, a disabled quantizer is bit-identical to float (forward, backward, one SGD step), a
state_dict round trip reproduces the outputs, ``level_num`` changed in place changes the grid,
warm-up passes the input through and initialises the clip from data.
"""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from model_quantization.quantizers import QuantSpec, available_methods

METHODS = [m for m in available_methods() if not m.startswith("toy")]
W_SHAPE = [8, 4, 3, 3]
A_SHAPE = [1, 4, 1, 1]
LEVELS = [4, 3, 16, 256]  # 2 bit, ternary, 4 bit, 8 bit


def _build(method, role, levels, **options):
    shape = W_SHAPE if role == "weight" else A_SHAPE
    return QuantSpec(method, levels=levels, **options).build(role, shape)


def _cases():
    cases = []
    for method in METHODS:
        for role in ("weight", "activation"):
            for levels in LEVELS:
                try:
                    _build(method, role, levels)
                except ValueError:
                    continue  # a role / level count the method rejects (pact weights)
                cases.append(pytest.param(method, role, levels,
                                          id="{}-{}-L{}".format(method, role, levels)))
    return cases


CASES = _cases()
LEARNABLE = [c for c in CASES
             if any(p.requires_grad for p in _build(*c.values).parameters())]


def _spread(role, quantizer, seed=0):
    """An input covering the whole grid and beyond it on both sides."""
    g = torch.Generator().manual_seed(seed)
    shape = W_SHAPE if role == "weight" else [2, 4, 6, 6]
    x = torch.randn(shape, generator=g)
    grid = quantizer.grid() if not _data_grid(quantizer) else x.new_ones(1, 2)
    span = float(grid.abs().max())
    return x * span if role == "weight" else x * span + 0.3 * span


def _data_grid(quantizer):
    """DoReFa binary weights scale by mean|w|, so their grid depends on the input."""
    return quantizer.method == "dorefa" and quantizer.signed and quantizer.num_levels == 2


def _output_grid(quantizer, x):
    return quantizer.grid(x) if _data_grid(quantizer) else quantizer.grid()


@pytest.mark.parametrize("method,role,levels", CASES)
def test_contract_distinct_values_at_most_levels(method, role, levels):
    q = _build(method, role, levels).eval()
    x = _spread(role, q)
    y = q(x)
    assert 2 <= torch.unique(y).numel() <= levels


@pytest.mark.parametrize("method,role,levels", CASES)
def test_contract_outputs_lie_on_grid(method, role, levels):
    q = _build(method, role, levels).eval()
    x = _spread(role, q)
    grid = _output_grid(q, x).reshape(-1)
    y = q(x).detach().reshape(-1, 1)
    assert bool((y == grid.reshape(1, -1)).any(dim=1).all())


@pytest.mark.parametrize("method,role,levels", CASES)
def test_contract_grid_values_are_fixed_points(method, role, levels):
    q = _build(method, role, levels).eval()
    if method == "dorefa" and role == "weight" and levels > 2:
        pytest.skip("DoReFa weights are re-normalised by tanh each pass: no fixed points")
    if _data_grid(q):
        x = torch.where(torch.randn(W_SHAPE) >= 0, torch.tensor(0.5), torch.tensor(-0.5))
    else:
        grid = q.grid().reshape(-1)
        n = 1
        for s in (W_SHAPE if role == "weight" else A_SHAPE):
            n *= s
        reps = -(-n // grid.numel())
        x = grid.repeat(reps)[:n].reshape(W_SHAPE if role == "weight" else A_SHAPE)
    assert torch.equal(q(x), x)


@pytest.mark.parametrize("method,role,levels", CASES)
def test_contract_ste_gradient_inside_range_is_upstream(method, role, levels):
    q = _build(method, role, levels).eval()
    if q.ste_range() is None:
        pytest.skip("{} {} is not a clipped STE (see its reference test)".format(method, role))
    x = _spread(role, q).requires_grad_()
    upstream = torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) + 0.5
    (q(x) * upstream).sum().backward()
    lo, hi = (float(v.reshape(-1)[0]) for v in q.ste_range())
    margin = 1e-4 * max(1.0, abs(hi) if hi != float("inf") else 1.0)
    inside = (x > lo + margin) & (x < hi - margin)
    outside = (x < lo - margin) | (x > hi + margin)
    assert inside.any()
    assert torch.equal(x.grad[inside], upstream[inside])
    assert torch.equal(x.grad[outside], torch.zeros_like(x.grad[outside]))


@pytest.mark.parametrize("method,role,levels", LEARNABLE)
def test_contract_learnable_parameters_get_finite_gradients(method, role, levels):
    q = _build(method, role, levels).train()
    params = [p for p in q.parameters() if p.requires_grad]
    x = _spread(role, q).requires_grad_()
    (q(x) * torch.linspace(-1, 1, x.numel()).reshape(x.shape)).sum().backward()
    for p in params:
        assert p.grad is not None and bool(torch.isfinite(p.grad).all())
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())


class _TinyQuantConv(nn.Module):
    """Test-local stand-in for a quantized conv: conv(q_a(x), q_w(weight))."""

    def __init__(self, conv, q_w, q_a):
        super().__init__()
        self.conv, self.q_w, self.q_a = conv, q_w, q_a

    def forward(self, x):
        w = self.q_w(self.conv.weight) if self.q_w is not None else self.conv.weight
        return F.conv2d(self.q_a(x), w, self.conv.bias, padding=1)


@pytest.mark.parametrize("method", METHODS)
def test_contract_disabled_equals_float_bit_for_bit(method):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 8, 3, padding=1)
    ref = copy.deepcopy(conv)
    q_a = _build(method, "activation", 4)
    q_a.enabled = False
    q_w = None
    if method != "pact":
        q_w = _build(method, "weight", 4)
        q_w.enabled = False
    model = _TinyQuantConv(conv, q_w, q_a)
    x = torch.randn(2, 4, 6, 6)
    y, y_ref = model(x), ref(x)
    assert torch.equal(y, y_ref)
    y.square().sum().backward()
    y_ref.square().sum().backward()
    assert torch.equal(conv.weight.grad, ref.weight.grad)
    assert torch.equal(conv.bias.grad, ref.bias.grad)
    for module in (conv, ref):
        torch.optim.SGD(module.parameters(), lr=0.1).step()
    assert torch.equal(conv.weight, ref.weight) and torch.equal(conv.bias, ref.bias)


@pytest.mark.parametrize("method,role,levels", CASES)
def test_contract_state_dict_round_trip(method, role, levels):
    q = _build(method, role, levels).train()
    params = [p for p in q.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.05) if params else None
    for seed in range(3):  # moves clip_val / basis and iteration away from their init
        x = _spread(role, q, seed).requires_grad_()
        q(x).square().sum().backward()
        if opt is not None:
            opt.step()
            opt.zero_grad()
    fresh = _build(method, role, levels)
    fresh.load_state_dict(q.state_dict())
    for name, value in q.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name
    x = _spread(role, q, 7)
    assert torch.equal(fresh.eval()(x), q.eval()(x))


@pytest.mark.parametrize("method", METHODS)
def test_contract_level_num_in_place_changes_grid(method):
    q = _build(method, "activation", 4).eval()
    x = _spread("activation", q)
    q.level_num.fill_(16)
    assert q.grid().shape[-1] == 16
    assert 4 < torch.unique(q(x)).numel() <= 16


def _warmup_methods():
    return [m for m in METHODS if hasattr(_build(m, "activation", 4), "clip_val")]


@pytest.mark.parametrize("method", _warmup_methods())
def test_contract_warmup_passes_input_and_sets_clip(method):
    q = _build(method, "activation", 4, stable=2).train()
    maxima = []
    for seed in range(2):
        x = (torch.rand(2, 4, 5, 5, generator=torch.Generator().manual_seed(seed)) * (seed + 2))
        x.requires_grad_()
        y = q(x)
        assert torch.equal(y, x)
        y.sum().backward()
        assert q.clip_val.grad is not None
        assert torch.equal(q.clip_val.grad, torch.zeros_like(q.clip_val))
        maxima.append(float(x.detach().max()))
    assert float(q.clip_val.detach().reshape(-1)[0]) == pytest.approx(sum(maxima) / 2, rel=1e-6)
    x = torch.rand(2, 4, 5, 5) * 3
    assert torch.unique(q(x)).numel() <= 4


@pytest.mark.gpu
@pytest.mark.parametrize("method,role,levels", [c for c in CASES if c.values[2] in (3, 4)])
def test_contract_cuda_matches_cpu(method, role, levels):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (run on a GPU machine: make test GPUS=all)")
    q = _build(method, role, levels).eval()
    x = _spread(role, q).requires_grad_()
    y = q(x)
    y.square().sum().backward()
    qc = copy.deepcopy(q).cuda()
    xc = x.detach().cuda().requires_grad_()
    yc = qc(xc)
    yc.square().sum().backward()
    torch.testing.assert_close(yc.cpu(), y, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(xc.grad.cpu(), x.grad, rtol=1e-5, atol=1e-5)
