"""``quantization.update_quantization(**kw)``: QTool's per-layer policy entry point.

Semantics (docs/forks.md, "What the forks import and call"):

* ``index=i`` sets the layer index (logged when it changes).
* A policy applies when ``by_index`` selects the index (``'all'``, ints, a blank-separated
  string) and ``by_tag``, if given, holds the tag. Every other key naming a policy attribute is
  coerced to the attribute's type and set (:func:`model_quantization.compat.policy_apply.
  assign_attribute`); unknown keys are left to :func:`..policy.deploy_on_init`'s check, which sees
  all layers at once.
* ``enable``, ``level_num``, ``num_levels`` and ``clip_val`` act on the live core quantizer;
  other core options rebuild it (``quantization.rebuild``). Enabling a layer built disabled is
  an error (QTool asserted): enable ``<tag>_enable`` in the config and disable by policy instead.
* ``bit`` (QTool quirk): by default it only changes the ``bit`` attribute, not the level count,
  exactly as QTool (whose LSQ reads ``level_num``); a warning says so. With keyword
  ``strict-bit`` a ``bit`` without ``level_num``/``num_levels`` in the same policy sets the
  level count to ``2**bit``.
* ``global_buffer: <attr>`` stores the live attribute (a Parameter, not a copy) under
  ``'<attr>-<index>-<tag>'`` in ``args.global_buffer`` with item access (the fork's CfgNode is
  frozen; yacs only guards attribute assignment).
* Returns ``None`` when the layer is disabled, else a feedback dict (empty here: QTool's
  progressive re-scaling is not implemented).
"""
import torch

from .options import CORE, INERT, POLICY_ATTRIBUTES
from .policy_apply import assign_attribute, policy_selects

__all__ = ["POLICY_ATTRIBUTES", "update_quantization"]

def settable_attributes(q):
    """Policy keys ``q`` accepts (those of ``POLICY_ATTRIBUTES`` it currently has)."""
    return [name for name in POLICY_ATTRIBUTES if hasattr(q, name)]


def _set_levels(q, levels):
    q.num_levels = int(levels)
    if q.quantizer is not None:
        q.quantizer.level_num.fill_(float(levels))


def _apply(q, parameters):
    changed = []
    for key, value in parameters.items():
        if key in ("by_index", "by_tag", "index", "global_buffer") or key not in POLICY_ATTRIBUTES:
            continue
        if not hasattr(q, key):
            continue
        before = getattr(q, key)
        now = assign_attribute(q, key, value)
        shown = now.detach().flatten().tolist() if isinstance(now, torch.Tensor) else now
        q.verbose("update {}_{} to {} for index {}".format(q.tag, key, shown, q.index))
        if key == "level_num":
            _set_levels(q, int(round(shown[0])))
        elif key == "num_levels":
            _set_levels(q, now)
        if key in INERT and now != INERT[key]:
            q.logger.warning("policy sets {}={!r} for {} index {}: QTool option not implemented "
                             "here, it has no effect".format(key, now, q.tag, q.index))
        if key in CORE and not isinstance(now, torch.Tensor) and now != before:
            changed.append(key)
    if "bit" in parameters and not ({"level_num", "num_levels"} & set(parameters)):
        if "strict-bit" in q.keywords:
            _set_levels(q, 2 ** int(q.bit))
        else:
            q.logger.warning(
                "policy sets bit={} for {} index {} without level_num/num_levels: as in QTool the "
                "layer keeps {} levels. Add 'level_num: {}' and 'num_levels: {}' to the policy, or "
                "keyword 'strict-bit' to make bit set the levels".format(
                    q.bit, q.tag, q.index, q.num_levels, 2 ** int(q.bit), 2 ** int(q.bit)))
    return changed


def update_quantization(q, parameters):
    """Body of ``quantization.update_quantization`` (see module doc)."""
    if "index" in parameters:
        index = int(parameters["index"])
        if index != q.index:
            q.index = index
            if "debug" in q.keywords:
                q.verbose("update {}_index {}".format(q.tag, index))
    if "by_index" in parameters and policy_selects(parameters, q.index, q.tag):
        changed = _apply(q, parameters)
        if q.enable and q.quantizer is None:
            q.enable = False
            raise ValueError(
                "cannot enable quantization of layer {} ({}): it was built disabled because "
                "{}_enable is False. Set {}_enable: True in MODEL.QUANTIZATION and disable the "
                "layers you want in full precision by policy ('enable: False')".format(
                    q.index, q.tag, q.tag, q.tag))
        if q.quantizer is not None:
            if changed:
                q.rebuild(changed)
                q.verbose("rebuilt {} index {} after policy set {}".format(
                    q.tag, q.index, ", ".join(changed)))
            q.quantizer.enabled = bool(q.enable)
    if "global_buffer" in parameters and policy_selects(parameters, q.index, q.tag):
        _register(q, parameters["global_buffer"])
    if not q.enable:
        return None
    return {}


def _register(q, attrs):
    buffer = getattr(q.args, "global_buffer", None) if q.args is not None else None
    if not isinstance(buffer, dict):
        q.logger.warning("policy asks global_buffer: {} for {} index {}, but args has no "
                         "global_buffer dict; nothing stored".format(attrs, q.tag, q.index))
        return
    if not q.enable:
        return
    for attr in ([attrs] if isinstance(attrs, str) else attrs):
        attr = attr.replace("'", "").replace('"', "")
        if not hasattr(q, attr):
            continue
        key = "{}-{}-{}".format(attr, q.index, q.tag)
        buffer[key] = getattr(q, attr)
        q.verbose("add {} to global_buffer".format(key))
