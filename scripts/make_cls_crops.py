#!/usr/bin/env python
"""Build a small ImageFolder classification set (train/ and val/) from COCO object crops.

Example (the smoke recipe):
    python scripts/make_cls_crops.py --coco output/smoke/data/shapes \
        --annotations output/smoke/data/shapes/annotations/instances_train.json --output /tmp/crops
"""
import argparse
import sys

from model_quantization.errors import run_cli


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--coco", required=True,
                   help="COCO-style folder: images/ + annotations/instances_*.json (read only)")
    p.add_argument("--output", required=True, help="folder to write train/<class>/, val/<class>/")
    p.add_argument("--annotations", default=None, help="annotation json (default: the single "
                   "annotations/instances_*.json under --coco)")
    p.add_argument("--images", default=None, help="image folder (default: <coco>/images)")
    p.add_argument("--num-classes", type=int, default=4, help="most frequent categories kept")
    p.add_argument("--min-instances", type=int, default=10,
                   help="a category needs at least this many usable boxes")
    p.add_argument("--min-size", type=float, default=24, help="shorter box side in pixels")
    p.add_argument("--crop-size", type=int, default=64, help="side of the saved square crops")
    p.add_argument("--context", type=float, default=1.2, help="crop side / longer box side")
    p.add_argument("--val-fraction", type=float, default=0.25)
    p.add_argument("--max-per-class", type=int, default=40, help="cap per class (0: no cap)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --output")
    a = p.parse_args(argv)
    from model_quantization.classification.crops import make_crops

    make_crops(a.coco, a.output, num_classes=a.num_classes, min_instances=a.min_instances,
               min_size=a.min_size, crop_size=a.crop_size, context=a.context,
               val_fraction=a.val_fraction, max_per_class=a.max_per_class or None, seed=a.seed,
               annotations=a.annotations, images=a.images, overwrite=a.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
