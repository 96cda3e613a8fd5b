"""Tests for importing torchvision weights (checksum in the name, --sha256) and init loading."""
import os
import shutil

import pytest
import torch

from model_quantization.checkpoint import CheckpointError, load_checkpoint, sha256sum
from model_quantization.classification.model import build_model, load_init_weights
from model_quantization.classification.pretrained import (
    import_torchvision_weights,
    parse_weights_name,
)


@pytest.fixture(scope="module")
def tv_weights(tmp_path_factory):
    """A torchvision-style resnet18 file named resnet18-<sha256 prefix>.pth (4 classes)."""
    folder = tmp_path_factory.mktemp("tv")
    torch.manual_seed(0)
    raw = folder / "raw.pth"
    torch.save(build_model("resnet18", 4).state_dict(), raw)
    named = folder / "resnet18-{}.pth".format(sha256sum(raw)[:8])
    shutil.move(str(raw), str(named))
    return named


def test_parse_weights_name_reads_arch_and_prefix():
    assert parse_weights_name("/x/resnet18-f37072fd.pth") == ("resnet18", "f37072fd")
    assert parse_weights_name("resnet18-5c106cde.pth") == ("resnet18", None)
    assert parse_weights_name("mine.pth") == (None, None)


def test_import_torchvision_weights_verifies_name_prefix(tv_weights, tmp_path):
    path = import_torchvision_weights(tv_weights, tmp_path / "out", log=lambda *_: None)
    ckpt = load_checkpoint(path)
    src = torch.load(tv_weights)
    assert ckpt["arch"] == "resnet18" and ckpt["num_classes"] == 4
    for k, v in src.items():
        assert torch.equal(ckpt["model"][k], v), k
    assert ckpt["source"]["sha256"] == sha256sum(tv_weights)
    assert os.path.isfile(tmp_path / "out" / "run_record" / "environment.json")


def test_import_torchvision_weights_prefix_mismatch_is_clear(tv_weights, tmp_path):
    bad = tmp_path / "resnet18-00000000.pth"
    shutil.copy(str(tv_weights), str(bad))
    with pytest.raises(CheckpointError, match="sha256 prefix mismatch.*expected 00000000"):
        import_torchvision_weights(bad, tmp_path / "out", log=lambda *_: None)
    assert not (tmp_path / "out" / "model_best.pth").exists()


def test_import_torchvision_weights_unnamed_needs_sha256(tv_weights, tmp_path):
    plain = tmp_path / "weights.pth"
    shutil.copy(str(tv_weights), str(plain))
    with pytest.raises(ValueError, match="--sha256"):
        import_torchvision_weights(plain, tmp_path / "out", arch="resnet18", log=lambda *_: None)
    path = import_torchvision_weights(plain, tmp_path / "out", arch="resnet18",
                                      sha256=sha256sum(plain), log=lambda *_: None)
    assert load_checkpoint(path)["source"]["verification"] == "sha256 given by the user"


def test_import_torchvision_weights_arch_mismatch(tv_weights, tmp_path):
    with pytest.raises(ValueError, match="--arch resnet34 does not match"):
        import_torchvision_weights(tv_weights, tmp_path / "o", arch="resnet34",
                                   log=lambda *_: None)


def test_import_torchvision_weights_keeps_existing_result(tv_weights, tmp_path):
    import_torchvision_weights(tv_weights, tmp_path / "out", log=lambda *_: None)
    with pytest.raises(FileExistsError, match="--overwrite"):
        import_torchvision_weights(tv_weights, tmp_path / "out", log=lambda *_: None)


def test_load_init_weights_head_mismatch_suggests_init_skip(tv_weights):
    model = build_model("resnet18", 7)
    with pytest.raises(ValueError, match="fc.weight.*init_skip"):
        load_init_weights(model, tv_weights, log=lambda *_: None)
    load_init_weights(model, tv_weights, skip=["fc."], log=lambda *_: None)
    assert torch.equal(model.conv1.weight, torch.load(tv_weights)["conv1.weight"])


def test_load_init_weights_wrong_arch_is_clear(tv_weights):
    with pytest.raises(ValueError, match="lacks [0-9]+ model keys.*layer1.2"):
        load_init_weights(build_model("resnet34", 4), tv_weights, log=lambda *_: None)


def test_load_init_weights_accepts_ddp_prefix(tv_weights, tmp_path):
    sd = torch.load(tv_weights)
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, tmp_path / "ddp.pth")
    model = build_model("resnet18", 4)
    load_init_weights(model, tmp_path / "ddp.pth", log=lambda *_: None)
    assert torch.equal(model.fc.weight, sd["fc.weight"])
