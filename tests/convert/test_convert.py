import pytest
import torch
from torch import nn

from model_quantization.convert import convert_model
from model_quantization.nn import QuantConv2d, QuantLinear

LAYERS = ["stem", "layer1.0", "layer1.3", "layer10.0", "fc"]


def test_convert_model_converts_every_conv_and_linear(net, toy_spec):
    convert_model(net, weight=toy_spec(2), activation=toy_spec(2))
    quantized = [n for n, m in net.named_modules() if isinstance(m, (QuantConv2d, QuantLinear))]
    assert quantized == LAYERS
    assert isinstance(net.fc, QuantLinear) and isinstance(net.stem, QuantConv2d)


def test_convert_model_shares_parameters(net, toy_spec):
    before = {n: p for n, p in net.named_parameters()}
    convert_model(net, weight=toy_spec(2), activation=toy_spec(2))
    after = {n: p for n, p in net.named_parameters() if "quant_" not in n}
    assert after.keys() == before.keys()
    assert all(after[n] is before[n] for n in before)


def test_convert_model_quantizer_shapes(net, toy_spec):
    convert_model(net, weight=toy_spec(2), activation=toy_spec(2))
    dw = net.layer1[0]
    assert dw.quant_weight.shape == [8, 8, 3, 3] and dw.quant_weight.role == "weight"
    assert dw.quant_activation.shape == [1, 8, 1, 1] and dw.quant_activation.role == "activation"
    assert net.layer1[3].quant_weight.shape == [16, 8, 1, 1]
    assert net.fc.quant_weight.shape == [5, 16] and net.fc.quant_activation.shape == [1, 16]


def test_convert_model_output_uses_quantizers(net, toy_spec):
    x = torch.randn(2, 3, 8, 8)
    ref = net(x)
    convert_model(net, weight=toy_spec(2), activation=toy_spec(2))
    out = net(x)
    assert out.shape == ref.shape and not torch.equal(out, ref)
    for m in net.modules():
        if isinstance(m, (QuantConv2d, QuantLinear)):
            m.quant_weight.enabled = m.quant_activation.enabled = False
    assert torch.equal(net(x), ref)


def test_convert_model_scope_limits_conversion(net, toy_spec):
    report = convert_model(net, weight=toy_spec(2), scope=["layer1"])
    assert report.quantized_modules() == ["layer1.0", "layer1.3"]
    assert type(net.stem) is nn.Conv2d and type(net.layer10[0]) is nn.Conv2d


def test_convert_model_prefix_matches_on_dot_boundary(net, toy_spec):
    convert_model(net, weight=toy_spec(2), scope="layer1")
    assert type(net.layer10[0]) is nn.Conv2d


def test_convert_model_exclude_keeps_float(net, toy_spec):
    report = convert_model(net, weight=toy_spec(2), activation=toy_spec(2),
                           exclude=["stem", "fc"])
    assert type(net.stem) is nn.Conv2d and type(net.fc) is nn.Linear
    row = {r["module"]: r for r in report.rows}["fc"]
    assert row["weight"] == "float" and row["note"] == "excluded by 'fc'"


def test_convert_model_override_sets_first_and_last_layer(net, toy_spec):
    eight = {"weight": toy_spec(8), "activation": None}
    report = convert_model(net, weight=toy_spec(2), activation=toy_spec(2),
                           overrides={"stem": eight, "fc": eight})
    rows = {r["module"]: r for r in report.rows}
    assert (rows["stem"]["w_bits"], rows["stem"]["activation"]) == (8, "float")
    assert net.stem.quant_activation is None and net.fc.quant_weight.num_levels == 256
    assert (rows["layer1.3"]["w_bits"], rows["layer1.3"]["a_bits"]) == (2, 2)


