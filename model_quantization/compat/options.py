"""Translation of QTool options (``<tag>_bit``, ``<tag>_level``, ...) into core quantizer arguments.

This is the one place where a yacs ``CfgNode`` or ``argparse.Namespace`` (the forks'
``MODEL.QUANTIZATION``) becomes explicit keyword arguments for
:func:`model_quantization.quantizers.build_quantizer`. Options are read with ``getattr(args, name,
default)``, which works for both (a yacs node raises ``AttributeError`` for a missing key).

QTool rules reproduced (docs/forks.md, "Config keys"):

* ``bit`` None -> 32; levels = ``<tag>_level`` when > 0 else ``2**bit``.
* ``half_range`` None -> True for ``fm`` (unsigned activations); weights default to signed.
* grouping: ``quant_group`` 0/None -> weights per output channel (``shape[0]``), activations per
  tensor; negative ``q`` -> ``shape[0]*shape[1]/(-q)`` groups when divisible; a positive ``q`` must
  divide ``shape[0]*shape[1]``; otherwise the default (QTool's fallback, logged).
* ``grad_scale`` strings become the clip-gradient factor: ``fan-scale`` sqrt(fan)*scale,
  ``scale-fan`` scale/sqrt(fan), ``element-scale`` sqrt(n)*scale, ``scale-element`` scale/sqrt(n)
  (QTool skipped any factor in [1, 2); we apply it whenever it is not exactly 1).
"""
import math

from ..errors import ConfigError

__all__ = ["OPTIONS", "POLICY_ATTRIBUTES", "LIVE", "CORE", "INERT", "METHODS",
           "read_options", "core_kwargs", "GRAD_SCALE_CHOICES"]

GRAD_SCALE_CHOICES = ("none", "fan-scale", "scale-fan", "element-scale", "scale-element")

# QTool's per-layer options, once: (name, kind, default). Every list below derives from it.
#   read   read from the config (MODEL.QUANTIZATION.<tag>_<name>) by read_options
#   live   acts on the built core at once when a policy sets it (enable, level count, clip)
#   core   how the core is built: a policy that changes it rebuilds the core
#   inert  a QTool option not implemented here: accepted, with a warning when set off its default
#   meta   bookkeeping a policy may set (index, names)
# ``default`` is the value a layer starts with when it is not read from the config (None: it is).
OPTIONS = (
    ("index", "meta", -1),
    ("enable", "live", None),
    ("bit", "live", None),
    ("num_levels", "live", None),
    ("level_num", "live", None),
    ("half_range", "core", None),
    ("scale", "core", None),
    ("ratio", "inert", 1.0),
    ("correlate", "core", None),
    ("boundary", "core", None),
    ("quant_group", "core", None),
    ("adaptive", "core", None),
    ("grad_type", "core", None),
    ("grad_scale", "core", None),
    ("custom", "inert", "none"),
    ("method", "core", "none"),
    ("choice", "inert", "none"),
    ("stable", "core", None),
    ("clip_val", "live", None),
    ("progressive", "inert", False),
    ("adaptive_restore", "inert", False),
    ("quant_loss_enable", "inert", False),
    ("quant_loss_function", "inert", "None"),
    ("quant_loss_alpha", "inert", 0.0),
    ("prox", "inert", 0.0),
    ("input_index", "meta", ""),
    ("name", "meta", ""),
    ("shared_clip", "meta", ""),
    ("repeat_mark", "meta", 0),
)
POLICY_ATTRIBUTES = tuple(name for name, _, _ in OPTIONS)
LIVE = tuple(name for name, kind, _ in OPTIONS if kind == "live")
CORE = tuple(name for name, kind, _ in OPTIONS if kind == "core")
INERT = {name: default for name, kind, default in OPTIONS if kind == "inert"}


def _get(args, tag, name, default):
    value = getattr(args, "{}_{}".format(tag, name), default) if args is not None else default
    return default if value is None else value


def _text(value):
    return str(value).replace("'", "").replace('"', "").strip()


def _flag(value, tag, name):
    """A boolean option: a bool, or a boolean word (``'Flase'`` must not read as True)."""
    from .policy_file import bool_word
    flag = bool_word(value)
    if flag is not None:
        return flag
    raise ConfigError("MODEL.QUANTIZATION.{}_{}: {!r} is not a boolean; write True or False"
                      .format(tag, name, value))


def _whole(value, tag, name):
    try:
        number = float(_text(value))
    except ValueError:
        number = None
    if number is None or number != int(number):
        raise ConfigError("MODEL.QUANTIZATION.{}_{}: {!r} is not a whole number (e.g. {}_{}: 2)"
                          .format(tag, name, value, tag, name))
    return int(number)


def read_options(args, tag, shape):
    """QTool-named attributes for a quantizer of ``tag`` from ``args`` (see module doc)."""
    bit = _whole(_get(args, tag, "bit", 32), tag, "bit")
    level = _whole(_get(args, tag, "level", 0), tag, "level")
    half_range = getattr(args, tag + "_half_range", None) if args is not None else None
    half_range = (tag == "fm") if half_range is None else _flag(half_range, tag, "half_range")
    stable = getattr(args, tag + "_stable", None) if args is not None else None
    if stable is None:
        stable = getattr(args, "stable", 0) if args is not None else 0
    return {
        "enable": _flag(_get(args, tag, "enable", False), tag, "enable"),
        "bit": bit,
        "num_levels": level if level > 0 else (2 ** bit if 0 <= bit <= 16 else 0),
        "half_range": half_range,
        "boundary": float(_get(args, tag, "boundary", 1.0)),
        "scale": float(_get(args, tag, "scale", 0.5)),
        "ratio": float(_get(args, tag, "ratio", 1.0)),
        "quant_group": int(_get(args, tag, "quant_group", 0)),
        "adaptive": _text(_get(args, tag, "adaptive", "none")),
        "grad_type": _text(_get(args, tag, "grad_type", "none")),
        "grad_scale": _text(_get(args, tag, "grad_scale", "none")),
        "custom": _text(_get(args, tag, "custom", "none")),
        "correlate": float(_get(args, tag, "correlate", -1.0)),
        "stable": int(stable or 0),
    }


