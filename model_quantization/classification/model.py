"""The classifier: a torchvision ResNet, its initial weights, and its quantization.

Order of construction (the same for a fresh and a resumed run, so state dicts line up):
build the float ResNet -> load the float keys of the init checkpoint (``--init`` /
``pretrained.path``) -> ``convert_model`` with the config's quantization section -> load any
quantizer keys the init checkpoint also holds (``clip_val``, ``basis``, ...), e.g. when a 4-bit
model initialises a 2-bit one.

An init checkpoint may be torchvision's weights file (a bare state dict), one of ours
(``{"model": state_dict, ...}``) or QTool-style (``{"state_dict": ...}``), with or without a DDP
``module.`` prefix. Keys that do not fit are errors naming them, never silently skipped; list
prefixes in ``init_skip`` to leave some out on purpose (e.g. ``fc.`` for another class count).
"""

from ..checkpoint import extract_state_dict, load_checkpoint, verify_sha256
from ..errors import closest_matches

__all__ = ["build_model", "extract_state_dict", "load_init_weights", "load_quantizer_state",
           "quantize_model", "is_quantized_config"]

_OPTIONAL = ("num_batches_tracked",)  # old torchvision files lack these BN counters


def build_model(arch, num_classes):
    """A randomly initialised torchvision ResNet (``arch`` e.g. "resnet18")."""
    import torchvision

    fn = getattr(torchvision.models, arch, None)
    if fn is None or not arch.startswith("resnet"):
        raise ValueError("unknown arch {!r}; choose resnet18, resnet34, resnet50, resnet101 or "
                         "resnet152".format(arch))
    return fn(num_classes=int(num_classes))


def _closest(key, names):
    close = closest_matches(key, names)
    return " (closest model key: {!r})".format(close[0]) if close else ""


def load_init_weights(model, path, sha256="", skip=(), log=print):
    """Load the float weights of ``path`` into ``model`` (before conversion).

    Returns the checkpoint keys the float model has no place for (quantizer state, to be
    loaded by :func:`load_quantizer_state` after conversion). Shape mismatches and missing
    float keys raise ``ValueError`` naming them.
    """
    if sha256:
        verify_sha256(path, sha256)
    sd = extract_state_dict(load_checkpoint(path), repr(path))
    skip = tuple(skip or ())
    own = model.state_dict()
    to_load, leftover, bad_shape = {}, {}, []
    for k, v in sd.items():
        if skip and k.startswith(skip):
            continue
        if k not in own:
            leftover[k] = v
        elif own[k].shape != v.shape:
            bad_shape.append("{}: checkpoint {} vs model {}".format(
                k, list(v.shape), list(own[k].shape)))
        else:
            to_load[k] = v
    if bad_shape:
        raise ValueError("init checkpoint {!r} does not fit the model: {}. A different class "
                         "count? Set init_skip: [fc.] to train a new classifier head; a "
                         "different arch? Check the arch key.".format(path, "; ".join(bad_shape)))
    missing = [k for k in own if k not in to_load and not (skip and k.startswith(skip))
               and not k.endswith(_OPTIONAL)]
    if missing:
        raise ValueError("init checkpoint {!r} lacks {} model keys, e.g. {}{}; is it a checkpoint "
                         "of this arch? Use init_skip to leave prefixes out on purpose.".format(
                             path, len(missing), missing[:4], _closest(missing[0], list(sd))))
    model.load_state_dict(to_load, strict=False)
    log("loaded {} tensors from {}{}".format(len(to_load), path, " ({} more kept for the "
        "quantizers)".format(len(leftover)) if leftover else ""))
    return leftover


def load_quantizer_state(model, leftover, source):
    """Load the init checkpoint's remaining (quantizer) keys into the converted model."""
    if not leftover:
        return
    own = model.state_dict()
    unknown = [k for k in leftover if k not in own]
    if unknown:
        raise ValueError("init checkpoint {} has keys the model lacks even after quantization, "
                         "e.g. {}{}; was it trained with another quantization config or arch?"
                         .format(source, unknown[:4], _closest(unknown[0], list(own))))
    bad = ["{}: {} vs {}".format(k, list(v.shape), list(own[k].shape))
           for k, v in leftover.items() if own[k].shape != v.shape]
    if bad:
        raise ValueError("init checkpoint {} quantizer state does not fit: {}".format(
            source, "; ".join(bad)))
    model.load_state_dict(leftover, strict=False)


def is_quantized_config(qcfg):
    """True when the quantization section asks for any quantizer."""
    if qcfg.get("weight") or qcfg.get("activation"):
        return True
    return any(v for o in (qcfg.get("overrides") or {}).values() for v in o.values())


def quantize_model(model, qcfg):
    """Apply the config's quantization section with ``convert_model``; return the report,
    or None for a full-precision config."""
    if not is_quantized_config(qcfg):
        return None
    from ..convert import convert_model

    return convert_model(model, weight=qcfg.get("weight"), activation=qcfg.get("activation"),
                         scope=qcfg.get("scope"), exclude=qcfg.get("exclude") or (),
                         overrides=qcfg.get("overrides") or None)
