"""``make check``: the forks are installed, wired to this library, and build a quantized detector.

``python -m model_quantization.detection.check_install [--config FILE] [--expect N]``, run from the
project root (``make check`` does; in the image that is /opt/mq), which is where every entry point
runs and where a folder shadowing a fork's package would break the import:

1. no folder of the project shadows a fork's top-level package;
2. the detectron2 fork's ``third_party.quantization`` alias is in place (``compat.wire --check``);
3. ``detectron2``, ``third_party.quantization`` and ``adet`` import from here, and
   ``third_party.quantization`` is this library's compat package;
4. the fork's own ``build_model`` builds the FCOS-R18 2-bit quantize-all detector on the CPU, and
   the number of quantized convolutions is the one the config's scope asks for.

Each line printed says what was checked; the first failure ends the check with exit status 1
and one line naming the fix. A few seconds on a CPU.
"""
import argparse
import os
import sys
import time

from . import forks
from .experiments import repo_root

__all__ = ["DEFAULT_CONFIG", "EXPECTED_QUANTIZED_CONVS", "quantized_convs", "main"]

DEFAULT_CONFIG = "configs/detection/fcos/R18-FPNBN-dorefa-w2a2-all.yaml"
# FCOS-R18 quantize-all: the 16 3x3 and 3 downsampling 1x1 convs of res2-res5 (19), the FPN's
# 3 lateral and 3 output convs and the 2 convs of its top block (8), and the 4+4 convs of the two
# head towers (8): 35. The stem and the three predictors stay in full precision.
EXPECTED_QUANTIZED_CONVS = {DEFAULT_CONFIG: 35}


class CheckFailed(Exception):
    pass


def quantized_convs(model):
    """Names of the convolutions holding a weight or activation quantizer."""
    import torch

    from .trainer import is_quantized
    return [name for name, m in model.named_modules()
            if isinstance(m, torch.nn.Conv2d) and is_quantized(m)]


def _ok(message):
    print("ok: " + message, flush=True)


def _check_names(root):
    clash = forks.colliding_names(root)
    if clash:
        raise CheckFailed("{} in the project root shadow{} the forks' package{} of that name: "
                          "rename {}".format(", ".join(clash), "s" if len(clash) == 1 else "",
                                             "" if len(clash) == 1 else "s", ", ".join(clash)))
    _ok("no folder of the project shadows a fork package ({})".format(
        ", ".join(forks.FORK_PACKAGES)))


def _check_wiring(root):
    from model_quantization.compat import wire
    detectron2 = os.path.join(root, "forks", "detectron2")
    if not os.path.isfile(os.path.join(detectron2, "setup.py")):
        raise CheckFailed("{} is empty: git submodule update --init, then make install-forks"
                          .format(detectron2))
    good, message = wire.check(detectron2)
    if not good:
        raise CheckFailed(message)
    _ok(message)


def _check_imports():
    error = forks.import_error(cwd=os.getcwd())
    if error is not None:
        raise CheckFailed("{} from {}: make install-forks (or rebuild the image)".format(
            forks.describe(error), os.getcwd()))
    import adet
    import detectron2
    import third_party.quantization as alias

    import model_quantization.compat as compat
    if alias is not compat:
        raise CheckFailed("third_party.quantization is {}, not model_quantization.compat: "
                          "make wire".format(getattr(alias, "__file__", alias)))
    for module in (detectron2, adet):
        _ok("import {} from {} ({})".format(module.__name__, os.getcwd(),
                                            os.path.dirname(module.__file__)))
    _ok("third_party.quantization is model_quantization.compat")


def _check_build(config, expect):
    from detectron2.modeling import build_model

    from . import trainer
    start = time.time()
    cfg = trainer.merge_config(config, ["MODEL.DEVICE", "cpu"])
    cfg.MODEL.QUANTIZATION.policy = trainer._resolve_policy(cfg.MODEL.QUANTIZATION.policy)
    cfg.freeze()
    model = build_model(cfg)
    convs = quantized_convs(model)
    took = time.time() - start
    if not convs:
        raise CheckFailed("the fork's build_model left {} in full precision (no quantized conv): "
                          "the wiring did not reach the fork; make wire".format(config))
    if expect is not None and len(convs) != expect:
        raise CheckFailed("{}: {} quantized convs, expected {} ({}...)".format(
            config, len(convs), expect, ", ".join(convs[:3])))
    _ok("the fork's build_model: {} ({}) with {} quantized convs, in {:.1f} s".format(
        os.path.basename(config), cfg.MODEL.META_ARCHITECTURE, len(convs), took))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model_quantization.detection.check_install",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG,
                        help="detector config to build (default: %(default)s)")
    parser.add_argument("--expect", type=int, default=None,
                        help="number of quantized convs it must have (default: known for the "
                             "default config, else only more than none)")
    args = parser.parse_args(argv)
    root = repo_root()
    expect = args.expect if args.expect is not None else EXPECTED_QUANTIZED_CONVS.get(args.config)
    config = args.config if os.path.isabs(args.config) else os.path.join(root, args.config)
    try:
        if not os.path.isfile(config):
            raise CheckFailed("--config {}: no such file; see configs/detection/".format(
                args.config))
        _check_names(root)
        _check_wiring(root)
        _check_imports()
        _check_build(config, expect)
    except CheckFailed as failure:
        print("check: FAILED: {}".format(failure), file=sys.stderr)
        return 1
    print("check: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
