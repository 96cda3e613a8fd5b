"""The experiment table (``configs/experiments.yaml``) and detectron2-style ``_BASE_`` configs.

Plain Python + PyYAML: nothing here imports detectron2 or AdelaiDet, so the table, the config
chains and the recipe's step graph (``model_quantization.recipe``) work on any machine.

* ``load_experiments(path)`` reads and validates the table (one dict per result row);
* ``find_experiment(key, experiments)`` finds a row by name, alias or detector config path;
* ``load_config_chain(path)`` merges a detector yaml with its ``_BASE_`` files the way
  detectron2 does (the derived file wins, dicts merge key by key, lists are replaced).
"""
import os

import yaml

from ..configfiles import read_chain, repo_root
from ..errors import UnknownKeyError, did_you_mean

__all__ = ["DEFAULT_EXPERIMENTS", "EXPERIMENT_FIELDS", "load_experiments", "find_experiment",
           "load_config_chain", "config_value", "repo_root"]

EXPERIMENT_FIELDS = ("name", "detector", "backbone", "norm", "precision", "method", "weight_bits",
                     "activation_bits", "quantize_scope", "init", "config", "reference_ap",
                     "source", "fp_detector", "cls_config")
_OPTIONAL_FIELDS = ("aliases", "note")
_CHOICES = {"detector": ("FCOS", "RetinaNet"), "precision": ("fp32", "fp16"),
            "method": ("fp", "dorefa", "lqnet", "lsq"), "quantize_scope": (None, "backbone", "all"),
            "init": ("fp", "single", "double")}



DEFAULT_EXPERIMENTS = os.path.join(repo_root(), "configs", "experiments.yaml")


def _check_row(row, index, path):
    where = "{} (experiment #{} {!r})".format(path, index, row.get("name"))
    unknown = sorted(set(row) - set(EXPERIMENT_FIELDS) - set(_OPTIONAL_FIELDS))
    if unknown:
        raise UnknownKeyError("{}: unknown field {!r}; allowed: {}.{}".format(
            where, unknown[0], ", ".join(EXPERIMENT_FIELDS + _OPTIONAL_FIELDS),
            did_you_mean(unknown[0], EXPERIMENT_FIELDS + _OPTIONAL_FIELDS)))
    missing = [f for f in EXPERIMENT_FIELDS if f not in row]
    if missing:
        raise UnknownKeyError("{}: missing field(s) {}; every row needs {} (null where it does not "
                       "apply)".format(where, ", ".join(missing), ", ".join(EXPERIMENT_FIELDS)))
    for field, allowed in _CHOICES.items():
        if row[field] not in allowed:
            raise ValueError("{}: {} = {!r} is not one of {}.{}".format(
                where, field, row[field], list(allowed), did_you_mean(row[field], allowed)))
    if row["reference_ap"] is not None and not isinstance(row["reference_ap"], (int, float)):
        raise ValueError("{}: reference_ap must be a number or null, got {!r}".format(
            where, row["reference_ap"]))
    if row["reference_ap"] is not None and not row["source"]:
        raise ValueError("{}: reference_ap {} has no source; say where the figure comes "
                         "from".format(where, row["reference_ap"]))


def load_experiments(path=None):
    """Read and validate the experiment table; return the list of row dicts (in file order)."""
    path = os.fspath(path or DEFAULT_EXPERIMENTS)
    if not os.path.isfile(path):
        raise FileNotFoundError("experiment table {!r} does not exist; it lives at "
                                "configs/experiments.yaml in the project".format(path))
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    rows = data.get("experiments")
    if not isinstance(rows, list) or not rows:
        raise ValueError("{}: expected a top-level 'experiments:' list of rows".format(path))
    seen = {}
    for i, row in enumerate(rows):
        _check_row(row, i, path)
        for key in [row["name"]] + list(row.get("aliases") or []):
            if key in seen:
                raise ValueError("{}: name {!r} is used twice (rows {} and {})".format(
                    path, key, seen[key], i))
            seen[key] = i
    return rows


def _norm_path(path, root):
    path = os.fspath(path)
    if not os.path.isabs(path):
        path = os.path.join(root, path)
    return os.path.normcase(os.path.realpath(path))


def find_experiment(key, experiments=None, root=None):
    """The row whose name or alias is ``key``, or whose ``config`` is the file ``key``.

    Returns None when no row matches a config path (an ad-hoc config is allowed); raises
    KeyError for an unknown experiment *name* (something without a path separator or suffix).
    """
    experiments = load_experiments() if experiments is None else experiments
    root = root or repo_root()
    for row in experiments:
        if key == row["name"] or key in (row.get("aliases") or []):
            return row
    looks_like_path = key.endswith((".yaml", ".yml")) or os.sep in key or "/" in key
    if looks_like_path:
        target = _norm_path(key, os.getcwd()) if os.path.exists(key) else _norm_path(key, root)
        for row in experiments:
            if _norm_path(row["config"], root) == target:
                return row
        return None
    names = [r["name"] for r in experiments]
    names += [a for r in experiments for a in r.get("aliases") or []]
    raise UnknownKeyError("unknown experiment {!r}; see configs/experiments.yaml.{}".format(
        key, did_you_mean(key, names)))


def _merge(base, derived):
    out = dict(base)
    for key, value in derived.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config_chain(path):
    """Merge ``path`` with its ``_BASE_`` chain (relative to each file); return a plain dict.

    Raises FileNotFoundError naming the missing file (and the file whose ``_BASE_`` names it),
    ValueError on a cycle, invalid yaml or a file that is not a mapping.
    """
    merged = {}
    for _, data in read_chain(path):
        merged = _merge(merged, data)
    return merged


def config_value(config, dotted, default=None):
    """``config_value(cfg, "MODEL.WEIGHTS")`` on a merged config dict."""
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node
