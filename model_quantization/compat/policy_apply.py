"""Applying parsed policies to objects: selection, type coercion, checks against the model.

A policy (see :mod:`.policy_file`) selects objects by ``by_index`` (``'all'``,
an int, a list of ints or a blank-separated string) and optionally ``by_tag`` (a string or a
list; a tag is selected when it is a member, or for a string a substring, as in QTool). Every
other key names an attribute to set. The text value is converted to the attribute's current
type: ``bool`` (``True``/``False``, any case, or yes/no, on/off, 1/0; any other word is a
:class:`PolicyError`), ``int``, ``float``,
``str`` (quotes stripped), a tensor (filled in place under ``no_grad``, so a live ``Parameter``
keeps its identity), a list (a string is split on commas or blanks); ``None`` takes the text.

QTool skipped unknown keys and selections that matched nothing without a word;
:func:`check_policy` turns both into :class:`PolicyError` naming the policy line, with the closest
valid names, so a typo cannot leave a layer at the wrong precision unnoticed.
"""

import torch

from ..errors import did_you_mean
from .policy_file import PolicyError, parse_bool, parse_index_selector

__all__ = ["SELECTOR_KEYS", "policy_selects", "coerce_value", "assign_attribute", "check_policy"]

SELECTOR_KEYS = ("by_index", "by_tag")


def _source(policy):
    return getattr(policy, "source", "<policy>")


def policy_selects(policy, index, tag):
    """True when ``policy``'s ``by_index``/``by_tag`` select an object of ``index`` and ``tag``.

    A policy without ``by_index`` selects nothing (QTool's rule).
    """
    if "by_index" not in policy:
        return False
    wanted = parse_index_selector(policy["by_index"], _source(policy))
    if wanted != "all" and index not in wanted:
        return False
    if "by_tag" in policy:
        tags = policy["by_tag"]
        return tag in tags if tags is not None else False
    return True


def _strip_quotes(text):
    return text.replace("'", "").replace('"', "")


def coerce_value(current, value, key="value"):
    """Convert policy text ``value`` to the type of ``current`` (see module doc)."""
    if isinstance(value, str):
        value = _strip_quotes(value)
    try:
        if isinstance(current, bool):
            return parse_bool(value, key, "policy")
        if isinstance(current, int):
            return int(float(value)) if isinstance(value, str) and "." in value else int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, torch.Tensor):
            return float(value)
        if isinstance(current, list):
            if isinstance(value, str):
                return value.split(",") if "," in value else value.split()
            return list(value)
        if isinstance(current, str):
            return value if isinstance(value, str) else " ".join(str(v) for v in value)
    except (TypeError, ValueError):
        raise PolicyError("{}: {!r} cannot be read as {} (the type of the attribute it sets)"
                          .format(key, value, type(current).__name__)) from None
    return value


def assign_attribute(obj, key, value):
    """Set ``obj.<key>`` from policy text ``value``, coerced to the current type; a tensor
    attribute is filled in place. Returns the value now held."""
    current = getattr(obj, key)
    new = coerce_value(current, value, key)
    if isinstance(current, torch.Tensor):
        with torch.no_grad():
            current.fill_(new)
        return current
    setattr(obj, key, new)
    return new


def check_policy(policy, targets, attributes_of, special=(), unmatched_ok=None):
    """Check one policy against the objects it may reach; return the selected ones.

    Args:
        policy: a parsed policy dict.
        targets: list of ``(index, tag, obj)``: everything the section can reach.
        attributes_of: ``obj -> iterable of names`` a policy may set on it.
        special: keys handled by the receiver itself (e.g. ``global_buffer``).
        unmatched_ok: optional ``(policy, missing_indices) -> bool``: return True to tolerate
            an index that selects nothing (the caller then warns).

    Raises :class:`PolicyError` when the selection is empty, or names a key that none of the
    selected objects has.
    """
    where = _source(policy)
    if "by_index" not in policy:
        raise PolicyError("{}: policy {} has no by_index, so it selects nothing; add "
                          "'by_index: all' or a list of layer indices".format(where, dict(policy)))
    wanted = parse_index_selector(policy["by_index"], where)
    selected = [t for t in targets if policy_selects(policy, t[0], t[1])]
    indices = sorted({t[0] for t in targets})
    tags = sorted({t[1] for t in targets})
    if "by_tag" in policy:
        by_tag = policy["by_tag"]
        by_tag = [by_tag] if isinstance(by_tag, str) else list(by_tag)
        bad = [t for t in by_tag if not any(t == tag or t in tag for tag in tags)]
        if bad:
            raise PolicyError("{}: by_tag {} matches no object of this section (tags present: {})."
                              "{}".format(where, ", ".join(repr(b) for b in bad), tags,
                                          did_you_mean(bad[0], tags, n=3, cutoff=0.5)))
    if wanted != "all":
        missing = [i for i in wanted if i not in indices]
        if missing and not (unmatched_ok and unmatched_ok(policy, missing)):
            raise PolicyError("{}: by_index {} selects no layer (indices present: {}); fix the "
                              "index or the model's scope".format(where, missing, _ranges(indices)))
    if not selected:
        if unmatched_ok and unmatched_ok(policy, wanted if wanted != "all" else []):
            return selected
        raise PolicyError("{}: policy {} selects nothing (indices present: {}, tags: {})".format(
            where, dict(policy), _ranges(indices), tags))
    valid = set()
    for _, _, obj in selected:
        valid.update(attributes_of(obj))
    for key in policy:
        if key in SELECTOR_KEYS or key in special or key in valid:
            continue
        raise PolicyError("{}: {!r} is not an attribute of the selected objects ({} of them, "
                          "e.g. {}); settable names: {}.{}".format(
                              where, key, len(selected), type(selected[0][2]).__name__,
                              ", ".join(sorted(valid)), did_you_mean(key, valid, n=3, cutoff=0.5)))
    return selected


def _ranges(indices):
    """``[0,1,2,5]`` -> ``'0-2, 5'``."""
    if not indices:
        return "none"
    out, start, prev = [], indices[0], indices[0]
    for i in list(indices[1:]) + [None]:
        if i is not None and isinstance(i, int) and i == prev + 1:
            prev = i
            continue
        out.append(str(start) if start == prev else "{}-{}".format(start, prev))
        if i is not None:
            start = prev = i
    return ", ".join(out)
