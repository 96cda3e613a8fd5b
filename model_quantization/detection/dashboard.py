"""The results dashboard: the reference table with the reproduced AP of every run found.

``collect_runs(runs_dir, experiments)`` walks ``runs_dir`` for ``eval_metrics.json`` files (written
by ``scripts/train_det.py``) and assigns each to an experiment: by the ``experiment`` it names, else
by its ``config_file`` (matched against the table's config paths), else by the folder name. The
newest evaluation wins when one experiment has several. ``render_markdown`` writes the table
(reference AP, reproduced AP, difference; rows without a run say "not run") and ``render_chart``
a PNG (AP by bit width per detector and backbone, reference against reproduced; matplotlib Agg).
"""
import math
import os

from .evaluation import EVAL_FILE, box_ap, read_eval_metrics
from .experiments import find_experiment

__all__ = ["collect_runs", "render_markdown", "render_chart", "bits_label", "write_report"]

NOT_RUN = "not run"


def bits_label(row):
    """"W/A" label of a row: "32/32", "2/2", "ter/ter", "4/4 (F8L8)"."""
    def one(v):
        return "ter" if v == "ternary" else str(v)
    label = "{}/{}".format(one(row["weight_bits"]), one(row["activation_bits"]))
    if row["method"] == "lsq":
        label += " (F8L8)"
    if row.get("precision") == "fp16":
        label += " fp16"
    return label


def _effective_bits(row):
    v = row["weight_bits"]
    return math.log2(3) if v == "ternary" else float(v)


def _match(data, folder, experiments):
    name = data.get("experiment")
    if name:
        try:
            return find_experiment(name, experiments)
        except KeyError:
            pass
    config = data.get("config_file")
    if config:
        row = find_experiment(config, experiments)
        if row is not None:
            return row
    try:
        return find_experiment(os.path.basename(os.path.normpath(folder)), experiments)
    except KeyError:
        return None


def collect_runs(runs_dir, experiments):
    """``({experiment name: run dict}, [unmatched run dicts])`` for every evaluation found."""
    if not os.path.isdir(runs_dir):
        raise FileNotFoundError("runs folder {!r} does not exist; pass the folder the runs were "
                                "written to (--runs output/detection)".format(runs_dir))
    matched, unmatched = {}, []
    for folder, _dirs, files in sorted(os.walk(runs_dir)):
        if EVAL_FILE not in files:
            continue
        path = os.path.join(folder, EVAL_FILE)
        try:
            data = read_eval_metrics(path)
        except (ValueError, OSError) as exc:
            unmatched.append({"path": path, "error": str(exc)})
            continue
        run = {"path": path, "folder": folder, "ap": box_ap(data),
               "evaluated_at": data.get("evaluated_at") or "",
               "record": os.path.isdir(os.path.join(folder, "run_record"))}
        row = _match(data, folder, experiments)
        if row is None:
            unmatched.append(run)
            continue
        previous = matched.get(row["name"])
        if previous is None or run["evaluated_at"] >= previous["evaluated_at"]:
            matched[row["name"]] = run
    return matched, unmatched


def _fmt(value, sign=False):
    if value is None:
        return "-"
    return ("{:+.1f}" if sign else "{:.1f}").format(value)


def render_markdown(experiments, matched, unmatched=(), runs_dir=""):
    """The dashboard text (markdown)."""
    done = sum(1 for r in experiments if r["name"] in matched)
    lines = ["# Detection results: reference vs reproduced", "",
             "Runs read from `{}`: {} of {} experiments evaluated. AP is COCO box AP (%); "
             "difference = reproduced - reference.".format(runs_dir, done, len(experiments)), "",
             "| experiment | detector | backbone | norm | method | W/A | scope | init | "
             "reference AP | reproduced AP | difference | run |",
             "|---|---|---|---|---|---|---|---|---:|---:|---:|---|"]
    for row in experiments:
        run = matched.get(row["name"])
        ref = row["reference_ap"]
        ap = run["ap"] if run else None
        diff = ap - ref if (ap is not None and ref is not None) else None
        where = os.path.relpath(run["folder"], runs_dir) if run and runs_dir else (
            run["folder"] if run else "")
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            row["name"], row["detector"], row["backbone"], row["norm"], row["method"],
            bits_label(row), row["quantize_scope"] or "-", row["init"], _fmt(ref),
            _fmt(ap) if run else NOT_RUN, _fmt(diff, sign=True), where))
    sources = sorted({r["source"] for r in experiments if r.get("source")})
    lines += ["", "Reference figures: " + "; ".join(sources) + "."]
    if unmatched:
        lines += ["", "Evaluations that match no experiment:"]
        lines += ["- `{}`{}".format(u["path"], " ({})".format(u["error"]) if u.get("error") else "")
                  for u in unmatched]
    return "\n".join(lines) + "\n"


def render_chart(experiments, matched, path):
    """Save the PNG chart: per detector/backbone, AP against effective bit width."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {}
    for row in experiments:
        groups.setdefault("{} {}".format(row["detector"], row["backbone"]), []).append(row)
    names = sorted(groups)
    ncols = min(4, len(names))
    nrows = (len(names) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.8 * nrows), squeeze=False)
    flat = [ax for line in axes for ax in line]
    for ax in flat[len(names):]:
        ax.axis("off")
    for ax, name in zip(flat, names):
        rows = sorted(groups[name], key=_effective_bits)
        xs = list(range(len(rows)))
        ref = [r["reference_ap"] if r["reference_ap"] is not None else float("nan") for r in rows]
        rep = [matched[r["name"]]["ap"] if r["name"] in matched and
               matched[r["name"]]["ap"] is not None else float("nan") for r in rows]
        ax.plot(xs, ref, "o", color="tab:gray", label="reference")
        ax.plot(xs, rep, "x", color="tab:red", markersize=8, label="reproduced")
        ax.set_xticks(xs)
        ax.set_xticklabels(["{} {}".format(bits_label(r), r["method"]) for r in rows],
                           rotation=60, ha="right", fontsize=6)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("box AP")
        ax.grid(alpha=0.3)
    flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(runs_dir, out_dir, experiments):
    """Write ``results.md`` and ``results.png`` into ``out_dir``; return both paths."""
    matched, unmatched = collect_runs(runs_dir, experiments)
    os.makedirs(out_dir, exist_ok=True)
    md = os.path.join(out_dir, "results.md")
    with open(md, "w") as f:
        f.write(render_markdown(experiments, matched, unmatched, runs_dir))
    png = render_chart(experiments, matched, os.path.join(out_dir, "results.png"))
    return md, png
