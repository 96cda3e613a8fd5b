import pytest
import torch
import torch.nn.functional as F
from torch import nn

from model_quantization.nn import QuantLinear


def _linear(bias=True):
    torch.manual_seed(0)
    return nn.Linear(5, 3, bias=bias)


@pytest.mark.parametrize("bias", [True, False])
def test_quant_linear_without_quantizers_equals_float(bias):
    fc = _linear(bias)
    x = torch.randn(4, 5)
    assert torch.equal(QuantLinear.from_float(fc)(x), fc(x))


def test_quant_linear_from_float_shares_parameters():
    fc = _linear()
    q = QuantLinear.from_float(fc)
    assert q.weight is fc.weight and q.bias is fc.bias


def test_quant_linear_forward_matches_reference(toy_quantizer, toy_reference):
    fc = _linear()
    q = QuantLinear.from_float(fc, toy_quantizer(8, True, 0.4), toy_quantizer(4, False, 2.0))
    x = torch.randn(4, 5)
    ref = F.linear(toy_reference(x, 2.0, 4, False), toy_reference(fc.weight, 0.4, 8, True), fc.bias)
    assert torch.allclose(q(x), ref, atol=1e-6)


def test_quant_linear_to_float_returns_plain_linear(toy_quantizer):
    fc = _linear(bias=False)
    back = QuantLinear.from_float(fc, toy_quantizer()).to_float()
    assert type(back) is nn.Linear and back.weight is fc.weight and back.bias is None


def test_quant_linear_extra_repr_shows_quantizers(toy_quantizer):
    q = QuantLinear(5, 3, act_quantizer=toy_quantizer(levels=16, signed=False))
    assert "quant_weight=float, quant_activation=toy-nn-test/16L" in repr(q)


def test_quant_linear_rejects_non_module_quantizer():
    with pytest.raises(TypeError, match="activation quantizer must be an nn.Module"):
        QuantLinear(5, 3, act_quantizer="lsq")
