"""The real pinned forks building FCOS-R18 through model_quantization.compat (docs/forks.md,
"Layer indices", "What the forks import and call", "Fork configs this project follows"). Needs
detectron2 and AdelaiDet (the forks) installed and the alias wired."""
import os

import pytest
import torch

pytestmark = pytest.mark.forks

REASON = ("needs the pinned forks: run inside the image (make test) or after make install-forks "
          "and python -m model_quantization.compat.wire --detectron2 forks/detectron2")
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture(scope="module")
def forks():
    detectron2 = pytest.importorskip("detectron2", reason=REASON)
    adet = pytest.importorskip("adet", reason=REASON)
    from model_quantization.compat import wire
    d2_root = os.path.dirname(os.path.dirname(os.path.abspath(detectron2.__file__)))
    ok, message = wire.check(d2_root)
    if not ok:
        pytest.skip("{} ({})".format(REASON, message))
    return d2_root, os.path.dirname(os.path.dirname(os.path.abspath(adet.__file__)))


def fcos_r18(adet_root, config, policy=None):
    """Build FCOS-R18 on CPU from the AdelaiDet fork config ``config`` (its QUANTIZATION block)."""
    from adet.config import get_cfg
    from detectron2.modeling import build_model
    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(adet_root, "configs", "FCOS-Detection", config))
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = ""
    if policy is not None:
        cfg.MODEL.QUANTIZATION.policy = policy
    cfg.freeze()
    return cfg, build_model(cfg)


def indexed_convs(model):
    return [(n, m) for n, m in model.named_modules() if hasattr(m, "update_quantization_parameter")]


def test_forks_third_party_quantization_is_compat(forks):
    import third_party.quantization.quant as fork_quant

    import model_quantization.compat.quant as compat_quant
    assert fork_quant is compat_quant


def test_forks_fcos_r18_lsq_2bit_converts_35_convs(forks):
    _, model = fcos_r18(forks[1], "R_18_1x-Full-SyncBN-lsq-2bit.yaml")
    convs = indexed_convs(model)
    converted = [n for n, m in convs if not m.force_fp]
    assert len(converted) == 35
    assert convs[8][0] == "backbone.bottom_up.stem.conv1" and convs[8][1].force_fp


def test_forks_fcos_r18_fixpoint_policy_reaches_stem_and_predictors(forks):
    policy = os.path.join(FIXTURES, "policy-fcos-r18-fixpoint.txt")
    _, model = fcos_r18(forks[1], "R_18_1x-Full-SyncBN-FixFPN-FixPoint-lsq-M2F8L8.yaml", policy)
    convs = indexed_convs(model)
    names = [n for n, _ in convs]
    assert len(convs) == 39 and all(not m.force_fp for _, m in convs)
    assert names[8] == "backbone.bottom_up.stem.conv1"
    assert [n.rsplit(".", 1)[1] for n in names[36:39]] == ["cls_logits", "bbox_pred", "ctrness"]
    stem = convs[8][1]
    assert not stem.quant_activation.enable and stem.quant_weight.quantizer.num_levels == 256
    for _, conv in convs[36:39]:
        assert conv.quant_activation.quantizer.num_levels == 256
        assert conv.quant_weight.quantizer.stable == 10
    assert convs[9][1].quant_weight.quantizer.num_levels == 4


def test_forks_fcos_r18_lsq_trains_one_step(forks):
    from detectron2.structures import Boxes, Instances
    _, model = fcos_r18(forks[1], "R_18_1x-Full-SyncBN-lsq-2bit.yaml")
    model.train()
    inst = Instances((256, 256))
    inst.gt_boxes = Boxes(torch.tensor([[10.0, 12.0, 60.0, 70.0], [50.0, 20.0, 120.0, 90.0]]))
    inst.gt_classes = torch.tensor([0, 3])
    batch = [{"image": torch.randint(0, 255, (3, 256, 256)).float(), "instances": inst,
              "height": 256, "width": 256}]
    losses = model(batch)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    clips = [p for n, p in model.named_parameters() if n.endswith("clip_val")]
    assert len(clips) == 70
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in clips)


def test_forks_retina_r18_test_policy_drives_fork_norm_and_eltwise(forks):
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model
    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(
        forks[0], "configs", "COCO-Detection",
        "retinanet_R_18_FPN_1x-Full-SyncBN-FixFPN-FixPoint-lsq-M2F8L8.yaml"))
    cfg.MODEL.DEVICE, cfg.MODEL.WEIGHTS = "cpu", ""
    cfg.MODEL.QUANTIZATION.policy = os.path.join(FIXTURES, "policy-retina-r18-test.txt")
    cfg.freeze()
    model = build_model(cfg)
    convs = indexed_convs(model)
    norms = [m for m in model.modules() if hasattr(m, "update_norm_quantization_parameter")]
    assert [n for n, _ in convs][36:] == ["head.cls_score", "head.bbox_pred"]
    assert len(norms) == 68 and norms[30].input_index == "clip_val-28"
    buffer = cfg.MODEL.QUANTIZATION.global_buffer
    assert len(buffer) == 2 * 38 - 1  # every clip but the stem's disabled input quantizer
    assert buffer["clip_val-36-wt"] is convs[36][1].quant_weight.clip_val
    model.eval()
    with torch.no_grad():
        out = model([{"image": torch.randint(0, 255, (3, 128, 128)).float(), "height": 128,
                      "width": 128}])
    assert "instances" in out[0] and "clip_val-27-norm" in buffer


def test_forks_checkpointer_round_trips_qtool_quantizer_names(forks, tmp_path):
    from detectron2.checkpoint import DetectionCheckpointer
    _, model = fcos_r18(forks[1], "R_18_1x-Full-SyncBN-lsq-2bit.yaml")
    state = model.state_dict()
    key = "backbone.bottom_up.res2.0.conv1.quant_weight.clip_val"
    assert key in state and not any(".quantizer." in k for k in state)
    state[key] = torch.full((1, 1, 1, 1), 0.42)
    torch.save({"model": state}, str(tmp_path / "qtool.pth"))
    _, fresh = fcos_r18(forks[1], "R_18_1x-Full-SyncBN-lsq-2bit.yaml")
    checkpointer = DetectionCheckpointer(fresh)
    incompatible = checkpointer._load_model(checkpointer._load_file(str(tmp_path / "qtool.pth")))
    assert not incompatible.missing_keys and not incompatible.unexpected_keys
    assert not incompatible.incorrect_shapes
    clip = fresh.backbone.bottom_up.res2[0].conv1.quant_weight.clip_val
    assert clip.item() == pytest.approx(0.42)
