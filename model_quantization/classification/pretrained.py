"""Step ``backbone_full`` from a downloaded torchvision weights file.

torchvision names its weights files ``<arch>-<first 8 hex digits of the file's sha256>.pth``
(e.g. ``resnet18-f37072fd.pth``) and checks that prefix when it downloads them; we check it too
when the name carries one, or the full digest the user gives (``sha256``). A file with neither
is refused unless ``no_verify`` is set (recorded in the run record). The weights are loaded into
the torchvision model (so a file of another arch is caught), then saved in the trainer's
checkpoint format as ``<output>/model_best.pth``: the ``--init`` of the low-bit step.
"""
import os
import re

from ..checkpoint import load_checkpoint, save_checkpoint, sha256sum, verify_sha256
from ..runrecord import write_run_record
from .model import build_model, extract_state_dict, load_init_weights
from .state import FORMAT

__all__ = ["TORCHVISION_FILES", "LEGACY_TORCHVISION_FILES", "parse_weights_name",
           "import_torchvision_weights"]

# file names of torchvision's published ImageNet ResNet weights (the hex is the sha256 prefix)
TORCHVISION_FILES = {
    "resnet18-f37072fd.pth": "resnet18", "resnet34-b627a593.pth": "resnet34",
    "resnet50-0676ba61.pth": "resnet50", "resnet50-11ad3fa6.pth": "resnet50",
    "resnet101-63fe2227.pth": "resnet101", "resnet101-cd907fc2.pth": "resnet101",
    "resnet152-394f9c45.pth": "resnet152", "resnet152-f82ba261.pth": "resnet152",
}
# names used before torchvision 0.13 whose hex part is not a sha256 prefix of the file
LEGACY_TORCHVISION_FILES = {
    "resnet18-5c106cde.pth": "resnet18", "resnet34-333f7ec4.pth": "resnet34",
    "resnet50-19c8e357.pth": "resnet50", "resnet101-5d3b4d8f.pth": "resnet101",
    "resnet152-b121ed2d.pth": "resnet152",
}
_NAME = re.compile(r"^(resnet\d+)-([0-9a-f]{8,64})\.pth$")


def parse_weights_name(path):
    """``(arch, sha256 prefix or None)`` from a torchvision-style file name, or ``(None, None)``."""
    name = os.path.basename(os.fspath(path))
    if name in LEGACY_TORCHVISION_FILES:
        return LEGACY_TORCHVISION_FILES[name], None
    m = _NAME.match(name)
    return (m.group(1), m.group(2)) if m else (None, None)


def _verify(weights, sha256, no_verify, log):
    _, prefix = parse_weights_name(weights)
    if sha256:
        digest = verify_sha256(weights, sha256)
        return digest, "sha256 given by the user"
    if prefix:
        digest = verify_sha256(weights, prefix)
        how = "sha256 prefix in the torchvision file name"
        if os.path.basename(weights) in TORCHVISION_FILES:
            how += " (a published torchvision file)"
        return digest, how
    if no_verify:
        log("WARNING: {} not verified (no --sha256 and no hash in its name); recorded as "
            "unverified".format(weights))
        return sha256sum(weights), "not verified (--no-verify)"
    raise ValueError("cannot verify {!r}: its name carries no sha256 prefix (torchvision names "
                     "look like resnet18-f37072fd.pth); pass --sha256 HEX (the digest from the "
                     "download page or `sha256sum`), or --no-verify to accept it unchecked".format(
                         weights))


def import_torchvision_weights(weights, output, arch=None, sha256=None, no_verify=False,
                               overwrite=False, log=print):
    """Verify and convert ``weights`` into ``<output>/model_best.pth``; return that path."""
    weights = os.fspath(weights)
    if not os.path.isfile(weights):
        raise FileNotFoundError("weights file {!r} does not exist; download torchvision's file "
                                "(e.g. resnet18-f37072fd.pth) and pass its path".format(weights))
    name_arch, _ = parse_weights_name(weights)
    arch = arch or name_arch
    if arch is None:
        raise ValueError("cannot tell the arch of {!r} from its name; pass --arch (resnet18, "
                         "resnet34, resnet50, ...)".format(weights))
    if name_arch and name_arch != arch:
        raise ValueError("--arch {} does not match the weights file {!r} (a {} file); drop --arch "
                         "or pass the right file".format(arch, weights, name_arch))
    target = os.path.join(os.fspath(output), "model_best.pth")
    if os.path.exists(target) and not overwrite:
        raise FileExistsError("{!r} already exists; pass --overwrite to replace it or choose "
                              "another --output".format(target))
    digest, how = _verify(weights, sha256, no_verify, log)
    sd = extract_state_dict(load_checkpoint(weights), repr(weights))
    if "fc.weight" not in sd:
        raise ValueError("{!r} has no fc.weight: not a torchvision ResNet classifier state "
                         "dict".format(weights))
    num_classes = int(sd["fc.weight"].shape[0])
    model = build_model(arch, num_classes)
    load_init_weights(model, weights, log=log)
    source = {"path": os.path.abspath(weights), "sha256": digest, "verification": how}
    save_checkpoint({"format": FORMAT, "arch": arch, "num_classes": num_classes,
                     "classes": None, "model": model.state_dict(), "epoch": 0,
                     "source": source}, target)
    write_run_record(output, config={"step": "backbone_full", "arch": arch,
                                     "weights": source["path"], "num_classes": num_classes},
                     extra={"source": source})
    log("{} weights ({} classes, sha256 {}: {}) saved as {}".format(
        arch, num_classes, digest[:16], how, target))
    return target
