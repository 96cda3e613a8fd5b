"""Tests for model_quantization.runrecord: files written, environment keys, no-git fallback."""
import json
import os

import yaml

from model_quantization import runrecord
from model_quantization.runrecord import collect_environment, write_run_record

REQUIRED = ("python", "torch", "torchvision", "numpy", "yacs", "pycocotools", "detectron2", "adet",
            "cuda", "cudnn", "gpus", "project", "submodules", "image_tag")


def _no_git(monkeypatch, tmp_path):
    """Make git unavailable (empty PATH) and point the build info at tmp_path."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("MQ_BUILD_INFO", str(tmp_path / "absent.json"))


def test_collect_environment_has_required_keys():
    env = collect_environment()
    for key in REQUIRED:
        assert key in env, key
    import torch
    assert env["torch"] == torch.__version__
    json.dumps(env)


def test_write_run_record_writes_every_file(tmp_path):
    policy = tmp_path / "p.txt"
    policy.write_text("on conv1:\n  by_index all\n")
    path = write_run_record(tmp_path / "out", config={"arch": "resnet18", "lr": [0.1, 0.01]},
                            policy=str(policy), quant_report={"rows": []}, extra={"top1": 1.5})
    assert sorted(os.listdir(path)) == ["config.yaml", "environment.json", "extra.json",
                                        "policy.txt", "quantization.json"]
    assert yaml.safe_load(open(os.path.join(path, "config.yaml"))) == {
        "arch": "resnet18", "lr": [0.1, 0.01]}
    assert open(os.path.join(path, "policy.txt")).read() == policy.read_text()
    assert json.load(open(os.path.join(path, "extra.json"))) == {"top1": 1.5}


def test_write_run_record_keeps_yaml_text_as_is(tmp_path):
    text = "MODEL:\n  WEIGHTS: x.pth  # comment kept\n"
    path = write_run_record(tmp_path, config=text)
    assert open(os.path.join(path, "config.yaml")).read() == text


def test_write_run_record_calls_report_save(tmp_path):
    class Report:
        def save(self, directory):
            open(os.path.join(directory, "quantization.md"), "w").write("| m |\n")

    path = write_run_record(tmp_path, quant_report=Report())
    assert os.path.exists(os.path.join(path, "quantization.md"))


def test_collect_environment_without_git_records_reason(monkeypatch, tmp_path):
    _no_git(monkeypatch, tmp_path)
    env = collect_environment()
    assert env["project"]["commit"] == "unknown"
    assert "git is not installed" in env["project"]["reason"]
    assert env["submodules"] == {}


def test_collect_environment_outside_checkout_uses_build_info(monkeypatch, tmp_path):
    info = {"image_tag": "mq:test", "project_commit": "abc123", "submodules": {
        "forks/detectron2": "073a8ad"}, "built_at": "now"}
    (tmp_path / "bi.json").write_text(json.dumps(info))
    monkeypatch.setattr(runrecord, "project_root", lambda: str(tmp_path))
    monkeypatch.setenv("MQ_BUILD_INFO", str(tmp_path / "bi.json"))
    monkeypatch.delenv("MQ_IMAGE_TAG", raising=False)
    env = collect_environment()
    assert env["project"]["commit"] == "abc123"
    assert env["submodules"] == {"forks/detectron2": "073a8ad"}
    assert env["image_tag"] == "mq:test"


def test_collect_environment_image_tag_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MQ_IMAGE_TAG", "mq:from-env")
    assert collect_environment()["image_tag"] == "mq:from-env"


def test_collect_environment_in_checkout_reports_commit():
    env = collect_environment()
    if env["project"]["source"] != "git":
        import pytest
        pytest.skip("the project is not a git checkout here ({})".format(env["project"]))
    assert len(env["project"]["commit"]) == 40
    assert env["project"]["dirty"] in (True, False)


def test_write_run_record_without_git_still_writes(monkeypatch, tmp_path):
    _no_git(monkeypatch, tmp_path)
    path = write_run_record(tmp_path / "run", config={"a": 1})
    env = json.load(open(os.path.join(path, "environment.json")))
    assert env["project"]["commit"] == "unknown"
