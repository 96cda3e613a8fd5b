#!/usr/bin/env python
"""The smoke recipe on a small detection set: classifiers (FP, DoReFa W2/A2), export, FCOS-R18 FP
and 2-bit double-init detectors, COCO evaluation. Prints each step's timing, the final AP table and,
on the built-in set, the learning checks (observed vs floor).

    python scripts/smoke.py                       # all steps, on the built-in set (or $TINY_COCO)
    python scripts/smoke.py --tiny-coco DIR       # on a small COCO folder of real images
    python scripts/smoke.py --steps cls,export    # the steps that need no fork
"""
import argparse
import os
import sys

from model_quantization.detection.smoke import STEPS, run_smoke
from model_quantization.errors import run_cli


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="comma-separated subset of {} (default: all)".format(",".join(STEPS)))
    parser.add_argument("--tiny-coco", default=os.environ.get("TINY_COCO") or None, metavar="DIR",
                        help="small COCO folder: images/ + annotations/instances_*.json (default: "
                             "$TINY_COCO, else the built-in set of shapes, generated under "
                             "--output on first use)")
    parser.add_argument("--output", default=os.path.join("output", "smoke"),
                        help="folder for every smoke output (default: output/smoke)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every training step")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow re-running into an --output that holds an earlier smoke run")
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    return run_smoke(steps, args.output, args.tiny_coco, seed=args.seed, overwrite=args.overwrite)


if __name__ == "__main__":
    sys.exit(run_cli(main))
