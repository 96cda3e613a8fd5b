"""Configuration of the backbone classifier trainer: defaults, yaml loading, overrides.

A config is a yaml file (``configs/classification/*.yaml``) merged over ``DEFAULTS``; a file
may name a ``_BASE_`` file (relative to itself) to inherit from. ``--opts KEY=VALUE`` items
then override single entries by dotted key (the value is parsed as yaml: ``0.01``, ``[fc]``,
``null``). Every key is checked: an unknown key is a ``ValueError`` naming it and the closest
known key; a value of the wrong type (e.g. text where a number belongs) is a ``TypeError``.
The result is a plain dict.
"""
import copy
import difflib
import os

import yaml

__all__ = ["DEFAULTS", "CHOICES", "load_config", "merge_config", "apply_opts", "parse_opt",
           "validate_config"]

DEFAULTS = {
    "arch": "resnet18",
    "num_classes": None,            # None: the number of class folders in the dataset
    "pretrained": {"path": "", "sha256": ""},  # weights loaded before conversion (--init wins)
    "init_skip": [],                # key prefixes of the init checkpoint not loaded, e.g. [fc.]
    "quantization": {
        "weight": None,             # QuantSpec dict, e.g. {method: lsq, bits: 2}; None = float
        "activation": None,
        "scope": None,              # module-name prefixes to convert; None = whole model
        "exclude": [],              # names/prefixes kept float
        "overrides": {},            # {module name: {weight: spec|None, activation: spec|None}}
    },
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False,
                  "weight_decay": 1e-4,
                  "decay_small": False},  # also decay biases, norm and quantizer parameters
    "schedule": {"name": "cosine", "milestones": [30, 60, 80], "gamma": 0.1,
                 "warmup_epochs": 0, "min_lr": 0.0},
    "epochs": 90,
    "batch_size": 256,              # total over all processes
    "eval_batch_size": None,        # None: batch_size
    "workers": 4,                   # data-loading processes per training process
    "data": {"root": "", "train_dir": "train", "val_dir": "val", "image_size": 224,
             "val_resize": None,    # None: image_size / 0.875 (256 for 224)
             "crop_scale": [0.08, 1.0], "hflip": True},
    "label_smoothing": 0.0,
    "seed": 0,
    "amp": False,                   # mixed precision, CUDA only
    "device": "auto",               # auto | cpu | cuda
    "sync_bn": False,               # SyncBatchNorm under DDP on CUDA
    "print_freq": 50,
    "progress": True,               # tqdm bar on rank 0
}

CHOICES = {"arch": ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"),
           "optimizer.name": ("sgd", "adam"),
           "schedule.name": ("cosine", "step", "constant"),
           "device": ("auto", "cpu", "cuda")}

# values under these keys are free-form (checked later by QuantSpec / convert_model)
_FREE = ("quantization.weight", "quantization.activation", "quantization.overrides",
         "quantization.scope", "num_classes", "eval_batch_size", "data.val_resize")


def _all_keys(tree, prefix=""):
    out = []
    for k, v in tree.items():
        key = prefix + k
        out.append(key)
        if isinstance(v, dict) and key not in _FREE:
            out.extend(_all_keys(v, key + "."))
    return out


_ALIASES = {"wd": "weight_decay", "weight-decay": "weight_decay", "lr_policy": "schedule.name",
            "bs": "batch_size", "batch": "batch_size", "j": "workers", "num_workers": "workers",
            "fp16": "amp", "pretrained": "pretrained.path", "lr": "optimizer.lr"}


def _unknown_key(key, where):
    parent, _, leaf = key.rpartition(".")
    siblings = DEFAULTS
    for part in [p for p in parent.split(".") if p]:
        siblings = siblings[part]
    alias = leaf.lower() if leaf.lower() in siblings else _ALIASES.get(leaf)
    if alias is not None and "." not in alias and alias in siblings:
        guess = (parent + "." if parent else "") + alias
    elif alias is not None and "." in alias:
        guess = alias
    else:
        close = difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.5)
        close = [(parent + "." if parent else "") + close[0]] if close else \
            difflib.get_close_matches(key, _all_keys(DEFAULTS), n=1, cutoff=0.5)
        guess = close[0] if close else None
    hint = " Did you mean {!r}?".format(guess) if guess else ""
    raise ValueError("unknown config key {!r}{}.{} Keys allowed {}: {}".format(
        key, " in " + where if where else "", hint,
        "under {!r}".format(parent) if parent else "at the top level",
        ", ".join(sorted(siblings))))


