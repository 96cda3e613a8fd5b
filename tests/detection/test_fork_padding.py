"""docker/patches/detectron2/0005: the fork's quantized ``Conv2d`` lets the convolution zero-pad
when that commutes with its activation quantizer, instead of padding a copy of the input with
F.pad; the output and the gradients are those of the fork's own path, which every other case
still takes."""
import copy
import inspect

import pytest
import torch

pytestmark = pytest.mark.forks
REASON = "needs the pinned forks: run inside the image (make test) or after make install-forks"
PAD = torch.nn.functional.pad


@pytest.fixture(scope="module")
def wrappers():
    pytest.importorskip("detectron2", reason=REASON)
    from detectron2.layers import wrappers
    if "commutes_with_zero_padding" not in inspect.getsource(wrappers.Conv2d.forward):
        pytest.skip("detectron2 is built as pinned, without docker/patches (torch < 1.11: the "
                    "legacy image); the patch applies with make install-forks on torch >= 1.11")
    return wrappers


def _conv(wrappers, stride=1, **options):
    from detectron2.config import get_cfg
    cfg = get_cfg()
    q = cfg.MODEL.QUANTIZATION
    q.keyword = ["dorefa"]
    q.scope = ["all"]
    q.fm_enable, q.wt_enable, q.fm_bit, q.wt_bit = True, True, 2.0, 2.0
    for key, value in options.items():
        setattr(q, key, value)
    torch.manual_seed(0)
    conv = wrappers.Conv2d(6, 8, 3, stride=stride, padding=1, bias=True)
    conv.convert_to_quantization_version(q, index=1)
    return conv


def _reference(conv, x):
    """The fork's path as pinned: F.pad around the activation quantizer, convolve unpadded."""
    weight = conv.quant_weight(conv.weight)
    if conv.padding_after_quant:
        x = PAD(conv.quant_activation(x), conv.pads, "constant", 0)
    else:
        x = conv.quant_activation(PAD(x, conv.pads, "constant", 0))
    return torch.nn.functional.conv2d(x, weight, conv.bias, conv.stride, 0, conv.dilation,
                                      conv.groups)


def _compare(conv, monkeypatch):
    """Run ``conv`` and the pinned path on the same input (two steps, so warm-up and the weight
    cache are crossed too); return how often F.pad was called by ``conv``."""
    calls = []
    monkeypatch.setattr(torch.nn.functional, "pad", lambda *a, **k: calls.append(1) or PAD(*a, **k))
    ref = copy.deepcopy(conv)
    for step in range(2):
        torch.manual_seed(step)
        x = (torch.randn(2, 6, 9, 11) * 1.5).requires_grad_()
        x_ref = x.detach().clone().requires_grad_()
        y, y_ref = conv(x), _reference(ref, x_ref)
        assert torch.allclose(y, y_ref, rtol=1e-5, atol=1e-6)
        g = torch.rand_like(y)
        (y * g).sum().backward()
        (y_ref * g).sum().backward()
        assert torch.allclose(x.grad, x_ref.grad, rtol=1e-5, atol=1e-6)
        for (name, p), p_ref in zip(conv.named_parameters(), ref.parameters()):
            if p.grad is not None or p_ref.grad is not None:
                assert torch.allclose(p.grad, p_ref.grad, rtol=1e-4, atol=1e-5), name
    return len(calls)


@pytest.mark.parametrize("after", [False, True])
@pytest.mark.parametrize("stride", [1, 2])
def test_fork_conv_pads_in_the_convolution_when_it_commutes(wrappers, monkeypatch, after, stride):
    conv = _conv(wrappers, stride=stride, padding_after_quant=after)
    assert conv.quant_activation.commutes_with_zero_padding()
    assert _compare(conv, monkeypatch) == 0


def test_fork_conv_keeps_padding_before_a_quantizer_that_does_not_commute(wrappers, monkeypatch):
    conv = _conv(wrappers, keyword=["dorefa", "lsq"], fm_grad_type="STE-scale")
    assert not conv.quant_activation.commutes_with_zero_padding()
    assert _compare(conv, monkeypatch) == 2  # one F.pad per forward, as pinned


def test_fork_conv_with_padding_after_quant_never_pads_a_copy(wrappers, monkeypatch):
    conv = _conv(wrappers, keyword=["dorefa", "lsq"], fm_grad_type="STE-scale",
                 padding_after_quant=True)
    assert _compare(conv, monkeypatch) == 0
