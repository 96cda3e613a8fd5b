import pytest
import torch

from model_quantization.convert import convert_model
from model_quantization.export import export_resnet_to_detectron2, infer_resnet_depth
from model_quantization.quantizers import QuantSpec

torchvision = pytest.importorskip("torchvision")

# Independent description of detectron2's ResNet backbone: block kind and blocks per stage.
D2_LAYOUT = {18: (2, (2, 2, 2, 2)), 34: (2, (3, 4, 6, 3)), 50: (3, (3, 4, 6, 3))}
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def expected_detectron2_keys(depth):
    """detectron2 backbone names: stem + res2..res5, conv{k} (+ .norm), shortcut where the
    block changes width (the first block of every stage, except res2 of a basic net)."""
    convs, blocks = D2_LAYOUT[depth]
    modules = ["stem.conv1"]
    for stage, n in zip(range(2, 6), blocks):
        for i in range(n):
            modules += ["res{}.{}.conv{}".format(stage, i, k) for k in range(1, convs + 1)]
            if i == 0 and (stage > 2 or convs == 3):
                modules.append("res{}.{}.shortcut".format(stage, i))
    keys = set()
    for m in modules:
        keys.add(m + ".weight")
        keys.update("{}.norm.{}".format(m, leaf) for leaf in BN)
    return keys


def _resnet(depth):
    torch.manual_seed(0)
    return getattr(torchvision.models, "resnet{}".format(depth))()


@pytest.mark.parametrize("depth", [18, 50])
def test_export_resnet_keys_match_detectron2_layout(depth):
    sd = _resnet(depth).state_dict()
    new, report = export_resnet_to_detectron2(sd, depth, prefix="")
    assert set(new) == expected_detectron2_keys(depth)
    assert sorted(report["dropped"]) == ["fc.bias", "fc.weight"]


@pytest.mark.parametrize("depth", [18, 50])
def test_export_resnet_is_bijective_and_keeps_values(depth):
    sd = _resnet(depth).state_dict()
    new, report = export_resnet_to_detectron2(sd, depth)
    assert len(new) == len(sd) - 2 == len(report["renamed"])
    assert len({old for old, _ in report["renamed"]}) == len(report["renamed"])
    for old, key in report["renamed"]:
        assert key.startswith("backbone.bottom_up.")
        assert new[key] is sd[old]


def test_export_resnet_carries_quantizer_state():
    model = _resnet(18)
    eight = {"weight": QuantSpec("lsq", bits=8), "activation": None}
    convert_model(model, weight=QuantSpec("lsq", bits=2), activation=QuantSpec("lsq", bits=2),
                  overrides={"conv1": eight, "fc": eight})
    sd = model.state_dict()
    new, report = export_resnet_to_detectron2(sd, 18, prefix="")
    quant_src = [k for k in sd if ".quant_" in k and not k.startswith("fc.")]
    assert report["num_quantizer_tensors"] == len(quant_src) > 0
    assert "res3.0.shortcut.quant_weight.clip_val" in new
    assert "res2.1.conv2.quant_activation.clip_val" in new
    assert "stem.conv1.quant_weight.level_num" in new
    assert not any(k.startswith("stem.conv1.quant_activation.") for k in new)
    assert torch.equal(new["res5.1.conv2.quant_weight.clip_val"],
                       sd["layer4.1.conv2.quant_weight.clip_val"])
    float_keys = {k for k in new if ".quant_" not in k}
    assert float_keys == expected_detectron2_keys(18)
    assert all(k.startswith("fc.") for k in report["dropped"]) and len(report["dropped"]) > 2


def test_export_resnet_unknown_key_raises_listing_it():
    sd = dict(_resnet(18).state_dict())
    sd["layer1.0.se.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"fit no ResNet-18 rule.*layer1\.0\.se\.weight"):
        export_resnet_to_detectron2(sd, 18)


def test_export_resnet_unknown_leaf_under_bn_raises():
    sd = dict(_resnet(18).state_dict())
    sd["bn1.quant_weight.clip_val"] = torch.ones(1)
    with pytest.raises(ValueError, match=r"bn1\.quant_weight\.clip_val"):
        export_resnet_to_detectron2(sd, 18)


def test_export_resnet_wrong_depth_names_the_likely_one():
    sd = _resnet(18).state_dict()
    with pytest.raises(ValueError, match=r"missing.*looks like a ResNet-18: pass depth 18"):
        export_resnet_to_detectron2(sd, 34)
    with pytest.raises(ValueError, match=r"looks like a ResNet-18"):
        export_resnet_to_detectron2(sd, 50)


def test_export_resnet_unsupported_depth_raises():
    with pytest.raises(ValueError, match=r"depth 19; supported depths: 18, 34, 50"):
        export_resnet_to_detectron2({}, 19)


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_infer_resnet_depth(depth):
    assert infer_resnet_depth(_resnet(depth).state_dict()) == depth