def _check_type(key, default, value, where):
    if default is None or key in _FREE:
        return
    if value is None:
        raise TypeError("config key {!r}{} cannot be null; give a {} value like the default {!r}"
                        .format(key, " in " + where if where else "", type(default).__name__,
                                default))
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:  # pragma: no cover - DEFAULTS only holds the types above
        ok = True
    if not ok:
        raise TypeError("config key {!r}{} must be a {} like the default {!r}, got {!r}".format(
            key, " in " + where if where else "", type(default).__name__, default, value))


def _deep_update(base, update):
    """Merge free-form mappings (no key checks): nested dicts merge, other values replace."""
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_update(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def merge_config(base, update, where="", prefix=""):
    """Recursively merge ``update`` into a copy of ``base``, checking keys against DEFAULTS."""
    out = copy.deepcopy(base)
    defaults = DEFAULTS
    for part in [p for p in prefix.split(".") if p]:
        defaults = defaults[part]
    for k, v in update.items():
        key = prefix + str(k)
        if k not in defaults:
            _unknown_key(key, where)
        if v is None and isinstance(defaults[k], str):
            v = ""  # "path: null" means no path
        _check_type(key, defaults[k], v, where)
        if isinstance(defaults[k], dict) and isinstance(v, dict) and key not in _FREE:
            out[k] = merge_config(out.get(k) or {}, v, where, key + ".")
        elif key in _FREE and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_update(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_yaml(path, seen):
    path = os.path.abspath(os.fspath(path))
    if path in seen:
        raise ValueError("config {!r} inherits from itself through _BASE_ ({})".format(
            path, " -> ".join(seen)))
    if not os.path.isfile(path):
        raise FileNotFoundError("config file {!r} does not exist; configs live in "
                                "configs/classification/".format(path))
    with open(path) as f:
        try:
            data = yaml.safe_load(f) or {}
        except yaml.YAMLError as exc:
            raise ValueError("config file {!r} is not valid yaml: {}".format(path, exc)) from None
    if not isinstance(data, dict):
        raise ValueError("config file {!r} must hold a mapping of keys, got {}".format(
            path, type(data).__name__))
    base = data.pop("_BASE_", None)
    if base is None:
        return merge_config(DEFAULTS, data, where=path)
    base_path = os.path.join(os.path.dirname(path), base)
    return merge_config(_read_yaml(base_path, seen + [path]), data, where=path)


def parse_opt(item):
    """``"optimizer.lr=0.01"`` -> ``("optimizer.lr", 0.01)`` (the value parsed as yaml)."""
    if "=" not in item:
        raise ValueError("override {!r} must look like KEY=VALUE, e.g. optimizer.lr=0.01".format(
            item))
    key, _, text = item.partition("=")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key.strip(), value


def _default_of(parts):
    node = DEFAULTS
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def apply_opts(cfg, opts):
    """Apply ``KEY=VALUE`` strings (dotted keys) to ``cfg``; return the new config."""
    for item in opts or []:
        key, value = parse_opt(item)
        parts = key.split(".")
        default = _default_of(parts)
        if isinstance(default, str) and value is not None and not isinstance(value, str):
            value = item.partition("=")[2].strip()  # e.g. an all-digit sha256 stays text
        update = value
        for part in reversed(parts):
            update = {part: update}
        cfg = merge_config(cfg, update, where="--opts")
    return cfg


def validate_config(cfg):
    """Check choices and value ranges of a merged config; return it."""
    for key, allowed in CHOICES.items():
        value = cfg
        for part in key.split("."):
            value = value[part]
        if value not in allowed:
            close = difflib.get_close_matches(str(value), allowed, n=1)
            raise ValueError("config {} = {!r} is not supported; choose one of {}.{}".format(
                key, value, ", ".join(allowed), " Did you mean {!r}?".format(close[0])
                if close else ""))
    for key in ("epochs", "batch_size", "print_freq"):
        if int(cfg[key]) < 1 or int(cfg[key]) != cfg[key]:
            raise ValueError("config {} must be a whole number >= 1, got {!r}".format(
                key, cfg[key]))
    if cfg["workers"] < 0:
        raise ValueError("config workers must be >= 0, got {!r}".format(cfg["workers"]))
    if cfg["optimizer"]["lr"] <= 0:
        raise ValueError("config optimizer.lr must be > 0, got {!r}".format(
            cfg["optimizer"]["lr"]))
    scale = cfg["data"]["crop_scale"]
    if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError("config data.crop_scale must be [low, high] with 0 < low <= high <= 1, "
                         "got {!r}".format(scale))
    return cfg


def load_config(path=None, opts=None):
    """DEFAULTS, merged with the yaml file at ``path`` (if any), then ``opts``; validated."""
    cfg = _read_yaml(path, []) if path else copy.deepcopy(DEFAULTS)
    return validate_config(apply_opts(cfg, opts))
