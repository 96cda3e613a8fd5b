"""Straight-through estimators and gradient-scaling identities (pure tensor code).

Every function here returns a value computed in the forward pass and defines its gradient
explicitly, so the quantizers stay short and their gradients are testable on their own.
"""
import torch

__all__ = ["round_ste", "grad_scale", "clamp_ste_scale", "ste_identity", "ste_masked"]


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
