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
    return torchvision.models.resnet18(weights=None).state_dict()


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