def test_convert_model_longest_override_wins_and_missing_role_inherits(net, toy_spec):
    convert_model(net, weight=toy_spec(2), activation=toy_spec(2),
                  overrides={"layer1": {"weight": toy_spec(4)},
                             "layer1.3": {"weight": toy_spec(8)}})
    assert net.layer1[0].quant_weight.num_levels == 16
    assert net.layer1[3].quant_weight.num_levels == 256
    assert net.layer1[3].quant_activation.num_levels == 4


def test_convert_model_reconversion_replaces_quantizers(net, toy_spec):
    convert_model(net, weight=toy_spec(2), activation=toy_spec(2))
    first, weight = net.stem.quant_weight, net.stem.weight
    convert_model(net, weight=toy_spec(4))
    assert type(net.stem) is QuantConv2d and net.stem.weight is weight
    assert net.stem.quant_weight is not first and net.stem.quant_weight.num_levels == 16
    assert net.stem.quant_activation is None


def test_convert_model_layer_with_no_quantizer_stays_float(net, toy_spec):
    report = convert_model(net, weight=toy_spec(2), overrides={"fc": {"weight": None}})
    assert type(net.fc) is nn.Linear and "fc" not in report.quantized_modules()


@pytest.mark.parametrize("arg", ["scope", "exclude", "overrides"])
def test_convert_model_unknown_entry_raises_with_suggestion(net, toy_spec, arg):
    value = {"layer_1": {"weight": None}} if arg == "overrides" else ["layer_1"]
    with pytest.raises(ValueError, match=r"{} entry 'layer_1' matches no.*Did you mean 'layer1'"
                       .format(arg)):
        convert_model(net, weight=toy_spec(2), **{arg: value})


def test_convert_model_entry_naming_non_layer_raises(net, toy_spec):
    with pytest.raises(ValueError, match="exclude entry 'pool' matches no convertible"):
        convert_model(net, weight=toy_spec(2), exclude=["pool"])


def test_convert_model_override_bad_role_raises(net, toy_spec):
    with pytest.raises(ValueError, match="has key 'weights'.*Did you mean 'weight'"):
        convert_model(net, weight=toy_spec(2), overrides={"fc": {"weights": toy_spec(8)}})


@pytest.mark.parametrize("bad", [3.5, [1]])
def test_convert_model_scope_type_error(net, toy_spec, bad):
    with pytest.raises(TypeError, match="scope"):
        convert_model(net, weight=toy_spec(2), scope=bad)

def test_convert_model_without_any_spec_raises(net):
    with pytest.raises(ValueError, match="nothing to quantize"):
        convert_model(net, overrides={"fc": {"weight": None}})


def test_convert_model_rejects_non_spec(net):
    with pytest.raises(TypeError, match="weight must be a QuantSpec"):
        convert_model(net, weight="lsq")


def test_convert_model_skips_attention_projection(toy_spec):
    model = nn.Sequential(nn.Linear(8, 8), nn.MultiheadAttention(8, 2))
    report = convert_model(model, weight=toy_spec(2))
    assert report.quantized_modules() == ["0"]
    assert type(model[1].out_proj) is not QuantLinear


def test_convert_model_torchvision_resnet18_first_last_8bit(toy_spec):
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18()
    eight = {"weight": toy_spec(8), "activation": None}
    report = convert_model(model, weight=toy_spec(2), activation=toy_spec(2),
                           overrides={"conv1": eight, "fc": eight})
    assert report.num_quantized == len(report.rows) == 21  # 20 convs + fc
    rows = {r["module"]: r for r in report.rows}
    assert rows["conv1"]["w_bits"] == 8 and rows["conv1"]["activation"] == "float"
    assert rows["layer4.1.conv2"]["w_bits"] == 2 and rows["layer2.0.downsample.0"]["a_bits"] == 2
    assert model.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 1000)


def test_convert_model_quantizers_follow_module_mode(net, toy_spec):
    convert_model(net, weight=toy_spec(2))
    net.eval()
    convert_model(net, weight=toy_spec(4), activation=toy_spec(4))
    assert not any(m.training for m in net.modules())
