#!/usr/bin/env python
"""The smoke recipe on a tiny COCO folder: classifiers (FP, DoReFa W2/A2), export, FCOS-R18 FP and
2-bit double-init detectors, COCO evaluation. Prints each step's timing and the final AP table.

    python scripts/smoke.py                       # all steps, TINY_COCO or ../shared/data/tiny_coco
    python scripts/smoke.py --steps cls,export    # the steps that need no fork
"""
import argparse
import os
import sys

from model_quantization.detection.smoke import STEPS, run_smoke


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="comma-separated subset of {} (default: all)".format(",".join(STEPS)))
    parser.add_argument("--tiny-coco", default=os.environ.get("TINY_COCO") or os.path.join(
        os.pardir, "shared", "data", "tiny_coco"),
        help="small COCO folder: images/ + annotations/instances_*.json (default: $TINY_COCO, "
             "else ../shared/data/tiny_coco)")
    parser.add_argument("--output", default=os.path.join("output", "smoke"),
                        help="folder for every smoke output (default: output/smoke)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every training step")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow re-running into an --output that holds an earlier smoke run")
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    try:
        return run_smoke(steps, args.output, args.tiny_coco, seed=args.seed,
                         overwrite=args.overwrite)
    except ValueError as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    sys.exit(main())
