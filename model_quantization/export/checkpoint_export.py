"""``export_checkpoint``: classifier checkpoint file -> detectron2 backbone weights file.

Input: a checkpoint of our classifier trainer (``{"model": state_dict, ...}``), a
``{"state_dict": ...}`` file, or a raw state dict such as a torchvision weights file; a DDP
``module.`` prefix is removed. Output: ``{"model": state_dict, "__author__":
"model_quantization", "matching_heuristics": False, "export": {...}}`` with detectron2 names
under ``backbone.bottom_up.``, the layout detectron2's ``DetectionCheckpointer`` loads as
``MODEL.WEIGHTS`` (exact names, no heuristics). Written atomically; an existing output file is
kept unless ``overwrite=True``.
"""
import os

from ..checkpoint import (
    check_output_file,
    extract_state_dict,
    load_checkpoint,
    save_checkpoint,
)
from .resnet_detectron2 import DETECTRON2_PREFIX, RESNET_DEPTHS, export_resnet_to_detectron2

__all__ = ["ARCHS", "export_checkpoint", "extract_state_dict", "arch_depth"]

ARCHS = {"resnet{}".format(d): d for d in RESNET_DEPTHS}


def arch_depth(arch):
    """``"resnet18"`` (or ``18``) -> 18; ``ValueError`` naming the supported archs otherwise."""
    if isinstance(arch, int) and arch in RESNET_DEPTHS:
        return arch
    key = str(arch).lower().replace("-", "").replace("_", "")
    if key in ARCHS:
        return ARCHS[key]
    from ..errors import did_you_mean
    raise ValueError("unsupported arch {!r}; supported: {}.{}".format(
        arch, ", ".join(sorted(ARCHS, key=ARCHS.get)), did_you_mean(arch, ARCHS)))


def export_checkpoint(input_path, output_path, arch, overwrite=False, prefix=DETECTRON2_PREFIX,
                      trusted=False):
    """Convert the classifier checkpoint ``input_path`` into detectron2 weights at
    ``output_path``; returns the report of ``export_resnet_to_detectron2`` plus the paths.

    ``trusted=True`` unpickles arbitrary Python objects in the input (only for files you
    trust); by default only tensors and plain containers are read.
    """
    depth = arch_depth(arch)
    if not os.path.isfile(input_path):
        raise FileNotFoundError("--input checkpoint {!r} does not exist{}".format(
            input_path, "; it is a folder: give the .pth file in it, e.g. {!r}".format(
                os.path.join(input_path, "model_best.pth")) if os.path.isdir(input_path) else ""))
    check_output_file(output_path, [("--input", input_path)], option="--output",
                      example="model_d2.pth", overwrite=overwrite)
    checkpoint = load_checkpoint(input_path, map_location="cpu", weights_only=not trusted)
    state_dict = extract_state_dict(checkpoint, source=repr(input_path))
    new_sd, report = export_resnet_to_detectron2(state_dict, depth, prefix=prefix)
    report = dict(report, input=os.path.abspath(input_path), output=os.path.abspath(output_path),
                  arch="resnet{}".format(depth))
    meta = {"source": os.path.basename(input_path), "arch": report["arch"], "prefix": prefix,
            "dropped": list(report["dropped"]),
            "detectron2_config": dict(report["detectron2_config"])}
    payload = {"model": new_sd, "__author__": "model_quantization", "matching_heuristics": False,
               "export": meta}
    save_checkpoint(payload, output_path, overwrite=overwrite)
    return report
