"""Fused uniform fake quantization on a clip range, with hand-written one-pass gradients.

One autograd function serves the three clip-based methods, so each forward is five elementwise
passes and each backward three, instead of the dozen small ops autograd would record:

* ``mode="lsq"`` (LSQ as QTool implements it, Esser et al. 2020): with clip ``c > 0`` and ``L``
  levels, ``y = round(clamp(x/c, 0, 1)(L-1))/(L-1) c`` (unsigned) or levels evenly spaced on
  ``[-c, c]`` (signed). Gradient to ``x``: identity inside the range, 0 outside. Gradient to
  ``c``: ``q - x/c`` inside (``q = y/c``), ``+1`` above, ``0`` / ``-1`` below (unsigned /
  signed). Both cases are ``(y - x [x inside]) / c``, so the clip gradient reduces to
  ``(<g, y> - <g_x, x>) / c`` -- two dot products.
* ``mode="pact"`` (Choi et al. 2018): same forward (unsigned); gradient to ``x`` is identity on
  ``0 <= x < c``, and the clip gets ``+1`` from every element with ``x >= c``, nothing through
  the rounding.
* ``mode="fixed"`` (DoReFa activations): same forward, ``c`` is a constant.

The output is saved for the backward (no extra memory when the next layer keeps it too), so
modifying it in place afterwards makes autograd raise rather than compute a wrong gradient.
``ste_scale=True`` multiplies the gradient to ``x`` (and the ``x``-path of the clip gradient) by
``sqrt(N / N_inside)`` (QTool's ``grad_type: STE-scale``).
"""
import torch

__all__ = ["clip_fake_quant"]

_MODES = ("lsq", "pact", "fixed")


def _sum_to(prod_a, prod_b, shape):
    """``sum(a * b)`` reduced to ``shape`` (a one-pass dot product for a scalar clip)."""
    numel = 1
    for s in shape:
        numel *= s
    if numel == 1 and prod_a.dtype in (torch.float32, torch.float64) and \
            prod_a.dtype == prod_b.dtype:
        return torch.dot(prod_a.reshape(-1), prod_b.reshape(-1)).reshape(shape)
    return (prod_a * prod_b).sum_to_size(shape)


class _ClipFakeQuant(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, clip, levels, signed, mode, ste_scale):
        steps = float(levels - 1)
        step = clip * (2.0 / steps) if signed else clip / steps
        u = x * (1.0 / step)  # position in steps, 0 at the lowest level
        if signed:
            u.add_(steps / 2.0)
        mask = u >= 0
        if mode == "pact":
            above = u >= steps
            mask ^= above  # 0 <= u < steps
        else:
            above = None
            mask &= u <= steps  # inside the clip range (boundaries included)
        y = u.clamp_(0.0, steps).round_().mul_(step)
        if signed:
            y.sub_(clip)
        ctx.mode, ctx.ste_scale = mode, ste_scale
        ctx.clip_is_tensor = torch.is_tensor(clip)
        ctx.save_for_backward(x, y, mask, above, clip if ctx.clip_is_tensor else None)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, y, mask, above, clip = ctx.saved_tensors
        grad_x = grad_y * mask
        if ctx.ste_scale:
            n_inside = mask.sum().clamp(min=1).to(grad_x.dtype)
            grad_x.mul_(torch.sqrt(mask.numel() / n_inside))
        grad_clip = None
        if ctx.clip_is_tensor and ctx.needs_input_grad[1]:
            if ctx.mode == "pact":
                grad_clip = _sum_to(grad_y, above, clip.shape)
            else:
                grad_clip = (_sum_to(grad_y, y, clip.shape) - _sum_to(grad_x, x, clip.shape)) / clip
        return grad_x, grad_clip, None, None, None, None


def clip_fake_quant(x, clip, levels, signed=False, mode="lsq", ste_scale=False):
    """Fake-quantize ``x`` to ``levels`` uniform levels on ``[0, clip]`` or ``[-clip, clip]``.

    Args:
        x: input tensor.
        clip: positive clip, a float (constant) or a tensor broadcastable to ``x`` (learned).
        levels: number of levels ``L >= 2`` (a Python int).
        signed: symmetric range ``[-clip, clip]`` (no zero level for even ``L``) if True.
        mode: ``"lsq"``, ``"pact"`` or ``"fixed"`` -- which clip gradient to compute (see the
            module docstring).
        ste_scale: scale the input gradient by ``sqrt(N / N_inside)``.
    """
    if mode not in _MODES:
        raise ValueError("unknown clip_fake_quant mode {!r}; use one of {}".format(mode, _MODES))
    if mode == "pact" and signed:
        raise ValueError("mode='pact' is unsigned only; use mode='lsq' for a signed range")
    return _ClipFakeQuant.apply(x, clip, int(levels), bool(signed), mode, bool(ste_scale))
