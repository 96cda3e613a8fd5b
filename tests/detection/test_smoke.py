"""The smoke recipe's plan and its behaviour without the forks (no training here)."""
import os

import pytest

from model_quantization.detection import smoke


def test_smoke_plan_chains_the_outputs(tmp_path):
    plan = smoke.SmokePlan(str(tmp_path), "/data/tiny", seed=3)
    det_fp, det_low, evaluate = plan.det_commands()
    assert plan.export_fp in det_fp[1] and plan.export_low in det_low[1]
    extra = det_low[1][det_low[1].index("MODEL.EXTRA_WEIGHTS") + 1]
    assert extra == os.path.join(plan.det_fp, "model_final.pth")
    assert "--eval-only" in evaluate[1] and "3" in det_fp[1]
    assert evaluate[1][evaluate[1].index("OUTPUT_DIR") + 1] == plan.det_eval
    exports = plan.export_commands()
    assert exports[1][1][exports[1][1].index("--output") + 1] == plan.export_low


def test_run_smoke_rejects_unknown_step(tmp_path):
    with pytest.raises(ValueError, match="unknown smoke step.*'detect'"):
        smoke.run_smoke(["detect"], str(tmp_path), "/data/tiny")


def _smoke_det_with(error, require, tmp_path, monkeypatch, capsys):
    """Exit status and output of the det step when importing the forks fails with ``error``."""
    if require:
        monkeypatch.setenv("MQ_REQUIRE_FORKS", "1")
    else:
        monkeypatch.delenv("MQ_REQUIRE_FORKS", raising=False)
    monkeypatch.setattr(smoke, "forks_import_error", lambda python=None: error)
    code = smoke.run_smoke(["det"], str(tmp_path), "/data/tiny")
    return code, capsys.readouterr().out


def test_run_smoke_det_without_forks_is_skipped_with_the_import_error(tmp_path, monkeypatch,
                                                                      capsys):
    code, out = _smoke_det_with("ModuleNotFoundError: No module named 'detectron2'", False,
                                tmp_path, monkeypatch, capsys)
    assert code == 0
    assert "detection smoke: skipped, forks not installed" in out
    assert "No module named 'detectron2'" in out


def test_run_smoke_det_installed_but_broken_reads_differently(tmp_path, monkeypatch, capsys):
    error = "AttributeError: module 'third_party' has no attribute 'layers'"
    code, out = _smoke_det_with(error, False, tmp_path, monkeypatch, capsys)
    assert code == 0
    assert "forks installed but not importable ({})".format(error) in out
    assert "forks not installed" not in out


def test_run_smoke_det_fails_where_the_forks_are_required(tmp_path, monkeypatch, capsys):
    code, out = _smoke_det_with("ModuleNotFoundError: No module named 'adet'", True,
                                tmp_path, monkeypatch, capsys)
    assert code == 1
    assert "detection smoke: FAILED, forks not installed" in out
    assert "MQ_REQUIRE_FORKS=1" in out


def test_run_smoke_det_without_forks_requires_nothing_when_importable(tmp_path, monkeypatch):
    monkeypatch.setenv("MQ_REQUIRE_FORKS", "1")
    calls = []
    monkeypatch.setattr(smoke, "forks_import_error", lambda python=None: None)
    monkeypatch.setattr(smoke.SmokePlan, "det_commands", lambda self: calls.append(1) or [])
    assert smoke.run_smoke(["det"], str(tmp_path), "/data/tiny") == 0
    assert calls == [1]


def test_find_checkpoint_prefers_best_then_newest(tmp_path):
    (tmp_path / "epoch_1.pth").write_bytes(b"x")
    assert smoke.find_checkpoint(str(tmp_path)).endswith("epoch_1.pth")
    (tmp_path / "model_final.pth").write_bytes(b"x")
    assert smoke.find_checkpoint(str(tmp_path)).endswith("model_final.pth")
    (tmp_path / "model_best.pth").write_bytes(b"x")
    assert smoke.find_checkpoint(str(tmp_path)).endswith("model_best.pth")


