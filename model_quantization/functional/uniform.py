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

The input and output are saved for the backward (no extra memory when the layers around keep
them too) and the range masks are recomputed there, so modifying the output in place afterwards
makes autograd raise rather than compute a wrong gradient. On the CPU, with one clip for the
whole tensor (not PACT, not ``STE-scale``), the input gradient needs no mask at all: the two input
values where the forward's arithmetic leaves the range are found once per call (or once per
constant clip) by trying the representable values around them, and ``hardtanh_backward`` zeroes
the gradient outside them in one pass. That is the masked product's value exactly for finite
inputs (a zero outside the range comes out +0.0 where the product gives -0.0 for a negative
gradient), at about a third of its cost. Without autograd (inference) the
forward records nothing, and ``clip_fake_quant_`` overwrites a temporary input (e.g. freshly
standardised weights) in place: the same operations in the same order, so the same values bit
for bit, without allocating a second tensor.
``ste_scale=True`` multiplies the gradient to ``x`` (and the ``x``-path of the clip gradient) by
``sqrt(N / N_inside)`` (QTool's ``grad_type: STE-scale``).
"""
import torch

__all__ = ["clip_fake_quant", "clip_fake_quant_"]

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


def _level_step(clip, levels, signed):
    """The distance between two levels: ``clip/(L-1)``, or ``2 clip/(L-1)`` when signed."""
    steps = float(levels - 1)
    return clip * (2.0 / steps) if signed else clip / steps


def _grid_position(x, clip, levels, signed, inplace=False):
    """``(u, step)``: ``x`` in units of the level step, 0 at the lowest level (a new tensor, or
    ``x`` itself overwritten when ``inplace``)."""
    steps = float(levels - 1)
    step = _level_step(clip, levels, signed)
    u = x.mul_(1.0 / step) if inplace else x * (1.0 / step)
    if signed:
        u.add_(steps / 2.0)
    return u, step


def _quantize_position(u, step, clip, levels, signed):
    """Round the grid position ``u`` (in place) back to values: the fake-quantized tensor."""
    y = u.clamp_(0.0, float(levels - 1)).round_().mul_(step)
    if signed:
        y.sub_(clip)
    return y


_HARDTANH_BACKWARD = getattr(getattr(torch.ops, "aten", None), "hardtanh_backward", None)
_BOUND_CACHE = {}  # (clip, levels, signed, dtype) -> bounds, for constant (float) clips
_BOUND_WINDOW = 4  # representable neighbours tried on each side of a bound's estimate


def _input_bounds(clip, levels, signed, dtype):
    """``(below, above)``: the largest input under the gradient range and the smallest over it,
    as Python floats exact in ``dtype``, so that ``below < x < above`` holds exactly where
    ``_masks`` says "inside" (for every finite ``x``).

    Each bound is estimated from the forward's own step, then the representable values around
    the estimate go through ``_masks`` (the forward's grid arithmetic, a multiplication and an
    addition when signed, so monotone in ``x``) and the bound is read off where its inside test
    flips. None when a flip is not within the window (e.g. a huge clip moves the
    lower bound deep into the subnormals); the caller then computes the masks.
    """
    if not 0.0 < float(clip) < float("inf"):
        return None
    steps = float(levels - 1)
    rate = float(1.0 / _level_step(clip, levels, signed))
    if not 0.0 < rate < float("inf"):
        return None
    offset = steps / 2.0 if signed else 0.0
    mid = torch.tensor([-offset / rate, (steps - offset) / rate], dtype=dtype)
    inf = torch.full_like(mid, float("inf"))
    up, down = [mid], []
    for _ in range(_BOUND_WINDOW):
        up.append(torch.nextafter(up[-1], inf))
        down.append(torch.nextafter((down or up)[-1], -inf))
    cand = torch.stack(down[::-1] + up, dim=1)  # [2, 2 * window + 1], ascending per row
    inside, _ = _masks(cand, clip, levels, signed, "lsq")
    inside = inside.reshape(2, -1).tolist()
    cand = cand.tolist()
    bounds = []
    for row, (flags, values) in enumerate(zip(inside, cand)):
        flips = [i for i in range(1, len(flags)) if flags[i] != flags[i - 1]]
        if len(flips) != 1 or flags[0] != (row == 1):
            return None
        bounds.append(values[flips[0] - 1] if row == 0 else values[flips[0]])
    return tuple(bounds)


def _fast_input_grad(grad_y, x, clip, levels, signed):
    """The input gradient ``grad_y * inside`` in one pass (``hardtanh_backward`` between the
    exact input bounds), or None where that does not apply: off the CPU, a per-group clip,
    a dtype other than float32/float64, or no bounds found. Equal in value to the masked
    product for finite inputs (a zero outside the range is +0.0 where the product could give
    -0.0; a NaN input passes its gradient instead of zeroing it)."""
    if _HARDTANH_BACKWARD is None or x.device.type != "cpu" or \
            x.dtype not in (torch.float32, torch.float64) or grad_y.dtype != x.dtype:
        return None
    if torch.is_tensor(clip):
        if clip.numel() != 1 or clip.device.type != "cpu":
            return None
        bounds = _input_bounds(clip, levels, signed, x.dtype)
    else:
        key = (float(clip), levels, signed, x.dtype)
        if key not in _BOUND_CACHE:
            _BOUND_CACHE[key] = _input_bounds(clip, levels, signed, x.dtype)
        bounds = _BOUND_CACHE[key]
    if bounds is None:
        return None
    return _HARDTANH_BACKWARD(grad_y, x, bounds[0], bounds[1])


def _masks(x, clip, levels, signed, mode):
    """``(inside, above)`` recomputed from the saved input: the backward needs no saved mask."""
    u, _ = _grid_position(x, clip, levels, signed)
    steps = float(levels - 1)
    if mode == "pact":
        above = u >= steps
        return (u >= 0) & ~above, above
    return (u >= 0) & (u <= steps), None


class _ClipFakeQuant(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, clip, levels, signed, mode, ste_scale):
        u, step = _grid_position(x, clip, levels, signed)
        y = _quantize_position(u, step, clip, levels, signed)
        ctx.levels, ctx.signed, ctx.mode, ctx.ste_scale = levels, signed, mode, ste_scale
        ctx.clip_is_tensor = torch.is_tensor(clip)
        ctx.clip_value = None if ctx.clip_is_tensor else clip
        # x and y are usually kept alive anyway (by the ReLU before and the conv after), so saving
        # them costs little; the masks are recomputed in the backward instead of stored.
        ctx.save_for_backward(x, y, clip if ctx.clip_is_tensor else None)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, y, clip = ctx.saved_tensors
        clip_arg = clip if ctx.clip_is_tensor else ctx.clip_value
        grad_x = None
        if ctx.mode != "pact" and not ctx.ste_scale:
            grad_x = _fast_input_grad(grad_y, x, clip_arg, ctx.levels, ctx.signed)
        if grad_x is None:
            mask, above = _masks(x, clip_arg, ctx.levels, ctx.signed, ctx.mode)
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


def _check_mode(mode, signed):
    if mode not in _MODES:
        raise ValueError("unknown clip_fake_quant mode {!r}; use one of {}".format(mode, _MODES))
    if mode == "pact" and signed:
        raise ValueError("mode='pact' is unsigned only; use mode='lsq' for a signed range")


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
    _check_mode(mode, signed)
    levels, signed = int(levels), bool(signed)
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad or (torch.is_tensor(clip) and clip.requires_grad))
    if not needs_grad:  # inference: the same arithmetic, nothing recorded for a backward
        u, step = _grid_position(x, clip, levels, signed)
        return _quantize_position(u, step, clip, levels, signed)
    return _ClipFakeQuant.apply(x, clip, levels, signed, mode, bool(ste_scale))


def clip_fake_quant_(x, clip, levels, signed=False, mode="lsq"):
    """In-place ``clip_fake_quant`` without autograd: overwrite ``x`` with its fake-quantized
    values (equal bit for bit to ``clip_fake_quant``'s output) and return it.

    For inference on a temporary the caller owns (standardised weights, a reshaped copy): it
    saves allocating and filling a second tensor of ``x``'s size. ``clip`` must broadcast to
    ``x``'s shape; ``mode`` is only validated (every mode has the same forward).
    Raises ``ValueError`` when autograd would need the input or the clip (use
    ``clip_fake_quant`` there).
    """
    _check_mode(mode, signed)
    if torch.is_grad_enabled() and (x.requires_grad or (torch.is_tensor(clip) and
                                                        clip.requires_grad)):
        raise ValueError("clip_fake_quant_ overwrites its input and records no gradient, but "
                         "autograd is on and the input or clip requires grad; use "
                         "clip_fake_quant, or call it under torch.no_grad()")
    levels, signed = int(levels), bool(signed)
    u, step = _grid_position(x, clip, levels, signed, inplace=True)
    return _quantize_position(u, step, clip, levels, signed)
