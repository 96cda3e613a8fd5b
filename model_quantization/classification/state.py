"""What a classifier checkpoint holds, and putting a run back into that state (resume).

``last.pth`` (written every epoch): ``format``, ``arch``, ``num_classes``, ``classes``,
``model`` (state dict incl. quantizer state: ``clip_val``, ``iteration``, ``level_num``, LQ-Net
``basis`` ...), ``optimizer``, ``scheduler``, ``scaler``, ``epoch`` (epochs completed),
``best_top1``, ``best_epoch``, ``history`` (per-epoch metrics), ``rng`` (python/numpy/torch/
CUDA generator states) and the merged ``config``. ``model_best.pth`` holds the same minus the
optimizer, scheduler, scaler and RNG states. Everything is tensors and plain containers, so
``torch.load(weights_only=True)`` reads it.
"""
import random

import numpy as np
import torch

from ..checkpoint import CheckpointError, load_checkpoint

__all__ = ["FORMAT", "rng_state", "set_rng_state", "config_diff", "restore_training_state"]

FORMAT = "model_quantization.classification/1"


def rng_state():
    """The generator states of python, numpy, torch (and CUDA), as plain containers/tensors."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                       float(gauss)],
             "torch": torch.get_rng_state(), "cuda": []}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    """Inverse of :func:`rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _flatten(tree, prefix=""):
    out = {}
    for k, v in (tree or {}).items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, prefix + str(k) + "."))
        else:
            out[prefix + str(k)] = v
    return out


def config_diff(old, new):
    """``["key: old -> new", ...]`` for the dotted keys whose values differ."""
    a, b = _flatten(old), _flatten(new)
    return ["{}: {!r} -> {!r}".format(k, a.get(k), b.get(k))
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def restore_training_state(path, model, optimizer, scheduler, scaler, cfg, log):
    """Load ``last.pth`` into the live objects; return the loop state (epoch, best, history)."""
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError("{!r} is not a checkpoint of the classifier trainer (format {!r}, "
                              "expected {!r}); resume only from a run's last.pth".format(
                                  path, ckpt.get("format") if isinstance(ckpt, dict) else None,
                                  FORMAT))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        raise ValueError("{!r} does not match the model built from the current config ({}); "
                         "resume with the config the run was started with".format(
                             path, str(exc).splitlines()[0])) from None
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    if scaler is not None and ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    set_rng_state(ckpt["rng"])
    changed = config_diff(ckpt.get("config"), cfg)
    if changed:
        log.warning("resuming with a config that differs from the checkpoint's (a changed "
                    "epochs or schedule reshapes the learning-rate curve): %s", "; ".join(changed))
    log.info("resumed from %s after epoch %d (best top-1 %.2f)", path, ckpt["epoch"],
             ckpt["best_top1"])
    return {"epoch": int(ckpt["epoch"]), "best_top1": float(ckpt["best_top1"]),
            "best_epoch": int(ckpt["best_epoch"]), "history": list(ckpt["history"])}
