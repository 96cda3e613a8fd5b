"""scripts/report.py on synthetic run folders: dashboard table and chart."""
import os
import subprocess
import sys

import pytest

from model_quantization.detection.dashboard import collect_runs, render_markdown, write_report
from model_quantization.detection.evaluation import write_eval_metrics
from model_quantization.detection.experiments import load_experiments, repo_root

EXPERIMENTS = load_experiments()


def _run(root, folder, ap, **kwargs):
    path = os.path.join(str(root), folder)
    write_eval_metrics(path, {"coco_2017_val": {"bbox": {"AP": ap}}}, **kwargs)
    return path


def _line(text, name):
    return [line for line in text.splitlines() if line.startswith("| {} |".format(name))][0]


def test_report_row_shows_reproduced_ap_and_difference(tmp_path):
    _run(tmp_path, "fcos-r18-fpnbn-fp", 33.0)
    matched, _ = collect_runs(str(tmp_path), EXPERIMENTS)
    cells = [c.strip() for c in _line(render_markdown(EXPERIMENTS, matched),
                                      "fcos-r18-fpnbn-fp").split("|")]
    assert cells[9:12] == ["33.4", "33.0", "-0.4"]


def test_report_row_without_run_says_not_run(tmp_path):
    matched, _ = collect_runs(str(tmp_path), EXPERIMENTS)
    assert "| 31.5 | not run | - |" in _line(render_markdown(EXPERIMENTS, matched),
                                             "retinanet-r18-fp")


def test_collect_runs_matches_by_experiment_field_then_config_path(tmp_path):
    _run(tmp_path, "a", 20.0, experiment="fcos-r18-2bit")
    config = os.path.join(repo_root(), "configs/detection/retinanet/R18-fp.yaml")
    _run(tmp_path, "b", 30.0, config_file=config)
    matched, unmatched = collect_runs(str(tmp_path), EXPERIMENTS)
    assert matched["fcos-r18-fpnbn-dorefa-w2a2-all"]["ap"] == 20.0
    assert matched["retinanet-r18-fp"]["ap"] == 30.0 and not unmatched


def test_collect_runs_lists_unmatched_runs(tmp_path):
    _run(tmp_path, "my-own-experiment", 12.0)
    matched, unmatched = collect_runs(str(tmp_path), EXPERIMENTS)
    assert not matched and unmatched[0]["folder"].endswith("my-own-experiment")
    assert "my-own-experiment" in render_markdown(EXPERIMENTS, matched, unmatched)


def test_collect_runs_keeps_the_newest_evaluation(tmp_path):
    for folder, ap, stamp in (("old", 10.0, "2026-01-01T00:00:00"),
                              ("new", 11.0, "2026-02-01T00:00:00")):
        _run(tmp_path, folder, ap, experiment="fcos-r18-fp", extra={"evaluated_at": stamp})
    matched, _ = collect_runs(str(tmp_path), EXPERIMENTS)
    assert matched["fcos-r18-fp"]["ap"] == 11.0


def test_collect_runs_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        collect_runs(str(tmp_path / "nowhere"), EXPERIMENTS)


def test_write_report_writes_markdown_and_png(tmp_path):
    _run(tmp_path / "runs", "fcos-r18-fp", 31.0)
    md, png = write_report(str(tmp_path / "runs"), str(tmp_path / "out"), EXPERIMENTS)
    assert "| fcos-r18-fp |" in open(md).read()
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_report_script_runs_end_to_end(tmp_path):
    _run(tmp_path / "runs", "fcos-r18-fpnbn-dorefa-w2a2-all", 29.0)
    proc = subprocess.run([sys.executable, os.path.join(repo_root(), "scripts", "report.py"),
                           "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "| 30.3 | 29.0 | -1.3 |" in proc.stdout.decode()
