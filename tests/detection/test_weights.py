"""Weight files must fit the model; double initialization loads the second file on top."""
import pytest
import torch
from torch import nn

from model_quantization.checkpoint import CheckpointError
from model_quantization.detection.weights import (
    WeightsMismatchError,
    double_init,
    fit_state_dict,
    load_fitted,
)


class Bottom(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3)
        self.res2 = nn.Conv2d(4, 4, 3)


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.bottom_up = Bottom()
        self.fpn = nn.Conv2d(4, 4, 1)


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.head = nn.Conv2d(4, 2, 1)


def _filled(model, value):
    return {k: torch.full_like(v, value) for k, v in model.state_dict().items()}


def test_fit_state_dict_adds_the_backbone_prefix():
    model = Detector()
    backbone_only = {k: v for k, v in Bottom().state_dict().items()}
    fitted, info = fit_state_dict(backbone_only, model.state_dict(), "bb.pth")
    assert info["prefix"] == "backbone.bottom_up."
    assert sorted(fitted) == sorted("backbone.bottom_up." + k for k in backbone_only)


def test_fit_state_dict_rejects_a_file_for_another_model():
    other = {"layer{}.weight".format(i): torch.zeros(2) for i in range(6)}
    with pytest.raises(WeightsMismatchError, match="other.pth.*only 0 of its 6 tensors"):
        fit_state_dict(other, Detector().state_dict(), "other.pth")


def test_fit_state_dict_names_shape_mismatches():
    state = _filled(Detector(), 1.0)
    state["head.weight"] = torch.zeros(3, 4, 1, 1)
    with pytest.raises(WeightsMismatchError, match=r"head.weight: file \(3, 4, 1, 1\) vs model"):
        fit_state_dict(state, Detector().state_dict(), "wide.pth")


def test_load_fitted_copies_tensors_into_the_model(tmp_path):
    path = str(tmp_path / "w.pth")
    torch.save({"model": _filled(Detector(), 0.5)}, path)
    model = Detector()
    load_fitted(model, path)
    assert torch.equal(model.head.weight, torch.full_like(model.head.weight, 0.5))


def test_load_fitted_missing_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_fitted(Detector(), str(tmp_path / "absent.pth"))


def test_double_init_second_file_overrides_the_backbone(tmp_path):
    fp, low = str(tmp_path / "fp.pth"), str(tmp_path / "low.pth")
    torch.save({"model": _filled(Detector(), 1.0)}, fp)
    torch.save({"model": {"backbone.bottom_up." + k: v
                          for k, v in _filled(Bottom(), 2.0).items()}}, low)
    model = Detector()
    infos = double_init(model, fp, low)
    assert torch.all(model.backbone.bottom_up.res2.weight == 2.0)
    assert torch.all(model.backbone.fpn.weight == 1.0) and torch.all(model.head.weight == 1.0)
    assert len(infos["weights"]["matched"]) == 4


def test_double_init_checks_both_files_before_touching_the_model(tmp_path):
    fp, bad = str(tmp_path / "fp.pth"), str(tmp_path / "bad.pth")
    torch.save({"model": _filled(Detector(), 1.0)}, fp)
    torch.save({"model": {"x.{}".format(i): torch.zeros(1) for i in range(4)}}, bad)
    model = Detector()
    before = model.head.weight.clone()
    with pytest.raises(WeightsMismatchError, match="MODEL.WEIGHTS file .*bad.pth"):
        double_init(model, fp, bad)
    assert torch.equal(model.head.weight, before)
