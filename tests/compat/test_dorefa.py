"""compat.dorefa.RoundSTE: round forward, straight-through backward (docs/forks.md, "What the
forks import and call")."""
import torch

from model_quantization.compat.dorefa import RoundSTE


def test_round_ste_rounds_values():
    x = torch.tensor([-1.6, -0.4, 0.4, 1.5, 2.6])
    assert torch.equal(RoundSTE.apply(x), torch.round(x))


def test_round_ste_gradient_passes_straight_through():
    x = torch.tensor([-1.6, 0.3, 2.6], requires_grad=True)
    upstream = torch.tensor([0.5, -2.0, 3.0])
    RoundSTE.apply(x).backward(upstream)
    assert torch.equal(x.grad, upstream)


def test_round_ste_accepts_qtool_ratio_argument():
    x = torch.tensor([0.2, 0.7], requires_grad=True)
    y = RoundSTE.apply(x, 0.5)
    y.sum().backward()
    assert torch.equal(y, torch.tensor([0.0, 1.0])) and torch.equal(x.grad, torch.ones(2))
