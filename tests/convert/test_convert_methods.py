"""convert_model with the real registered methods (QuantSpec), not the toy one."""
import pytest
import torch

from model_quantization.convert import convert_model
from model_quantization.nn import QuantConv2d
from model_quantization.quantizers import QuantSpec

# (weight method, activation method); PACT quantizes activations only
PAIRS = [("lsq", "lsq"), ("dorefa", "dorefa"), ("lsq", "pact"), ("lqnet", "lqnet")]


@pytest.mark.parametrize("w_method,a_method", PAIRS)
def test_convert_model_every_method_trains(net, w_method, a_method):
    report = convert_model(net, weight=QuantSpec(w_method, bits=2),
                           activation=QuantSpec(a_method, bits=2), exclude=["stem"])
    assert report.num_quantized == 4
    rows = [r for r in report.rows if r["module"] != "stem"]
    assert {(r["weight"], r["activation"]) for r in rows} == {(w_method, a_method)}
    net(torch.randn(2, 3, 8, 8)).pow(2).mean().backward()
    for name, p in net.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_convert_model_accepts_spec_dicts(net):
    report = convert_model(net, weight={"method": "lsq", "bits": 2},
                           overrides={"fc": {"weight": {"method": "dorefa", "bits": 8}}})
    rows = {r["module"]: r for r in report.rows}
    assert (rows["fc"]["weight"], rows["fc"]["w_bits"]) == ("dorefa", 8)
    assert (rows["stem"]["weight"], rows["stem"]["w_bits"]) == ("lsq", 2)


def test_convert_model_lsq_per_channel_weight_clip_per_output_channel(net):
    convert_model(net, weight=QuantSpec("lsq", bits=2, per_channel=True), scope="layer1")
    conv = net.layer1[3]
    assert isinstance(conv, QuantConv2d)
    assert conv.quant_weight.clip_val.numel() == conv.out_channels == 16


def test_convert_model_quantizers_follow_weight_device_and_state_dict_names(net):
    convert_model(net, weight=QuantSpec("lsq", bits=2), activation=QuantSpec("lsq", bits=2))
    keys = set(net.state_dict())
    assert {"layer1.3.quant_weight.clip_val", "layer1.3.quant_activation.clip_val",
            "fc.quant_weight.iteration", "fc.quant_activation.level_num"} <= keys
    assert all(t.device == net.fc.weight.device for t in net.fc.quant_weight.state_dict().values())
