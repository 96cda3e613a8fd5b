"""The torch.compile kernels of clip_fake_quant (MQ_FUSED_QUANT=1) against the eager passes: the
same output and input gradient bit for bit, the clip gradient to rounding; the switch's errors."""
import shutil

import pytest
import torch

from model_quantization.functional import fused
from model_quantization.functional.uniform import clip_fake_quant

needs_compile = pytest.mark.skipif(
    not fused.available() or not (shutil.which("g++") or shutil.which("c++")),
    reason="fused kernels need torch >= 2.1 (torch.compile) and a C++ compiler (apt-get install "
           "g++); run where both exist, e.g. make test in the current or cpu image")


@pytest.fixture
def switch(monkeypatch):
    """Runs the test with ``fused`` reading the environment afresh, and restores it."""
    monkeypatch.setitem(fused._STATE, "on", None)
    monkeypatch.delenv(fused.ENV, raising=False)
    return monkeypatch


def _bits(t):
    return t.detach().view(torch.int64 if t.dtype == torch.float64 else torch.int32)


def _run(x, clip, levels, signed, mode, fuse):
    previous = fused.set_enabled(fuse)
    try:
        xt = x.clone().requires_grad_()
        ct = clip.clone().requires_grad_() if torch.is_tensor(clip) else clip
        y = clip_fake_quant(xt, ct, levels, signed=signed, mode=mode)
        g = torch.linspace(-1.0, 2.0, y.numel(), dtype=y.dtype).reshape(y.shape)
        y.backward(g)
        with torch.no_grad():
            y_eval = clip_fake_quant(x, clip, levels, signed=signed, mode=mode)
        return y, xt.grad, ct.grad if torch.is_tensor(clip) else None, y_eval
    finally:
        fused.set_enabled(previous)


CASES = [
    # mode, signed, clip, levels, dtype, shape
    ("fixed", False, 1.0, 4, torch.float32, (2, 3, 5, 7)),
    ("fixed", False, 0.7, 3, torch.float64, (2, 3, 5, 7)),
    ("lsq", False, "tensor", 4, torch.float32, (3, 70)),
    ("lsq", True, "tensor", 4, torch.float32, (3, 70)),
    ("lsq", True, "per-group", 256, torch.float32, (3, 70)),
    ("pact", False, 1.3, 4, torch.float32, (2, 3, 5, 7)),
]


@needs_compile
@pytest.mark.parametrize("case", CASES, ids=lambda c: "{}-{}-{}-{}".format(*c[:3], c[4]))
def test_fused_equals_eager_bit_for_bit(switch, case):
    mode, signed, clip, levels, dtype, shape = case
    torch.manual_seed(levels)
    x = (torch.randn(shape, dtype=dtype) * 1.5)
    x.view(-1)[:4] = torch.tensor([0.0, -0.0, 1.0, 1e-40], dtype=dtype)  # zeros, a boundary
    if clip == "tensor":
        clip = torch.tensor([1.2], dtype=dtype)
    elif clip == "per-group":
        clip = torch.tensor([[0.5], [1.0], [2.0]], dtype=dtype)
    eager = _run(x, clip, levels, signed, mode, False)
    fast = _run(x, clip, levels, signed, mode, True)
    assert any(key[0] == "_quantize" for key in fused._KERNELS)  # the fused path did run
    for a, b in zip((eager[0], eager[1], eager[3]), (fast[0], fast[1], fast[3])):
        assert torch.equal(_bits(a), _bits(b))
    if eager[2] is not None:
        assert torch.allclose(eager[2], fast[2], rtol=1e-5, atol=1e-6)


@needs_compile
def test_fused_leaves_half_precision_and_ste_scale_to_the_eager_path(switch):
    fused.set_enabled(True)
    x = torch.randn(4, 9).to(torch.bfloat16).requires_grad_()
    before = set(fused._KERNELS)
    clip_fake_quant(x, 1.0, 4, mode="fixed").sum().backward()
    assert set(fused._KERNELS) == before
    xs = torch.randn(4, 9).requires_grad_()
    eager = torch.autograd.grad(clip_fake_quant(xs, 1.0, 4, ste_scale=True).sum(), xs)[0]
    fused.set_enabled(False)
    reference = torch.autograd.grad(clip_fake_quant(xs, 1.0, 4, ste_scale=True).sum(), xs)[0]
    assert torch.equal(eager, reference)


def test_switch_reads_the_environment(switch):
    assert fused.enabled() is False
    switch.setitem(fused._STATE, "on", None)
    switch.setenv(fused.ENV, "0")
    assert fused.enabled() is False


def test_switch_rejects_a_value_it_does_not_know(switch):
    switch.setenv(fused.ENV, "yes")
    with pytest.raises(ValueError, match=r"MQ_FUSED_QUANT='yes'.*set it to 1"):
        fused.enabled()


def test_switch_refuses_where_torch_cannot_compile(switch):
    switch.setattr(fused, "available", lambda: False)
    switch.setenv(fused.ENV, "1")
    with pytest.raises(RuntimeError, match="torch >= 2.1"):
        fused.enabled()
    with pytest.raises(RuntimeError, match="torch >= 2.1"):
        fused.set_enabled(True)
