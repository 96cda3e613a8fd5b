#!/usr/bin/env python
"""Recipe step 1 (backbone_full): the full-precision ImageNet ResNet backbone.

Either import torchvision's published weights file (checksum verified: the sha256 prefix in
its name, e.g. resnet18-f37072fd.pth, or --sha256) into <output>/model_best.pth, optionally
evaluating it on --data; or train one with --train --config (see train_classifier.py).

Examples:
    python scripts/backbone_full.py --weights ~/Downloads/resnet18-f37072fd.pth \\
        --output runs/backbone_full/resnet18 [--data /data/imagenet]
    python scripts/backbone_full.py --train --config configs/classification/resnet18_fp.yaml \\
        --data /data/imagenet --output runs/backbone_full/resnet18
"""
import argparse
import sys

from model_quantization.errors import run_cli


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True, help="folder for model_best.pth + run record")
    p.add_argument("--weights", help="torchvision weights file to import")
    p.add_argument("--arch", default=None, help="resnet18/34/50 (default: from the file name)")
    p.add_argument("--sha256", default=None, help="expected sha256 of --weights (or a prefix)")
    p.add_argument("--no-verify", action="store_true", help="accept --weights unchecked")
    p.add_argument("--train", action="store_true", help="train instead of importing")
    p.add_argument("--config", default=None, help="yaml config (--train, or eval settings)")
    p.add_argument("--data", default=None, help="ImageFolder root (train/ val/)")
    p.add_argument("--resume", action="store_true", help="--train: continue the run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing result")
    p.add_argument("--opts", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides by dotted key")
    a = p.parse_args(argv)
    from model_quantization.classification import evaluate_checkpoint, load_config, train
    from model_quantization.classification.pretrained import import_torchvision_weights

    if a.train == bool(a.weights):
        p.error("give exactly one of --weights FILE (import) or --train --config CFG")
    if a.train:
        if not a.config:
            p.error("--train needs --config")
        metrics = train(load_config(a.config, a.opts), a.output, data=a.data, resume=a.resume,
                        overwrite=a.overwrite)
    else:
        path = import_torchvision_weights(a.weights, a.output, arch=a.arch, sha256=a.sha256,
                                          no_verify=a.no_verify, overwrite=a.overwrite)
        if not a.data:
            return 0
        from model_quantization.checkpoint import load_checkpoint
        arch = load_checkpoint(path)["arch"]
        cfg = load_config(a.config, ["arch={}".format(arch)] + list(a.opts))
        metrics = evaluate_checkpoint(cfg, path, data=a.data)
    print("top-1 {:.2f} top-5 {:.2f}".format(metrics["top1"], metrics["top5"]))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