def resolve_groups(quant_group, tag, shape):
    """Number of clip groups (QTool grouping rule) and whether QTool's fallback was taken."""
    default = int(shape[0]) if tag == "wt" and shape else 1
    q = int(quant_group or 0)
    if q == 0:
        return default, False
    total = int(shape[0]) * int(shape[1]) if len(shape) >= 2 else int(shape[0]) if shape else 1
    if q < 0:
        return (total // -q, False) if total % -q == 0 else (default, True)
    return (q, False) if total % q == 0 else (default, True)


def grad_scale_factor(kind, scale, shape):
    """Float gradient factor for the learned clip, or None for ``'none'``."""
    kind = kind or "none"
    if kind not in GRAD_SCALE_CHOICES:
        raise ValueError("grad_scale {!r} is not one of {}; set <tag>_grad_scale to one of them"
                         .format(kind, ", ".join(GRAD_SCALE_CHOICES)))
    if kind == "none":
        return None
    fan = float(math.prod(int(s) for s in shape[1:])) if len(shape) > 1 else 1.0
    numel = float(math.prod(int(s) for s in shape)) if shape else 1.0
    factor = {"fan-scale": math.sqrt(fan) * scale, "scale-fan": scale / math.sqrt(fan),
              "element-scale": math.sqrt(numel) * scale,
              "scale-element": scale / math.sqrt(numel)}[kind]
    return None if factor == 1.0 else factor


# Per-method translators: QTool's options -> the method's own quantizer arguments, one function
# per quantizer (model_quantization/quantizers/<method>.py). Each gets the options, the tag, the
# tensor shape, the keywords and the clip-group count, and returns the method-specific keywords
# (the common ones, levels, sign, warm-up and correlate, are added by core_kwargs).
TRANSLATORS = {}


def _translator(method):
    def register(fn):
        TRANSLATORS[method] = fn
        return fn
    return register


def _no_adaptive(method, opts, tag):
    if opts["adaptive"] != "none":
        raise ValueError("{}_adaptive={!r}: {} takes no pre-normalisation; set {}_adaptive: "
                         "'none'".format(tag, opts["adaptive"], method, tag))


def _clip_kwargs(opts, tag, shape, groups):
    return dict(init_clip=float(opts["boundary"]), num_groups=groups,
                channel_dim=0 if tag == "wt" else 1, grad_type=opts["grad_type"],
                grad_scale=grad_scale_factor(opts["grad_scale"], opts["scale"], shape))


@_translator("lsq")
def _lsq(opts, tag, shape, keywords, groups):
    return dict(_clip_kwargs(opts, tag, shape, groups), adaptive=opts["adaptive"])


@_translator("pact")
def _pact(opts, tag, shape, keywords, groups):
    _no_adaptive("pact", opts, tag)
    return _clip_kwargs(opts, tag, shape, groups)


@_translator("dorefa")
def _dorefa(opts, tag, shape, keywords, groups):
    return dict(boundary=float(opts["boundary"]), adaptive=opts["adaptive"],
                num_groups=1 if tag != "wt" else groups, channel_dim=0 if tag == "wt" else 1)


@_translator("lqnet")
def _lqnet(opts, tag, shape, keywords, groups):
    _no_adaptive("lqnet", opts, tag)
    fan = int(math.prod(int(s) for s in shape[1:])) if len(shape) > 1 else 1
    return dict(scale=float(opts["scale"]), fan_in=fan, num_groups=groups,
                channel_dim=0 if tag == "wt" else 1, custom_update="custom-update" in keywords,
                ternary="qtool" if "lq-qtool-ternary" in keywords else "real")


# the methods the compat layer can drive (keywords.select_method picks one of them)
METHODS = tuple(TRANSLATORS)


def core_kwargs(method, opts, tag, shape, keywords):
    """Keyword arguments for ``build_quantizer(method, **kwargs)`` from QTool's ``opts``."""
    if opts["num_levels"] < 2:
        raise ValueError("{tag}_enable is True but {tag}_bit={bit} / {tag}_level={lvl} give no "
                         "usable level count; set {tag}_bit (e.g. 2) or {tag}_level (e.g. 3)"
                         .format(tag=tag, bit=opts["bit"], lvl=opts["num_levels"]))
    if method not in TRANSLATORS:
        raise ValueError("method {!r} is not one of {}; fix the policy's 'method' value".format(
            method, ", ".join(METHODS)))
    kw = {"num_levels": int(opts["num_levels"]), "signed": not opts["half_range"],
          "stable": int(opts["stable"]), "correlate": float(opts["correlate"])}
    groups, _ = resolve_groups(opts["quant_group"], tag, shape)
    kw.update(TRANSLATORS[method](opts, tag, shape, keywords, groups))
    return kw
