import pytest
import torch
import torch.nn.functional as F
from torch import nn

from model_quantization.nn import QuantConv2d

CONV_CASES = [
    dict(in_channels=4, out_channels=6, kernel_size=3, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, dilation=2, padding=2, bias=False),
    dict(in_channels=4, out_channels=8, kernel_size=3, padding=1, groups=2),
    dict(in_channels=6, out_channels=6, kernel_size=3, padding=1, groups=6),  # depthwise
]


def _conv(**kw):
    torch.manual_seed(0)
    return nn.Conv2d(**kw)


@pytest.mark.parametrize("kw", CONV_CASES)
def test_quant_conv_without_quantizers_equals_float(kw):
    conv = _conv(**kw)
    qconv = QuantConv2d.from_float(conv)
    x = torch.randn(2, kw["in_channels"], 9, 9)
    assert torch.equal(qconv(x), conv(x))


def test_quant_conv_from_float_shares_parameters():
    conv = _conv(in_channels=3, out_channels=5, kernel_size=3)
    qconv = QuantConv2d.from_float(conv)
    assert qconv.weight is conv.weight and qconv.bias is conv.bias
    assert qconv.quant_weight is None and qconv.quant_activation is None


@pytest.mark.parametrize("kw", CONV_CASES)
def test_quant_conv_forward_matches_reference(kw, toy_quantizer, toy_reference):
    conv = _conv(**kw)
    qconv = QuantConv2d.from_float(conv, toy_quantizer(4, True, 0.2), toy_quantizer(4, False, 1.5))
    x = torch.randn(2, kw["in_channels"], 9, 9)
    ref = F.conv2d(toy_reference(x, 1.5, 4, False), toy_reference(conv.weight, 0.2, 4, True),
                   conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    assert torch.allclose(qconv(x), ref, atol=1e-6)


def test_quant_conv_activation_only(toy_quantizer, toy_reference):
    conv = _conv(in_channels=3, out_channels=4, kernel_size=1)
    qconv = QuantConv2d.from_float(conv, act_quantizer=toy_quantizer(4, False, 1.0))
    x = torch.randn(1, 3, 5, 5)
    assert torch.allclose(qconv(x), conv(toy_reference(x, 1.0, 4, False)), atol=1e-6)


def test_quant_conv_gradients_reach_weight_and_quantizers(toy_quantizer):
    conv = _conv(in_channels=3, out_channels=4, kernel_size=3, padding=1)
    qconv = QuantConv2d.from_float(conv, toy_quantizer(4, True, 0.3), toy_quantizer(4, False, 1.0))
    qconv(torch.randn(2, 3, 6, 6)).sum().backward()
    for name, p in qconv.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert conv.weight.grad is qconv.weight.grad


def test_quant_conv_training_step_without_quantizers_equals_float():
    conv = _conv(in_channels=3, out_channels=4, kernel_size=3)
    twin = _conv(in_channels=3, out_channels=4, kernel_size=3)
    qconv = QuantConv2d.from_float(twin)
    x = torch.randn(2, 3, 7, 7)
    for module in (conv, qconv):
        opt = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
        module(x).pow(2).mean().backward()
        opt.step()
    assert torch.equal(conv.weight, qconv.weight) and torch.equal(conv.bias, qconv.bias)


def test_quant_conv_state_dict_has_quantizer_state(toy_quantizer):
    qconv = QuantConv2d(3, 4, 3, weight_quantizer=toy_quantizer(), act_quantizer=toy_quantizer())
    keys = set(qconv.state_dict())
    for role in ("quant_weight", "quant_activation"):
        assert {role + ".clip_val", role + ".iteration", role + ".level_num"} <= keys


def test_quant_conv_to_float_returns_plain_conv_sharing_parameters(toy_quantizer):
    conv = _conv(in_channels=4, out_channels=4, kernel_size=3, padding=1, groups=2)
    back = QuantConv2d.from_float(conv, toy_quantizer()).to_float()
    assert type(back) is nn.Conv2d and back.weight is conv.weight and back.bias is conv.bias
    x = torch.randn(1, 4, 5, 5)
    assert torch.equal(back(x), conv(x))


def test_quant_conv_extra_repr_shows_quantizers(toy_quantizer):
    qconv = QuantConv2d(3, 4, 3, weight_quantizer=toy_quantizer(levels=4))
    text = repr(qconv)
    assert "quant_weight=toy-nn-test/4L" in text and "quant_activation=float" in text


def test_quant_conv_rejects_non_module_quantizer():
    with pytest.raises(TypeError, match="weight quantizer must be an nn.Module"):
        QuantConv2d(3, 4, 3, weight_quantizer=lambda w: w)


def test_quant_conv_from_float_rejects_linear():
    with pytest.raises(TypeError, match="expects an nn.Conv2d, got Linear"):
        QuantConv2d.from_float(nn.Linear(3, 4))
