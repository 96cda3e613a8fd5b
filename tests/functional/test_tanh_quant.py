"""``tanh_weight_quant`` (DoReFa weights) against the implementation it replaced, bit for bit.

The forward now finds ``j = argmax|t|`` with one ``aminmax`` pass and one ``argmax`` or
``argmin`` on CPU (torch >= 1.11), and the backward writes ``g (1 - t^2)`` into the buffer of
``t^2``. Both must give exactly the old outputs and gradients, including the tie rules of ``j``
(``max == -min``: the maximum; repeated extremes: the first one), which decide the sign of the
``max|t|`` correction term.
"""
import pytest
import torch

from model_quantization.functional import tanh_quant
from model_quantization.functional.tanh_quant import tanh_weight_quant


class _PreviousTanhWeightQuant(torch.autograd.Function):
    """The previous implementation, verbatim."""

    @staticmethod
    def forward(ctx, w, levels):
        t = torch.tanh(w)
        flat = t.reshape(-1)
        i_max, i_min = flat.argmax(), flat.argmin()
        j = torch.where(flat[i_max] >= -flat[i_min], i_max, i_min)
        m = flat[j].abs()
        half = (levels - 1) / 2.0
        y = torch.addcmul(t.new_tensor(half), t, half / m).round_()
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
        grad_w = torch.addcmul(g, g, flat_t.square(), value=-1.0).div_(m)
        t_j = flat_t[j]
        correction = -torch.sign(t_j) * (1.0 - t_j * t_j) * gt / (m * m)
        grad_w.index_add_(0, j.reshape(1), correction.reshape(1).to(grad_w.dtype))
        return grad_w.reshape(t.shape), None


def _weights(kind, dtype):
    g = torch.Generator().manual_seed(7)
    w = torch.randn(16, 8, 3, 3, generator=g, dtype=dtype) * 0.4
    flat = w.view(-1)
    if kind == "tie":  # max == -min; the minimum comes first
        flat[3], flat[50] = -2.0, 2.0
    elif kind == "tie-max-first":
        flat[3], flat[50] = 2.0, -2.0
    elif kind == "repeated-max":
        flat[10] = flat[20] = flat[30] = 3.0
    elif kind == "repeated-min":
        flat[10] = flat[20] = flat[30] = -3.0
    elif kind == "negative":
        w = -w.abs() - 0.01
    elif kind == "positive":
        w = w.abs() + 0.01
    return w


def _run(fn, w, levels, g):
    w = w.clone().requires_grad_()
    y = fn(w, levels)
    y.backward(g)
    return y.detach(), w.grad


KINDS = ["random", "tie", "tie-max-first", "repeated-max", "repeated-min", "negative", "positive"]


@pytest.mark.parametrize("row", [4096, 100, 7], ids=["one-tail", "rows-and-tail", "short-rows"])
@pytest.mark.parametrize("use_aminmax", [True, False], ids=["aminmax", "fallback"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("levels", [3, 4, 256])
@pytest.mark.parametrize("kind", KINDS)
def test_equals_previous_implementation_bit_for_bit(kind, levels, dtype, use_aminmax, row,
                                                    monkeypatch):
    if use_aminmax and tanh_quant._AMINMAX is None:
        pytest.skip("torch < 1.11 has no aminmax")
    if not use_aminmax:
        monkeypatch.setattr(tanh_quant, "_AMINMAX", None)
    monkeypatch.setattr(tanh_quant, "_ROW", row)  # the 1152 weights: the tail only, or rows
    w = _weights(kind, dtype)
    g = torch.randn(w.shape, generator=torch.Generator().manual_seed(3), dtype=dtype)
    y_new, grad_new = _run(tanh_weight_quant, w, levels, g)
    y_old, grad_old = _run(_PreviousTanhWeightQuant.apply, w, levels, g)
    assert torch.equal(y_new, y_old)
    assert torch.equal(grad_new, grad_old)


def test_tie_picks_the_maximum():
    """The case a plain ``argmax(|t|)`` gets wrong (it would take the earlier minimum): the sign
    of the correction at ``j`` differs, so the gradients there differ."""
    w = _weights("tie", torch.float64)
    g = torch.ones_like(w)
    _, grad = _run(tanh_weight_quant, w, 4, g)
    _, grad_other = _run(_abs_argmax_variant, w, 4, g)
    flat, other = grad.view(-1), grad_other.view(-1)
    assert not torch.equal(flat[[3, 50]], other[[3, 50]])


def _abs_argmax_variant(w, levels):
    """``j = argmax|t|`` (first of the tied pair), otherwise the previous implementation."""
    class _Variant(_PreviousTanhWeightQuant):
        @staticmethod
        def forward(ctx, w, levels):
            t = torch.tanh(w)
            j = t.reshape(-1).abs().argmax()
            m = t.reshape(-1)[j].abs()
            half = (levels - 1) / 2.0
            y = torch.addcmul(t.new_tensor(half), t, half / m).round_()
            y.mul_(2.0 / (levels - 1)).sub_(1.0)
            ctx.save_for_backward(t, m, j)
            return y
    return _Variant.apply(w, levels)


def _reference_index(flat):
    i_max, i_min = flat.argmax(), flat.argmin()
    return int(torch.where(flat[i_max] >= -flat[i_min], i_max, i_min))


@pytest.mark.parametrize("n", [1, 9, 4096, 4097, 3 * 4096 + 5, 5 * 4096])
@pytest.mark.parametrize("layout", ["random", "max-in-two-rows", "max-in-row-and-tail",
                                    "max-only-in-tail", "min-side-repeated", "tie", "zeros",
                                    "signed-zeros", "nan"])
def test_cpu_index_search_equals_argmax(n, layout):
    """The row-wise search of ``j`` on the CPU returns what ``argmax`` / ``argmin`` return,
    wherever the extreme lies: in several rows, in a row and the tail, only in the tail."""
    if tanh_quant._AMINMAX is None:
        pytest.skip("torch < 1.11 has no aminmax (the CPU search is not used)")
    flat = torch.randn(n, generator=torch.Generator().manual_seed(n))
    last = n - 1
    if layout == "max-in-two-rows":
        flat[min(4100, last)] = flat[last] = 9.0
    elif layout == "max-in-row-and-tail":
        flat[min(10, last)] = flat[last] = 9.0
    elif layout == "max-only-in-tail":
        flat[last] = 9.0
    elif layout == "min-side-repeated":
        flat[min(5000, last)] = flat[min(7, last)] = -9.0
    elif layout == "tie":
        flat[min(3, last)], flat[last] = -9.0, 9.0
    elif layout == "zeros":
        flat.zero_()
    elif layout == "signed-zeros":
        flat.zero_()
        flat[::2] = -0.0
    elif layout == "nan":
        flat[min(6, last)] = float("nan")
        flat[last] = float("nan")
    assert int(tanh_quant._index_of_max_abs(flat)) == _reference_index(flat)
