"""Configuration of the backbone classifier trainer: defaults, yaml loading, overrides.

A config is a yaml file (``configs/classification/*.yaml``) merged over ``DEFAULTS``; a file
may name a ``_BASE_`` file (relative to itself) to inherit from. ``--opts KEY=VALUE`` items
then override single entries by dotted key (the value is parsed as yaml: ``0.01``, ``[fc]``,
``null``). Every key is checked: an unknown key is a ``ValueError`` naming it and the closest
known key; a value of the wrong type (e.g. text where a number belongs) is a ``TypeError``.
The result is a plain dict.
"""
import copy
import operator

import yaml

from ..configfiles import read_chain
from ..errors import ConfigError, UserTypeError, closest_matches, did_you_mean

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


def _settable_keys():
    """Every key a value can be given for: the leaves, and the free-form groups as a whole."""
    keys = []
    for key in _all_keys(DEFAULTS):
        node = _default_of(key.split("."))
        if not isinstance(node, dict) or key in _FREE:
            keys.append(key)
    return keys


def suggest_key(key):
    """The settable key closest to unknown ``key`` (an alias, the same leaf name elsewhere, a
    spelling neighbour or a key the word starts), or None. A suggestion always works as given."""
    settable = _settable_keys()
    parent, _, leaf = key.rpartition(".")
    alias = _ALIASES.get(leaf) or _ALIASES.get(leaf.lower())
    candidates = []
    if alias is not None:
        candidates += [k for k in settable if k == alias or k.endswith("." + alias)]
    candidates += [k for k in settable if k.rpartition(".")[2] == leaf.lower()]
    if len(leaf) >= 4:  # a word a key starts with: warmup -> schedule.warmup_epochs
        candidates += [k for k in settable if k.rpartition(".")[2].startswith(leaf.lower())
                       or (not parent and k.split(".")[0].startswith(leaf.lower()))]
    same_parent = [k for k in settable if k.rpartition(".")[0] == parent]
    candidates += [k for k in same_parent if k.rpartition(".")[2] in closest_matches(
        leaf, [x.rpartition(".")[2] for x in same_parent])]
    leaves = {k.rpartition(".")[2]: k for k in settable}
    candidates += [leaves[m] for m in closest_matches(leaf, leaves)]
    candidates += closest_matches(key, settable)
    return candidates[0] if candidates else None


def _unknown_key(key, where):
    parent, _, leaf = key.rpartition(".")
    siblings = DEFAULTS
    for part in [p for p in parent.split(".") if p]:
        siblings = siblings[part]
    guess = suggest_key(key)
    hint = " Did you mean {!r}?".format(guess) if guess else ""
    raise ValueError("unknown config key {!r}{}.{} Keys allowed {}: {}".format(
        key, " in " + where if where else "", hint,
        "under {!r}".format(parent) if parent else "at the top level",
        ", ".join(sorted(siblings))))


def _check_type(key, default, value, where):
    if default is None or key in _FREE:
        return
    if value is None:
        raise UserTypeError("config key {!r}{} cannot be null; give a {} value like the "
                            "default {!r}".format(key, " in " + where if where else "",
                                                  type(default).__name__, default))
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
    if not ok and isinstance(default, dict):
        first = "name" if "name" in default else ("path" if "path" in default else None)
        example = " e.g. {}.{}={}".format(key, first, value) if first else ""
        raise UserTypeError("config key {!r}{} is a group of keys ({}), not a value; set one of "
                            "them,{}".format(key, " in " + where if where else "",
                                             ", ".join(sorted(default)), example or " e.g. " +
                                             "{}.{}=...".format(key, sorted(default)[0])))
    if not ok:
        raise UserTypeError("config key {!r}{} must be a {} like the default {!r}, got {!r}"
                            .format(key, " in " + where if where else "", type(default).__name__,
                                    default, value))


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


def _read_yaml(path):
    """DEFAULTS merged with every file of ``path``'s ``_BASE_`` chain, root first."""
    cfg = DEFAULTS
    for where, data in read_chain(path, hint="; configs live in configs/classification/"):
        cfg = merge_config(cfg, data, where=where)
    return copy.deepcopy(cfg)


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


