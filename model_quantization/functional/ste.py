"""Straight-through estimators and gradient-scaling identities (pure tensor code).

Every function here returns a value computed in the forward pass and defines its gradient
explicitly, so the quantizers stay short and their gradients are testable on their own.
"""
import torch

__all__ = ["round_ste", "grad_scale", "clamp_ste_scale", "ste_identity"]


class _RoundSTE(torch.autograd.Function):
    """``round(x)`` forward, identity backward (Bengio et al., 2013)."""

    @staticmethod
    def forward(ctx, x):  # noqa: D401
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


def round_ste(x):
    """Round to the nearest integer; the gradient passes straight through."""
    return _RoundSTE.apply(x)


def grad_scale(x, scale):
    """Return ``x`` unchanged, with its gradient multiplied by ``scale`` (a float or tensor)."""
    scaled = x * scale
    return (x - scaled).detach() + scaled


def ste_identity(value, through):
    """Return ``value`` in the forward pass; the gradient flows to ``through`` as identity."""
    return (value - through).detach() + through


class _ClampSTEScale(torch.autograd.Function):
    """Clamp with the 'STE-scale' gradient: identity inside ``[lo, hi]``, zero outside, and the
    inside gradient multiplied by ``sqrt(N_total / N_inside)`` so its overall magnitude does not
    shrink when many elements are clipped (QTool's ``grad_type: STE-scale``)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        inside = (x >= lo) & (x <= hi)
        ctx.save_for_backward(inside)
        return torch.max(torch.min(x, hi), lo) if torch.is_tensor(lo) else x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad_output):
        (inside,) = ctx.saved_tensors
        n_inside = inside.sum().clamp(min=1).to(grad_output.dtype)
        factor = torch.sqrt(inside.numel() / n_inside)
        return grad_output * inside.to(grad_output.dtype) * factor, None, None


def clamp_ste_scale(x, lo, hi):
    """Clamp ``x`` to ``[lo, hi]`` (floats) with the STE-scale gradient; see ``_ClampSTEScale``."""
    return _ClampSTEScale.apply(x, lo, hi)
