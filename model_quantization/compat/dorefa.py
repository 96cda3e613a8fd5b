"""QTool's ``dorefa.RoundSTE``: the rounding autograd Function the fork's BatchNorm imports.

Forward ``round(x)`` elementwise; backward passes the incoming gradient unchanged (the
straight-through estimator, Bengio et al. 2013, as used by DoReFa-Net, Zhou et al. 2016).
``RoundSTE.apply(x, ratio)`` accepts QTool's unused second argument (its gradient is ``None``).
"""
import torch

__all__ = ["RoundSTE"]


class RoundSTE(torch.autograd.Function):
    """``round(x)`` with a straight-through gradient; ``apply(x[, ratio])``."""

    @staticmethod
    def forward(ctx, x, ratio=None):
        ctx.has_ratio = ratio is not None
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad_output):
        if ctx.has_ratio:
            return grad_output, None
        return (grad_output,)
