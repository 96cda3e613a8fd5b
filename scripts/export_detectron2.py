#!/usr/bin/env python
"""Export a classifier ResNet checkpoint (torchvision names, float or quantized) as detectron2
backbone weights (``backbone.bottom_up.*``) for FCOS / RetinaNet ``MODEL.WEIGHTS``.

Example:
    python scripts/export_detectron2.py --input output/cls-r18-lsq/model_best.pth \\
        --output weights/det-resnet18/lsq_w2a2.pth --arch resnet18
"""
import argparse
import json
import sys

from model_quantization.errors import run_cli
from model_quantization.export import ARCHS, export_checkpoint


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="classifier checkpoint or torchvision .pth")
    p.add_argument("--output", required=True, help="detectron2 weights file to write")
    p.add_argument("--arch", required=True, choices=sorted(ARCHS, key=ARCHS.get))
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.add_argument("--trusted", action="store_true",
                   help="allow arbitrary pickled objects in --input (only for files you trust)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    report = export_checkpoint(args.input, args.output, args.arch, overwrite=args.overwrite,
                               trusted=args.trusted)
    print("wrote {} ({} tensors renamed, {} quantizer tensors, dropped: {})".format(
        report["output"], len(report["renamed"]), report["num_quantizer_tensors"],
        ", ".join(report["dropped"]) or "nothing"))
    print("detectron2 config for these weights: " + json.dumps(report["detectron2_config"]))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
