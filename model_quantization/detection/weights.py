"""Loading detector weights that must fit the model: single-pass and double initialization.

Double initialization (QTool's recipe, see docs/forks.md, "Double initialization"): the
full-precision detector (``MODEL.EXTRA_WEIGHTS``) is loaded first, non-strictly, then the low-bit
backbone exported from the classifier (``MODEL.WEIGHTS``, detectron2 names, quantizer state
included) on top of it, so overlapping keys come from the second file. The forks no longer do
this, so we do.

Every file is checked before anything is copied into the model: it must exist, load, share most
of its keys with the model (after an optional ``module.`` / ``backbone.bottom_up.`` prefix fix)
and have no shape mismatch on a shared key; otherwise ``WeightsMismatchError`` names the file and
the keys. Plain torch: testable on any ``nn.Module`` without the forks.
"""
import logging

from ..checkpoint import CheckpointError, extract_state_dict, load_checkpoint

__all__ = ["WeightsMismatchError", "extract_model_state", "fit_state_dict", "load_fitted",
           "double_init", "MIN_MATCH_FRACTION"]

# A file whose keys mostly miss the model (below this fraction of its tensors) is the wrong file.
MIN_MATCH_FRACTION = 0.5
_PREFIXES = ("", "backbone.bottom_up.", "backbone.")
_log = logging.getLogger(__name__)


class WeightsMismatchError(ValueError):
    """A weights file that does not fit the model (wrong architecture, depth or norm layers)."""


def extract_model_state(obj, path):
    """The tensor dict inside a detector checkpoint (``checkpoint.extract_state_dict``, lenient:
    ``{"model": sd}``, ``{"state_dict": sd}`` or sd, non-tensor entries dropped)."""
    try:
        return extract_state_dict(obj, repr(path), lenient=True)
    except CheckpointError as exc:
        raise WeightsMismatchError("{}; is it a weights file?".format(exc)) from None


def _listing(keys, limit=8):
    keys = sorted(keys)
    more = " ... and {} more".format(len(keys) - limit) if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def fit_state_dict(state, model_state, path, role="weights"):
    """Rename ``state`` onto ``model_state``'s keys and check it fits; return (fitted, info).

    ``info``: ``prefix`` added, ``matched`` / ``unexpected`` / ``missing`` key lists.
    """
    best = None
    for prefix in _PREFIXES:
        renamed = {prefix + k: v for k, v in state.items()}
        matched = [k for k in renamed if k in model_state]
        if best is None or len(matched) > len(best[2]):
            best = (prefix, renamed, matched)
    prefix, renamed, matched = best
    fraction = len(matched) / float(len(renamed))
    if fraction < MIN_MATCH_FRACTION:
        raise WeightsMismatchError(
            "{} file {!r} does not fit the model: only {} of its {} tensors have a key of the "
            "model (e.g. file keys {}; model keys {}). Check that the file was made for this "
            "detector, backbone depth and norm layers (export classifiers with "
            "scripts/export_detectron2.py)".format(
                role, path, len(matched), len(renamed), _listing(set(renamed) - set(matched), 4),
                _listing(model_state, 4)))
    bad = ["{}: file {} vs model {}".format(k, tuple(renamed[k].shape),
                                            tuple(model_state[k].shape))
           for k in matched if tuple(renamed[k].shape) != tuple(model_state[k].shape)]
    if bad:
        raise WeightsMismatchError(
            "{} file {!r} does not fit the model: shape mismatch on {} key(s): {}. The file was "
            "made for a different layer width, depth or quantizer grouping".format(
                role, path, len(bad), "; ".join(bad[:6]) + (" ..." if len(bad) > 6 else "")))
    fitted = {k: renamed[k] for k in matched}
    info = {"file": path, "prefix": prefix, "matched": matched,
            "unexpected": sorted(set(renamed) - set(matched)),
            "missing": sorted(set(model_state) - set(matched))}
    return fitted, info


def load_fitted(model, path, role="weights", log=None, complete=False):
    """Check ``path`` against ``model`` and copy its tensors in (non-strict); return the info.

    ``complete=True`` (evaluation) also requires every learnable parameter of the model in the
    file: a backbone-only file or a checkpoint of another detector is a
    :class:`WeightsMismatchError`, not an evaluation of randomly initialized layers.
    """
    log = log or _log.info
    state = extract_model_state(load_checkpoint(path, weights_only=False), path)
    fitted, info = fit_state_dict(state, model.state_dict(), path, role)
    if complete:
        params = [name for name, _ in model.named_parameters()]
        absent = [name for name in params if name not in fitted]
        if absent:
            raise WeightsMismatchError(
                "{} file {!r} lacks {} of the model's {} parameters ({}): it is not a trained "
                "checkpoint of this detector (a backbone file, or another config's). Evaluate "
                "the model_final.pth of a run of this config".format(
                    role, path, len(absent), len(params), _listing(absent, 4)))
    model.load_state_dict(fitted, strict=False)
    log("loaded {} {!r}: {} tensors{}; {} model tensors not in the file{}".format(
        role, path, len(info["matched"]),
        " (prefix {!r} added)".format(info["prefix"]) if info["prefix"] else "",
        len(info["missing"]),
        "; ignored {} file tensors: {}".format(len(info["unexpected"]),
                                                _listing(info["unexpected"], 5))
        if info["unexpected"] else ""))
    return info


def double_init(model, extra_weights, weights, log=None):
    """Load ``extra_weights`` (FP detector) then ``weights`` (low-bit backbone) into ``model``.

    Both files are checked before the model is touched; returns ``{"extra": info, "weights":
    info}``. ``info["weights"]["matched"]`` lists the tensors the second file overrode.
    """
    model_state = model.state_dict()
    loaded = []
    for path, role in ((extra_weights, "MODEL.EXTRA_WEIGHTS"), (weights, "MODEL.WEIGHTS")):
        state = extract_model_state(load_checkpoint(path, weights_only=False), path)
        loaded.append(fit_state_dict(state, model_state, path, role))
    infos = {}
    for (fitted, info), key in zip(loaded, ("extra", "weights")):
        model.load_state_dict(fitted, strict=False)
        infos[key] = info
    (log or _log.info)(
        "double initialization: {} tensors from {!r}, then {} from {!r} on top ({} model tensors "
        "in neither file)".format(
            len(infos["extra"]["matched"]), extra_weights, len(infos["weights"]["matched"]),
            weights, len(set(infos["extra"]["missing"]) & set(infos["weights"]["missing"]))))
    return infos
