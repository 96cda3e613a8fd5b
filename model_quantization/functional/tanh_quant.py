"""DoReFa-Net weight quantization as one autograd function (Zhou et al. 2016).

Forward: ``t = tanh(w)``, ``m = max|t|``, ``y = 2 round((t/(2m) + 1/2)(L-1))/(L-1) - 1``.
Gradient (rounding straight-through, ``m`` differentiated, as autograd would): with
``d = 1 - t^2``, ``dL/dw = d g / m``, plus at the element ``j`` holding ``max|t|`` the term
``-sign(t_j) d_j <g, t> / m^2``.
Written by hand so the backward is three elementwise passes and one dot product instead of the
chain autograd records (tanh, abs, max, div, add, mul, round, mul, sub).
"""
import math

import torch

__all__ = ["tanh_weight_quant"]

_AMINMAX = getattr(torch, "aminmax", None)  # torch >= 1.11


_ROW = 4096  # row length of the CPU search for the extreme's first index


def _first_index_of(flat, value, largest):
    """Index of the first element of ``flat`` equal to ``value``, its maximum (``largest``) or
    minimum: what ``argmax`` / ``argmin`` return, found with one vectorised reduction per row
    of ``_ROW`` values (cheap on the CPU, where ``argmax`` is a slow scalar loop) and one
    ``argmax`` / ``argmin`` over the single row that holds it."""
    body = flat.numel() - flat.numel() % _ROW
    if body:
        rows = flat[:body].view(-1, _ROW)
        extremes = rows.amax(dim=1) if largest else rows.amin(dim=1)
        hits = (extremes == value).nonzero()
        if hits.numel():
            r = int(hits[0, 0])
            return (rows[r].argmax() if largest else rows[r].argmin()) + r * _ROW
    tail = flat[body:]
    return (tail.argmax() if largest else tail.argmin()) + body


def _index_of_max_abs(flat):
    """Index ``j`` of ``max|t|``: the first maximum when ``max >= -min``, else the first minimum.

    On CPU one ``aminmax`` pass picks the side, then ``_first_index_of`` finds the index (the
    value comparison costs nothing there; a NaN takes the plain ``argmax`` / ``argmin``, which
    is what they return for it); elsewhere, and on torch < 1.11, both indices and a ``where``,
    so the device never has to answer a question to the host. Same index either way.
    """
    if _AMINMAX is not None and flat.device.type == "cpu":
        lo, hi = _AMINMAX(flat)
        lo_value, hi_value = float(lo), float(hi)
        largest = hi_value >= -lo_value
        if math.isnan(lo_value) or math.isnan(hi_value):
            return flat.argmax() if largest else flat.argmin()
        return _first_index_of(flat, hi if largest else lo, largest)
    i_max, i_min = flat.argmax(), flat.argmin()
    return torch.where(flat[i_max] >= -flat[i_min], i_max, i_min)


class _TanhWeightQuant(torch.autograd.Function):

    @staticmethod
    def forward(ctx, w, levels):
        t = torch.tanh(w)
        flat = t.reshape(-1)
        j = _index_of_max_abs(flat)
        m = flat[j].abs()
        half = (levels - 1) / 2.0
        y = torch.addcmul(t.new_tensor(half), t, half / m).round_()  # t' (L-1), rounded
        y.mul_(2.0 / (levels - 1)).sub_(1.0)
        ctx.save_for_backward(t, m, j)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        t, m, j = ctx.saved_tensors
        flat_t = t.reshape(-1)
        g = grad_y.reshape(-1)
        if g.dtype in (torch.float32, torch.float64):
            gt = torch.dot(g, flat_t)
        else:
            gt = (g * flat_t).sum()
        grad_w = flat_t.square()
        torch.addcmul(g, g, grad_w, value=-1.0, out=grad_w).div_(m)  # g (1 - t^2) / m
        t_j = flat_t[j]
        correction = -torch.sign(t_j) * (1.0 - t_j * t_j) * gt / (m * m)
        grad_w.index_add_(0, j.reshape(1), correction.reshape(1).to(grad_w.dtype))
        return grad_w.reshape(t.shape), None


def tanh_weight_quant(w, levels):
    """DoReFa weights: ``levels`` (>= 2) values evenly spaced on ``[-1, 1]``; see module doc."""
    levels = int(levels)
    if not (torch.is_grad_enabled() and w.requires_grad):  # inference: no index bookkeeping
        t = torch.tanh(w)
        half = (levels - 1) / 2.0
        y = torch.addcmul(t.new_tensor(half), t, half / t.abs().max()).round_()
        return y.mul_(2.0 / (levels - 1)).sub_(1.0)
    return _TanhWeightQuant.apply(w, levels)
