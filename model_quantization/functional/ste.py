"""Straight-through estimators and gradient-scaling identities (pure tensor code).

Every function here returns a value computed in the forward pass and defines its gradient
explicitly, so the quantizers stay short and their gradients are testable on their own.
"""
import torch

__all__ = ["RoundSTE", "round_ste", "grad_scale", "ste_identity", "ste_masked", "ste_below"]


class RoundSTE(torch.autograd.Function):
    """``round(x)`` forward, identity backward (Bengio et al., 2013); ``apply(x[, ratio])``.

    The optional second argument is QTool's unused ``ratio`` (its gradient is ``None``), so the
    same Function serves as ``compat.dorefa.RoundSTE``, which the detectron2 fork imports."""

    @staticmethod
    def forward(ctx, x, ratio=None):
        ctx.has_ratio = ratio is not None
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad_output):
        if ctx.has_ratio:
            return grad_output, None
        return (grad_output,)


def round_ste(x):
    """Round to the nearest integer; the gradient passes straight through."""
    return RoundSTE.apply(x)


class _GradScale(torch.autograd.Function):
    """Identity forward (bit-exact), gradient times ``scale`` backward."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.scale, None


def grad_scale(x, scale):
    """Return ``x`` unchanged (bit for bit), with its gradient multiplied by ``scale`` (a float
    or a tensor broadcastable to ``x``, treated as a constant)."""
    if torch.is_tensor(scale):
        scale = scale.detach()
    return _GradScale.apply(x, scale)


class _ValueSTE(torch.autograd.Function):
    """Forward ``value`` (bit-exact); the gradient goes to ``through`` unchanged."""

    @staticmethod
    def forward(ctx, value, through):
        return value.view_as(value)

    @staticmethod
    def backward(ctx, grad_output):
        return None, grad_output


def ste_identity(value, through):
    """Return ``value`` in the forward pass (exactly, unlike ``(value - x).detach() + x``); the
    gradient flows to ``through`` as identity and not to ``value``."""
    return _ValueSTE.apply(value.detach(), through)


class _MaskedSTE(torch.autograd.Function):
    """Forward ``value``; backward: the gradient goes to ``x`` where ``mask`` is True, else 0."""

    @staticmethod
    def forward(ctx, value, x, mask):
        ctx.save_for_backward(mask)
        return value

    @staticmethod
    def backward(ctx, grad_output):
        (mask,) = ctx.saved_tensors
        return None, grad_output * mask, None


def ste_masked(value, x, mask):
    """Return ``value`` (computed without gradient); the gradient flows to ``x`` only where the
    boolean ``mask`` is True (a clipped straight-through estimator)."""
    return _MaskedSTE.apply(value.detach(), x, mask)


class _BelowSTE(torch.autograd.Function):
    """Forward ``value``; backward: the gradient goes to ``x`` where ``x < hi``, else 0. The mask
    is recomputed from the saved ``x`` (usually kept alive by the layer before anyway) as a
    float tensor: no boolean mask is stored, and no bool-to-float conversion is paid."""

    @staticmethod
    def forward(ctx, value, x, hi):
        ctx.save_for_backward(x, hi)
        return value

    @staticmethod
    def backward(ctx, grad_output):
        x, hi = ctx.saved_tensors
        mask = torch.lt(x, hi, out=torch.empty_like(grad_output))  # 1.0 / 0.0
        return None, mask.mul_(grad_output), None


def ste_below(value, x, hi):
    """Return ``value`` (computed without gradient); the gradient flows to ``x`` where
    ``x < hi`` and is 0 elsewhere (``hi`` a tensor broadcastable to ``x``, a constant). Equal to
    ``ste_masked(value, x, x < hi)``, with less memory and a faster backward."""
    return _BelowSTE.apply(value.detach(), x, hi.detach())
