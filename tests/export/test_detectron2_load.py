"""The exported weights load into the pinned detectron2 fork's ResNet with nothing missing."""
import pytest
import torch
from torch import nn

from model_quantization.export import export_checkpoint, export_resnet_to_detectron2

FORKS = "needs the pinned forks: run inside the image (make test) or after make install-forks"


def _backbone(freeze_at):
    pytest.importorskip("detectron2", reason=FORKS)
    from detectron2.config import get_cfg
    from detectron2.layers import ShapeSpec
    from detectron2.modeling.backbone.resnet import build_resnet_backbone

    cfg = get_cfg()
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.BACKBONE.FREEZE_AT = freeze_at
    return build_resnet_backbone(cfg, ShapeSpec(channels=3))


def _r18_state():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    return torchvision.models.resnet18().state_dict()


@pytest.mark.forks
def test_export_loads_into_detectron2_resnet18_without_missing_or_unexpected_keys():
    backbone = _backbone(freeze_at=0)
    new, _ = export_resnet_to_detectron2(_r18_state(), 18, prefix="")
    result = backbone.load_state_dict(new, strict=False)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []


@pytest.mark.forks
def test_export_frozen_stem_only_leaves_batch_counters_unused():
    backbone = _backbone(freeze_at=2)  # detectron2's default: stem and res2 use FrozenBN
    new, _ = export_resnet_to_detectron2(_r18_state(), 18, prefix="")
    result = backbone.load_state_dict(new, strict=False)
    assert list(result.missing_keys) == []
    assert all(k.endswith("num_batches_tracked") for k in result.unexpected_keys)


@pytest.mark.forks
def test_export_file_loads_with_detection_checkpointer(tmp_path):
    backbone = _backbone(freeze_at=0)
    from detectron2.checkpoint import DetectionCheckpointer

    detector = nn.Module()  # the names FCOS / RetinaNet give their ResNet
    detector.backbone = nn.Module()
    detector.backbone.bottom_up = backbone
    src, dst = tmp_path / "r18.pth", tmp_path / "d2.pth"
    state = _r18_state()
    torch.save(state, str(src))
    export_checkpoint(str(src), str(dst), "resnet18")
    DetectionCheckpointer(detector).load(str(dst))
    assert torch.equal(backbone.res3[0].shortcut.norm.running_var,
                       state["layer2.0.downsample.1.running_var"])
    assert torch.equal(backbone.stem.conv1.weight, state["conv1.weight"])


def _retinanet_r18(quantize):
    pytest.importorskip("detectron2", reason=FORKS)
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    cfg = get_cfg()
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.META_ARCHITECTURE = "RetinaNet"
    cfg.MODEL.BACKBONE.NAME = "build_retinanet_resnet_fpn_backbone"
    cfg.MODEL.BACKBONE.FREEZE_AT = 0
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res3", "res4", "res5"]
    if quantize:
        q = cfg.MODEL.QUANTIZATION
        q.keyword, q.scope = ["dorefa", "lsq"], ["backbone.bottom_up"]
        q.fm_enable = q.wt_enable = True
        q.fm_bit = q.wt_bit = 2.0
    return build_model(cfg)


@pytest.mark.forks
@pytest.mark.parametrize("quantize", [False, True], ids=["float", "lsq-w2a2"])
def test_export_covers_every_backbone_key_of_retinanet_r18(tmp_path, quantize):
    detector = _retinanet_r18(quantize)
    from detectron2.checkpoint import DetectionCheckpointer

    from model_quantization.convert import convert_model
    from model_quantization.quantizers import QuantSpec

    classifier = pytest.importorskip("torchvision").models.resnet18()
    if quantize:  # the classifier quantized like the fork's LSQ backbone: one weight clip per
        # output channel (QTool's default weight grouping), one activation clip per layer
        convert_model(classifier, weight=QuantSpec("lsq", bits=2, per_channel=True),
                      activation=QuantSpec("lsq", bits=2), exclude=["fc"])
    src, dst = tmp_path / "cls.pth", tmp_path / "d2.pth"
    torch.save({"model": classifier.state_dict()}, str(src))
    export_checkpoint(str(src), str(dst), "resnet18")
    exported = torch.load(str(dst), map_location="cpu")["model"]
    wanted = {k: v for k, v in detector.state_dict().items()
              if k.startswith("backbone.bottom_up.")}
    assert sorted(set(wanted) - set(exported)) == []  # nothing the backbone has is missing
    assert sorted(set(exported) - set(wanted)) == []  # nothing exported goes unused
    assert [k for k in wanted if exported[k].numel() != wanted[k].numel()] == []
    DetectionCheckpointer(detector).load(str(dst))
    key = "backbone.bottom_up.res4.1.conv2.weight"
    assert torch.equal(detector.state_dict()[key], exported[key])
