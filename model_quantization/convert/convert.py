"""``convert_model``: swap a model's ``nn.Conv2d`` / ``nn.Linear`` layers for quantized ones.

Selection is by module name: ``scope`` prefixes pick the layers, ``exclude`` prefixes keep some
float, ``overrides`` give some layers other quantizers (e.g. the first and last layer at 8 bit).
A prefix matches a name on dot boundaries (``"layer1"`` matches ``layer1.0.conv1``, not
``layer10``); when several overrides match, the longest wins. Layers are converted in module
registration order. Only layers of exactly type ``nn.Conv2d`` / ``nn.Linear`` (or our own quant
layers, whose quantizers are then replaced) are converted: subclasses with their own forward
(``NonDynamicallyQuantizableLinear`` inside attention, the detectron2 fork's ``Conv2d``) stay as
they are and are listed as float in the report. A selection entry that matches no convertible
layer is an error, never silently ignored.
"""

from torch import nn

from ..errors import UserTypeError, did_you_mean
from ..nn import QuantConv2d, QuantLinear
from .report import summarize

__all__ = ["convert_model", "convertible_layers", "check_conversion_args"]

_ROLES = ("weight", "activation")


def convertible_layers(model):
    """``[(name, module)]`` of the layers ``convert_model`` may convert, in registration order."""
    out = []
    for name, m in model.named_modules():
        if isinstance(m, (QuantConv2d, QuantLinear)) or type(m) in (nn.Conv2d, nn.Linear):
            out.append((name, m))
    return out


def _matches(prefix, name):
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def _as_names(value, what):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        names = list(value)
    except TypeError:
        raise UserTypeError("{} must be a module name or a list of module names, got {!r}".format(
            what, value)) from None
    for n in names:
        if not isinstance(n, str):
            raise UserTypeError("{} entries must be module-name strings, got {!r} in {!r}".format(
                what, n, value))
    return names


def _as_spec(value, where):
    """A QuantSpec-like object (has ``.build``), built from a dict if needed, or None."""
    if value is None or callable(getattr(value, "build", None)):
        return value
    if isinstance(value, dict):
        from ..quantizers.spec import QuantSpec
        return QuantSpec.from_dict(value)
    raise UserTypeError("{} must be a QuantSpec, a dict for QuantSpec.from_dict, or None for "
                        "float; got {!r}".format(where, value))


def _normalize_overrides(overrides):
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise UserTypeError("overrides must be a dict {{module name or prefix: {{'weight': spec, "
                        "'activation': spec}}}}, got {!r}".format(type(overrides).__name__))
    out = {}
    for key, value in overrides.items():
        if not isinstance(key, str) or not isinstance(value, dict):
            raise UserTypeError("overrides[{!r}] must map a module-name string to a dict with keys "
                            "'weight' and/or 'activation', got {!r}".format(key, value))
        bad = sorted(set(value) - set(_ROLES))
        if bad:
            raise ValueError("overrides[{!r}] has key {!r}; allowed keys: 'weight', 'activation'."
                             "{}".format(key, bad[0], did_you_mean(bad[0], _ROLES)))
        out[key] = {role: _as_spec(spec, "overrides[{!r}][{!r}]".format(key, role))
                    for role, spec in value.items()}
    return out


def _check_entries(entries, what, layer_names, all_names):
    for entry in entries:
        if any(_matches(entry, n) for n in layer_names):
            continue
        hint = did_you_mean(entry, all_names, n=3, cutoff=0.5)
        raise ValueError("{} entry {!r} matches no convertible nn.Conv2d/nn.Linear layer of the "
                         "model.{} Use a module name (or dotted prefix) from "
                         "model.named_modules().".format(what, entry, hint))


def _shapes(module):
    if isinstance(module, nn.Conv2d):
        w = [module.out_channels, module.in_channels] + list(module.kernel_size)
        return w, [1, module.in_channels, 1, 1]
    return [module.out_features, module.in_features], [1, module.in_features]