def _default_of(parts, tree=None):
    node = DEFAULTS if tree is None else tree
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
            raise ValueError("config {} = {!r} is not supported; choose one of {}.{}".format(
                key, value, ", ".join(allowed), did_you_mean(value, allowed)))
    for key in ("epochs", "batch_size", "print_freq"):
        if int(cfg[key]) < 1 or int(cfg[key]) != cfg[key]:
            raise ValueError("config {} must be a whole number >= 1, got {!r}".format(
                key, cfg[key]))
    if cfg["workers"] < 0:
        raise ValueError("config workers must be >= 0, got {!r}".format(cfg["workers"]))
    for key, low, high, note in _RANGES:
        value = _default_of(key.split("."), cfg)
        if value is None and key in _FREE:
            continue
        if (low is not None and not low[0](value, low[1])) or \
                (high is not None and not high[0](value, high[1])):
            raise ValueError("config {} = {!r} is out of range: {}".format(key, value, note))
    _check_quantization(cfg["quantization"])
    sched = cfg["schedule"]
    if sched["name"] == "step" and any(m < 1 or m > cfg["epochs"] for m in sched["milestones"]):
        raise ValueError("config schedule.milestones {!r} must lie within 1..epochs ({}) for the "
                         "step schedule".format(sched["milestones"], cfg["epochs"]))
    if sched["warmup_epochs"] >= cfg["epochs"]:
        raise ValueError("config schedule.warmup_epochs = {!r} leaves no epoch after warm-up "
                         "(epochs = {}); use fewer warm-up epochs".format(
                             sched["warmup_epochs"], cfg["epochs"]))
    if sched["min_lr"] > cfg["optimizer"]["lr"]:
        raise ValueError("config schedule.min_lr = {!r} is above optimizer.lr = {!r}; the "
                         "schedule would raise the rate".format(sched["min_lr"],
                                                                cfg["optimizer"]["lr"]))
    scale = cfg["data"]["crop_scale"]
    if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError("config data.crop_scale must be [low, high] with 0 < low <= high <= 1, "
                         "got {!r}".format(scale))
    return cfg


def _check_quantization(qcfg):
    """The quantizer specs and name lists, checked on load (not when the first layer is built):
    an unknown method, option or bit width stops here, before a run folder exists. Which
    layers the names match is checked when the model is converted."""
    from ..convert.convert import check_conversion_args
    try:
        check_conversion_args(qcfg.get("weight"), qcfg.get("activation"), qcfg.get("scope"),
                              qcfg.get("exclude") or (), qcfg.get("overrides") or None)
    except (ValueError, TypeError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise ConfigError("config quantization: {}".format(message)) from None


# (key, (test, low) or None, (test, high) or None, what the value means): checked on load
_RANGES = (
    ("optimizer.lr", (operator.gt, 0), (operator.le, 10),
     "a learning rate > 0 (0.1 for SGD at batch 256)"),
    ("optimizer.momentum", (operator.ge, 0), (operator.lt, 1), "0 <= momentum < 1 (e.g. 0.9)"),
    ("optimizer.weight_decay", (operator.ge, 0), (operator.lt, 1),
     "0 <= weight decay < 1 (e.g. 1e-4)"),
    ("label_smoothing", (operator.ge, 0), (operator.lt, 1),
     "0 <= label smoothing < 1 (0 = off, 0.1 typical)"),
    ("schedule.gamma", (operator.gt, 0), (operator.le, 1),
     "0 < gamma <= 1, the factor at each milestone"),
    ("schedule.warmup_epochs", (operator.ge, 0), None, "warm-up epochs >= 0"),
    ("schedule.min_lr", (operator.ge, 0), None, "a final learning rate >= 0"),
    ("seed", (operator.ge, 0), None, "a seed >= 0"),
    ("data.image_size", (operator.ge, 16), (operator.le, 4096),
     "a crop side in pixels, 16..4096 (224)"),
    ("data.val_resize", (operator.ge, 16), (operator.le, 8192),
     "a resize side in pixels >= 16, or null"),
    ("eval_batch_size", (operator.ge, 1), None, "a batch size >= 1, or null"),
    ("num_classes", (operator.ge, 2), None, "at least 2 classes, or null (the dataset's count)"),
)


def load_config(path=None, opts=None):
    """DEFAULTS, merged with the yaml file at ``path`` (if any), then ``opts``; validated."""
    cfg = _read_yaml(path) if path else copy.deepcopy(DEFAULTS)
    return validate_config(apply_opts(cfg, opts))
