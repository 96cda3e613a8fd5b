"""The COCO AP table and eval_metrics.json."""
import json

import pytest

from model_quantization.detection.evaluation import (
    box_ap,
    format_ap_table,
    read_eval_metrics,
    write_eval_metrics,
)

RESULTS = {"tiny_coco_val": {"bbox": {"AP": 1.234, "AP50": 5.0, "AP75": float("nan"),
                                      "APs": 0.0, "APm": 2.0, "APl": 3.0}}}


def test_format_ap_table_has_one_row_per_dataset_task():
    lines = format_ap_table(RESULTS).splitlines()
    assert lines[0].startswith("| dataset | task | AP | AP50 |")
    assert lines[2] == "| tiny_coco_val | bbox | 1.234 | 5.000 | nan | 0.000 | 2.000 | 3.000 |"


def test_format_ap_table_accepts_an_unnested_single_dataset():
    assert "| - | bbox | 1.234 |" in format_ap_table(RESULTS["tiny_coco_val"])


def test_write_eval_metrics_round_trips_and_stores_nan_as_null(tmp_path):
    path = write_eval_metrics(str(tmp_path), RESULTS, experiment="fcos-r18-fp", weights="w.pth")
    raw = json.load(open(path))
    assert raw["results"]["tiny_coco_val"]["bbox"]["AP75"] is None
    data = read_eval_metrics(str(tmp_path))
    assert data["experiment"] == "fcos-r18-fp" and box_ap(data) == pytest.approx(1.234)


def test_read_eval_metrics_rejects_other_json(tmp_path):
    (tmp_path / "eval_metrics.json").write_text('{"iteration": 3}')
    with pytest.raises(ValueError, match="not an evaluation file"):
        read_eval_metrics(str(tmp_path))
