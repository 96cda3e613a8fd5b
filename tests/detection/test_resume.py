"""Exact-resume helpers that need no fork: the unoptimized TorchScript block."""
import warnings

import torch

from model_quantization.detection.resume import unoptimized_torchscript


def _focal_like(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")
    pt = p * t + (1 - p) * (1 - t)
    return (0.25 * t + 0.75 * (1 - t)).mul(ce * (1 - pt) ** 2).sum()


def _gradients(fn, calls):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 80, generator=gen)
    t = (torch.rand(2000, 80, generator=gen) < 0.05).float()
    grads = []
    for _ in range(calls):
        leaf = x.clone().requires_grad_()
        fn(leaf, t).backward()
        grads.append(leaf.grad)
    return grads


def test_unoptimized_torchscript_same_gradient_on_every_call():
    # a resumed process makes its first call where the uninterrupted one makes its n-th
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script deprecated in torch 2.x
        scripted = torch.jit.script(_focal_like)
    with unoptimized_torchscript():
        first, *later = _gradients(scripted, 4)
    assert all(torch.equal(first, g) for g in later)


def test_unoptimized_torchscript_restores_the_executor_setting():
    before = torch._C._get_graph_executor_optimize()
    with unoptimized_torchscript():
        assert torch._C._get_graph_executor_optimize() is False
    assert torch._C._get_graph_executor_optimize() == before