def test_find_checkpoint_empty_folder_says_which_step(tmp_path):
    with pytest.raises(FileNotFoundError, match="--steps cls"):
        smoke.find_checkpoint(str(tmp_path))


def test_without_a_folder_the_plan_uses_the_built_in_set_under_the_output(tmp_path):
    plan = smoke.SmokePlan(str(tmp_path / "out"))
    assert plan.builtin and plan.tiny_coco == str(tmp_path / "out" / "data" / "shapes")
    crops = dict(plan.cls_commands())["crops"]
    assert crops[crops.index("--annotations") + 1].endswith("instances_train.json")
    assert crops[crops.index("--max-per-class") + 1] == "0"
    given = smoke.SmokePlan(str(tmp_path / "out"), str(tmp_path / "coco"))
    assert not given.builtin and "--max-per-class" not in dict(given.cls_commands())["crops"]


def _fake_results(plan, top1_fp, top1_low, ap_fp, ap_low):
    import json
    for folder, top1 in ((plan.cls_fp, top1_fp), (plan.cls_low, top1_low)):
        os.makedirs(folder)
        with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
            f.write(json.dumps({"epoch": 1, "val_top1": 10.0}) + "\n")
            f.write(json.dumps({"epoch": 2, "val_top1": top1}) + "\n")
    for folder, ap in ((plan.det_fp, ap_fp), (plan.det_eval, ap_low)):
        os.makedirs(folder)
        with open(os.path.join(folder, "eval_metrics.json"), "w") as f:
            json.dump({"results": {"tiny_coco_val": {"bbox": {"AP": ap}}}}, f)


RAN = ["classifier fp", "classifier dorefa w2a2", "detector fp", "evaluate dorefa w2a2"]


def test_learning_checks_read_the_last_epoch_and_the_box_ap(tmp_path):
    plan = smoke.SmokePlan(str(tmp_path))
    _fake_results(plan, 91.0, 80.0, 30.0, 20.0)
    checks = {name: (observed, floor) for name, observed, floor in
              smoke.learning_checks(plan, RAN)}
    assert checks["classifier fp top-1"][0] == 91.0
    assert checks["detector dorefa w2a2 box AP"] == (20.0, smoke.LEARNING_FLOORS[
        "evaluate dorefa w2a2"])
    assert len(smoke.learning_checks(plan, RAN[:1])) == 1  # only the steps that ran


def test_a_result_below_its_floor_fails_the_run(tmp_path, capsys):
    plan = smoke.SmokePlan(str(tmp_path))
    floors = smoke.LEARNING_FLOORS
    _fake_results(plan, floors["classifier fp"] + 1, floors["classifier dorefa w2a2"] + 1,
                  floors["detector fp"] + 1, floors["evaluate dorefa w2a2"] - 0.5)
    assert smoke._report_learning(plan, RAN) is False
    out = capsys.readouterr().out
    assert "detector dorefa w2a2 box AP" in out and "BELOW THE FLOOR" in out
    assert out.count(" ok") == 3


def test_floors_apply_only_to_the_built_in_set(tmp_path, capsys):
    plan = smoke.SmokePlan(str(tmp_path), str(tmp_path / "real_coco"))
    _fake_results(plan, 0.0, 0.0, 0.0, 0.0)
    assert smoke._report_learning(plan, RAN) is True
    assert "learning checks: not applied" in capsys.readouterr().out


def test_overwrite_reaches_every_step_that_writes(tmp_path):
    plan = smoke.SmokePlan(str(tmp_path), overwrite=True)
    commands = plan.cls_commands() + plan.export_commands() + plan.det_commands()
    missing = [title for title, command in commands
               if "--overwrite" not in command and "--eval-only" not in command]
    assert missing == []
