"""docker/write_build_info.py writes the record model_quantization.runrecord reads in the image."""

import json

import pytest
from static_helpers import load_script

writer = load_script("docker/write_build_info.py")
D2 = "forks/detectron2=073a8ad0f22178d1452df3c449f0e45b1ff50f8a"


def test_build_info_has_the_agreed_keys(tmp_path):
    out = tmp_path / "info.json"
    assert writer.main(["--out", str(out), "--image-tag", "qat:cpu-1", "--flavor", "cpu",
                        "--project-commit", "abc1234", "--submodule", D2,
                        "--built-at", "2026-01-01T00:00:00Z"]) == 0
    info = json.loads(out.read_text())
    assert info == {"image_tag": "qat:cpu-1", "flavor": "cpu", "project_commit": "abc1234",
                    "submodules": {"forks/detectron2": D2.split("=")[1]},
                    "built_at": "2026-01-01T00:00:00Z"}


def test_build_info_defaults_built_at_to_now():
    info = writer.build_info("t", "legacy", "unknown", [])
    assert info["built_at"].endswith("Z") and info["built_at"][:2] == "20"


def test_build_info_rejects_an_unknown_flavor():
    with pytest.raises(ValueError, match="'gpu' is not one of legacy|current|cpu"):
        writer.build_info("t", "gpu", "unknown", [])


def test_build_info_rejects_a_malformed_submodule(tmp_path):
    with pytest.raises(SystemExit):
        writer.main(["--out", str(tmp_path / "x"), "--image-tag", "t", "--flavor", "cpu",
                     "--submodule", "forks/detectron2"])


def test_build_info_is_what_the_run_record_reads(tmp_path, monkeypatch):
    runrecord = pytest.importorskip("model_quantization.runrecord")
    assert runrecord.DEFAULT_BUILD_INFO == "/etc/mq-build-info.json"  # where the Dockerfile writes
    out = tmp_path / "info.json"
    writer.main(["--out", str(out), "--image-tag", "qat:t9", "--flavor", "current",
                 "--submodule", D2])
    monkeypatch.setenv("MQ_BUILD_INFO", str(out))
    info, path, reason = runrecord._read_build_info()  # the reader collect_environment() uses
    assert reason is None and path == str(out)
    path_, commit = D2.split("=")
    assert info["image_tag"] == "qat:t9" and info["submodules"] == {path_: commit}
