"""A small ImageFolder classification set cut from the object boxes of a COCO-style folder.

For smoke tests of the backbone steps without ImageNet: the ``num_classes`` most frequent
categories (counting non-crowd boxes whose shorter side is at least ``min_size`` pixels, and
keeping categories with at least ``min_instances`` such boxes) become classes; each box is cut
as a square around its centre (``context`` times its longer side, clipped to the image),
resized to ``crop_size`` and saved as PNG under ``<output>/{train,val}/<category>/``. The split
is per class and deterministic (seeded shuffle; at least one validation crop per class). The
COCO folder (``images/`` + ``annotations/instances_*.json``) is only read.
"""
import glob
import json
import os
import random
import shutil
from collections import Counter, defaultdict

from ..cocojson import read_coco_json

__all__ = ["find_annotation_file", "select_boxes", "make_crops"]


def find_annotation_file(coco_root):
    """The single ``annotations/instances_*.json`` under ``coco_root``."""
    found = sorted(glob.glob(os.path.join(os.fspath(coco_root), "annotations",
                                          "instances_*.json")))
    if len(found) != 1:
        raise FileNotFoundError("expected exactly one annotations/instances_*.json under {!r}, "
                                "found {}; pass --annotations FILE".format(
                                    os.fspath(coco_root), found or "none"))
    return found[0]


def select_boxes(coco, num_classes, min_instances, min_size):
    """``{category name: [annotation, ...]}`` for the chosen categories, most frequent first."""
    names = {c["id"]: c["name"] for c in coco["categories"]}
    usable = defaultdict(list)
    for ann in coco["annotations"]:
        w, h = ann["bbox"][2:4]
        if not ann.get("iscrowd") and min(w, h) >= min_size:
            usable[ann["category_id"]].append(ann)
    counts = Counter({cid: len(v) for cid, v in usable.items() if len(v) >= min_instances})
    chosen = sorted(counts, key=lambda cid: (-counts[cid], names[cid]))[:num_classes]
    if len(chosen) < num_classes:
        raise ValueError("only {} categories have >= {} boxes with a side >= {} px (wanted {}); "
                         "lower --min-instances / --min-size or --num-classes".format(
                             len(chosen), min_instances, min_size, num_classes))
    return {names[cid].replace(" ", "_"): sorted(usable[cid], key=lambda a: a["id"])
            for cid in chosen}


def _crop(image, bbox, context, crop_size):
    from PIL import Image

    x, y, w, h = bbox
    side = max(w, h) * context
    cx, cy = x + w / 2.0, y + h / 2.0
    half = side / 2.0
    box = (max(0, int(round(cx - half))), max(0, int(round(cy - half))),
           min(image.width, int(round(cx + half))), min(image.height, int(round(cy + half))))
    resample = getattr(Image, "Resampling", Image).BILINEAR
    return image.crop(box).resize((crop_size, crop_size), resample)


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _check_output(output, inputs, overwrite):
    """The crops go to a folder of their own: not one of the inputs or around them, and an
    existing one is replaced only on ``overwrite`` and only if it holds a crop set."""
    for folder in inputs:
        if _inside(folder, output) or (os.path.isdir(folder) and _inside(output, folder)):
            raise ValueError("--output {!r} overlaps the input folder {!r}: the crops need a "
                             "folder of their own, e.g. --output {!r}".format(
                                 output, folder, os.path.join("output", "crops")))
    if os.path.exists(output) and not os.path.isdir(output):
        raise NotADirectoryError("--output {!r} is a file; give a folder for train/ and val/"
                                 .format(output))
    entries = sorted(os.listdir(output)) if os.path.isdir(output) else []
    if not entries:
        return
    if not overwrite:
        raise FileExistsError("output folder {!r} is not empty; choose another --output or "
                              "pass --overwrite".format(output))
    foreign = [e for e in entries if e not in ("train", "val", "crops.json")]
    if foreign or "crops.json" not in entries:
        raise FileExistsError("--overwrite: output folder {!r} does not hold a crop set made "
                              "here (no crops.json{}); it is not replaced: choose an empty or "
                              "new --output".format(output, ", or other files: " +
                                                    ", ".join(foreign[:5]) if foreign else ""))


def make_crops(coco_root, output, num_classes=5, min_instances=10, min_size=24, crop_size=64,
               context=1.2, val_fraction=0.25, max_per_class=None, seed=0, annotations=None,
               images=None, overwrite=False, log=print):
    """Write the crop dataset to ``output``; return ``{class: {"train": n, "val": n}}``."""
    from PIL import Image

    coco_root, output = os.fspath(coco_root), os.fspath(output)
    annotations = annotations or find_annotation_file(coco_root)
    images = images or os.path.join(coco_root, "images")
    if not os.path.isdir(images):
        raise FileNotFoundError("image folder {!r} does not exist; pass --images DIR (the folder "
                                "the annotations' file_name values resolve in)".format(images))
    _check_output(output, [coco_root, images, annotations], overwrite)
    if not 0 < val_fraction < 1:
        raise ValueError("val_fraction must be between 0 and 1, got {!r}".format(val_fraction))
    coco = read_coco_json(annotations)
    final, output = output, output.rstrip("/" + os.sep) + ".partial"
    if os.path.isdir(output):
        shutil.rmtree(output)  # debris of an interrupted earlier call: ours, never the user's
    files = {im["id"]: im["file_name"] for im in coco["images"]}
    boxes = select_boxes(coco, num_classes, min_instances, min_size)
    rng = random.Random(seed)
    counts, cache = {}, {}
    for name, anns in boxes.items():
        anns = list(anns)
        rng.shuffle(anns)
        if max_per_class:
            anns = anns[:int(max_per_class)]
        n_val = max(1, int(round(len(anns) * val_fraction)))
        splits = {"val": anns[:n_val], "train": anns[n_val:]}
        for split, items in splits.items():
            folder = os.path.join(output, split, name)
            if os.path.isdir(folder):
                for old in glob.glob(os.path.join(folder, "*.png")):
                    os.remove(old)
            os.makedirs(folder, exist_ok=True)
            for ann in items:
                image_id = ann["image_id"]
                if image_id not in cache:
                    path = os.path.join(images, files[image_id])
                    cache = {image_id: Image.open(path).convert("RGB")}
                crop = _crop(cache[image_id], ann["bbox"], context, crop_size)
                crop.save(os.path.join(folder, "{}_{}.png".format(image_id, ann["id"])))
        counts[name] = {"train": len(splits["train"]), "val": len(splits["val"])}
    manifest = {"source": os.path.abspath(annotations), "num_classes": num_classes,
                "min_instances": min_instances, "min_size": min_size, "crop_size": crop_size,
                "context": context, "val_fraction": val_fraction, "max_per_class": max_per_class,
                "seed": seed, "counts": counts}
    with open(os.path.join(output, "crops.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    if os.path.isdir(final):  # empty, or an earlier crop set replaced on --overwrite
        shutil.rmtree(final)
    os.rename(output, final)
    output = final
    log("{:<20} {:>6} {:>6}".format("class", "train", "val"))
    for name, c in counts.items():
        log("{:<20} {:>6} {:>6}".format(name, c["train"], c["val"]))
    log("wrote {} train / {} val crops of {} classes to {}".format(
        sum(c["train"] for c in counts.values()), sum(c["val"] for c in counts.values()),
        len(counts), output))
    return counts