def _set_submodule(model, name, new):
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def check_conversion_args(weight=None, activation=None, scope=None, exclude=(), overrides=None):
    """Check ``convert_model``'s arguments without a model (specs built, names and override
    keys validated); return them normalized as ``(globals, scope, exclude, overrides)``.
    Config loaders call it so that a bad spec stops a run before anything is written; which
    layers the names match is checked by ``convert_model``."""
    globals_ = {"weight": _as_spec(weight, "weight"),
                "activation": _as_spec(activation, "activation")}
    return (globals_, _as_names(scope, "scope") or [""], _as_names(exclude, "exclude"),
            _normalize_overrides(overrides))


def convert_model(model, weight=None, activation=None, scope=None, exclude=(), overrides=None):
    """Quantize ``model``'s conv / linear layers in place and return a ``QuantReport``.

    Args:
        model: the ``nn.Module`` to convert (modified in place).
        weight: ``QuantSpec`` for weights, or None to keep weights float.
        activation: ``QuantSpec`` for each layer's input activation, or None.
        scope: module-name prefixes to convert; None or ``""`` means the whole model.
        exclude: names/prefixes kept float even when in scope.
        overrides: ``{name_or_prefix: {"weight": spec or None, "activation": spec or None}}``;
            a role left out keeps the global spec.

    Weight quantizers are built for shape ``[C_out, C_in, kh, kw]`` (``[out, in]`` for linear),
    activation quantizers for ``[1, C_in, 1, 1]`` (``[1, in]``). Converting an already converted
    layer replaces its quantizers. Raises ``ValueError`` for an entry matching no layer.
    Weights and biases stay the same Parameter objects, but the quantizers' learned clips are
    new: build the optimizer after converting.
    """
    if not isinstance(model, nn.Module):
        raise TypeError("convert_model expects an nn.Module, got {}".format(type(model).__name__))
    globals_, scope, exclude, overrides = check_conversion_args(weight, activation, scope,
                                                               exclude, overrides)
    if all(v is None for v in globals_.values()) and not any(
            spec is not None for o in overrides.values() for spec in o.values()):
        raise ValueError("convert_model was given nothing to quantize: weight, activation and "
                         "every override are None; pass weight=QuantSpec('lsq', bits=2) and/or "
                         "activation=..., or skip the call for a full-precision model")

    layers = convertible_layers(model)
    layer_names = [n for n, _ in layers]
    all_names = [n for n, _ in model.named_modules()]
    _check_entries([s for s in scope if s], "scope", layer_names, all_names)
    _check_entries(exclude, "exclude", layer_names, all_names)
    _check_entries(list(overrides), "overrides", layer_names, all_names)
    if "" in layer_names:
        raise ValueError("convert_model replaces child modules, but the model itself is a {}; "
                         "wrap it, e.g. nn.Sequential(layer)".format(type(model).__name__))

    notes = {}
    for name, module in layers:
        if not any(_matches(s, name) for s in scope):
            notes[name] = "out of scope"
            continue
        excluded_by = [e for e in exclude if _matches(e, name)]
        if excluded_by:
            notes[name] = "excluded by {!r}".format(excluded_by[0])
            continue
        specs = dict(globals_)
        matching = [k for k in overrides if _matches(k, name)]
        if matching:
            key = max(matching, key=len)
            specs.update(overrides[key])
            notes[name] = "override {!r}".format(key)
        w_shape, a_shape = _shapes(module)
        device = module.weight.device
        wq = None if specs["weight"] is None else specs["weight"].build("weight", w_shape)
        aq = None if specs["activation"] is None else specs["activation"].build(
            "activation", a_shape)
        for q in (wq, aq):
            if q is not None:
                q.to(device).train(module.training)
        if isinstance(module, (QuantConv2d, QuantLinear)):
            module.quant_weight = wq
            module.quant_activation = aq
        elif wq is not None or aq is not None:
            cls = QuantConv2d if isinstance(module, nn.Conv2d) else QuantLinear
            _set_submodule(model, name, cls.from_float(module, wq, aq))
    return summarize(model, notes)
