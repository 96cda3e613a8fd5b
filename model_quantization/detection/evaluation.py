"""COCO evaluation results: the printed AP table and ``eval_metrics.json``.

detectron2's evaluators return ``{"bbox": {"AP": ..., "AP50": ..., "AP-person": ...}}`` per
dataset (AP in percent). We print the summary columns as a markdown table and save everything as
``<OUTPUT_DIR>/eval_metrics.json`` (detectron2 already uses ``metrics.json`` for its training event
log, so the evaluation gets its own file). ``read_eval_metrics`` is what the report reads.
"""
import datetime
import json
import math
import os

__all__ = ["EVAL_FILE", "SUMMARY_KEYS", "format_ap_table", "write_eval_metrics",
           "read_eval_metrics", "box_ap"]

EVAL_FILE = "eval_metrics.json"
SUMMARY_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def _flatten(results):
    """``{dataset: {task: metrics}}`` whatever detectron2 returned (one dataset may be unnested)."""
    results = dict(results or {})
    if results and all(isinstance(v, dict) and "AP" in v for v in results.values()):
        return {"": results}
    return {k: v for k, v in results.items() if isinstance(v, dict)}


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return "{:.3f}".format(float(value))


def format_ap_table(results):
    """Markdown table: one row per dataset and task, columns AP, AP50, AP75, APs, APm, APl."""
    lines = ["| dataset | task | " + " | ".join(SUMMARY_KEYS) + " |",
             "|---|---|" + "---:|" * len(SUMMARY_KEYS)]
    for dataset, tasks in sorted(_flatten(results).items()):
        for task, metrics in sorted(tasks.items()):
            if not isinstance(metrics, dict):
                continue
            cells = [_cell(metrics.get(k)) for k in SUMMARY_KEYS]
            lines.append("| {} | {} | {} |".format(dataset or "-", task, " | ".join(cells)))
    return "\n".join(lines)


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_eval_metrics(output_dir, results, experiment=None, config_file=None, weights=None,
                       extra=None):
    """Write ``<output_dir>/eval_metrics.json``; return its path."""
    os.makedirs(output_dir, exist_ok=True)
    payload = {
        "experiment": experiment,
        "config_file": config_file,
        "weights": weights,
        "evaluated_at": datetime.datetime.now().isoformat(timespec="seconds"),
        "results": _plain(_flatten(results)),
    }
    if extra:
        payload.update(_plain(extra))
    path = os.path.join(output_dir, EVAL_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return path


def read_eval_metrics(path):
    """Load an ``eval_metrics.json`` (a file or the folder holding it)."""
    if os.path.isdir(path):
        path = os.path.join(path, EVAL_FILE)
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or "results" not in data:
        raise ValueError("{!r} is not an evaluation file (no 'results' key); it is written by "
                         "scripts/train_det.py --eval-only".format(path))
    return data


def box_ap(data):
    """The box AP of an evaluation file's first dataset, or None when it has none."""
    for _dataset, tasks in sorted((data.get("results") or {}).items()):
        bbox = tasks.get("bbox") if isinstance(tasks, dict) else None
        if isinstance(bbox, dict) and bbox.get("AP") is not None:
            return float(bbox["AP"])
    return None
