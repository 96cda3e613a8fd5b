import collections
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model_quantization.export import arch_depth, export_checkpoint, extract_state_dict

torchvision = pytest.importorskip("torchvision")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "export_detectron2.py"


@pytest.fixture(scope="module")
def r18_state():
    torch.manual_seed(0)
    return torchvision.models.resnet18().state_dict()


def _load(path):
    return torch.load(str(path), map_location="cpu")


def test_export_checkpoint_trainer_checkpoint_with_ddp_prefix(r18_state, tmp_path):
    src = tmp_path / "model_best.pth"
    ddp = collections.OrderedDict(("module." + k, v) for k, v in r18_state.items())
    torch.save({"model": ddp, "epoch": 3, "config": {"arch": "resnet18"}}, str(src))
    report = export_checkpoint(str(src), str(tmp_path / "d2.pth"), "resnet18")
    out = _load(tmp_path / "d2.pth")
    assert out["__author__"] == "model_quantization" and out["matching_heuristics"] is False
    assert len(out["model"]) == len(r18_state) - 2 == len(report["renamed"])
    assert torch.equal(out["model"]["backbone.bottom_up.res4.0.shortcut.norm.running_var"],
                       r18_state["layer3.0.downsample.1.running_var"])


def test_export_checkpoint_raw_torchvision_state_dict(r18_state, tmp_path):
    src = tmp_path / "resnet18.pth"
    torch.save(r18_state, str(src))
    export_checkpoint(str(src), str(tmp_path / "d2.pth"), "resnet18")
    assert "backbone.bottom_up.stem.conv1.weight" in _load(tmp_path / "d2.pth")["model"]


def test_export_checkpoint_refuses_to_overwrite(r18_state, tmp_path):
    src, dst = tmp_path / "in.pth", tmp_path / "out.pth"
    torch.save(r18_state, str(src))
    dst.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_checkpoint(str(src), str(dst), "resnet18")
    assert dst.read_bytes() == b"keep me"
    export_checkpoint(str(src), str(dst), "resnet18", overwrite=True)
    assert "model" in _load(dst)


def test_export_checkpoint_missing_input_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        export_checkpoint(str(tmp_path / "nope.pth"), str(tmp_path / "out.pth"), "resnet18")


def test_export_checkpoint_wrong_arch_leaves_no_output(r18_state, tmp_path):
    src = tmp_path / "in.pth"
    torch.save(r18_state, str(src))
    with pytest.raises(ValueError, match="looks like a ResNet-18"):
        export_checkpoint(str(src), str(tmp_path / "out.pth"), "resnet50")
    assert not (tmp_path / "out.pth").exists()


def test_arch_depth_unknown_suggests_closest():
    assert arch_depth("ResNet-18") == 18
    with pytest.raises(ValueError, match="unsupported arch 'resnet05'.*Did you mean 'resnet50'"):
        arch_depth("resnet05")


def test_extract_state_dict_without_tensors_raises():
    with pytest.raises(ValueError, match=r"'ckpt' holds no model state dict.*found \['epoch'\]"):
        extract_state_dict({"epoch": 1}, source="'ckpt'")


def test_export_script_writes_file(r18_state, tmp_path):
    src, dst = tmp_path / "in.pth", tmp_path / "out" / "d2.pth"
    torch.save({"state_dict": r18_state}, str(src))
    proc = subprocess.run([sys.executable, str(SCRIPT), "--input", str(src), "--output",
                           str(dst), "--arch", "resnet18"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode == 0, proc.stdout
    assert "dropped: fc.weight, fc.bias" in proc.stdout and dst.is_file()


def test_export_checkpoint_quantized_classifier(tmp_path):
    from model_quantization.convert import convert_model
    from model_quantization.quantizers import QuantSpec

    model = torchvision.models.resnet18(num_classes=10)
    convert_model(model, weight=QuantSpec("lsq", bits=2), activation=QuantSpec("lsq", bits=2),
                  exclude=["conv1", "fc"])
    src = tmp_path / "model_best.pth"
    torch.save({"model": model.state_dict(), "config": {"arch": "resnet18"}, "epoch": 1}, str(src))
    report = export_checkpoint(str(src), str(tmp_path / "d2.pth"), "resnet18")
    out = _load(tmp_path / "d2.pth")["model"]
    assert report["num_quantizer_tensors"] == 19 * 2 * 3  # 19 convs x (W, A) x 3 tensors
    assert torch.equal(out["backbone.bottom_up.res5.0.shortcut.quant_activation.clip_val"],
                       model.layer4[0].downsample[0].quant_activation.clip_val.detach())
