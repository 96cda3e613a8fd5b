"""The quantized layers with every real registered method (grouped and depthwise included)."""
import pytest
import torch

from model_quantization.nn import QuantConv2d, QuantLinear
from model_quantization.quantizers import QuantSpec

# (weight method, activation method); PACT quantizes activations only
PAIRS = [("lsq", "lsq"), ("dorefa", "dorefa"), ("lsq", "pact"), ("lqnet", "lqnet")]
WEIGHT_METHODS = ["lsq", "dorefa", "lqnet"]


@pytest.mark.parametrize("groups", [1, 2, 8])
@pytest.mark.parametrize("w_method,a_method", PAIRS)
def test_quant_conv_real_method_gives_finite_gradients(w_method, a_method, groups):
    conv = QuantConv2d(8, 8, 3, padding=1, groups=groups,
                       weight_quantizer=QuantSpec(w_method, bits=2).build("weight", [8, 8, 3, 3]),
                       act_quantizer=QuantSpec(a_method, bits=2).build("activation", [1, 8, 1, 1]))
    x = torch.randn(2, 8, 6, 6).relu()
    out = conv(x)
    assert out.shape == (2, 8, 6, 6)
    out.sum().backward()
    for name, p in conv.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("method", WEIGHT_METHODS)
def test_quant_linear_real_method_weight_on_few_levels(method):
    spec = QuantSpec(method, bits=2)
    fc = QuantLinear(16, 4, weight_quantizer=spec.build("weight", [4, 16]))
    wq = fc.quant_weight(fc.weight)
    assert wq.shape == fc.weight.shape
    assert torch.unique(wq.detach()).numel() <= 4 * 4  # at most 4 levels per output row
