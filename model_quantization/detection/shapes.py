"""The built-in smoke dataset: simple shapes on textured backgrounds, in COCO format.

``make_shapes(folder)`` writes, deterministically for a seed and in a few seconds::

    folder/images/{train,val}_000000.png ...
    folder/annotations/instances_train.json, instances_val.json

Four categories (circle, square, triangle, cross), one to three objects per image, each drawn in
a colour that stands out from a smooth random background with pixel noise; objects do not
overlap. Boxes are tight around the drawn pixels, ``area`` is the object's pixel count and
``segmentation`` its polygon, so that COCO's evaluation (small/medium/large included) reads it as
it reads COCO. The folder has the layout of any small COCO folder (``--tiny-coco``): the
detector trains on ``tiny_coco_train`` (``instances_train.json``), evaluates on ``tiny_coco_val``,
and the classification crops of the smoke recipe are cut from it like from real COCO.

A detector that learns anything finds these shapes after a few hundred iterations on a CPU,
which is what the smoke run's learning checks rely on; one that learns nothing does not.
"""
import json
import math
import os
import shutil

import numpy as np

__all__ = ["CATEGORIES", "SPLITS", "make_shapes", "shapes_ready"]

CATEGORIES = ("circle", "square", "triangle", "cross")
SPLITS = {"train": 160, "val": 48}
_STAMP = ".shapes-done"
_VERSION = 1


def _polygon(kind, cx, cy, r):
    """Vertices (x, y) of a shape of half-size ``r`` centred at ``(cx, cy)``."""
    if kind == "circle":
        return [(cx + r * math.cos(2 * math.pi * k / 24), cy + r * math.sin(2 * math.pi * k / 24))
                for k in range(24)]
    if kind == "square":
        return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if kind == "triangle":
        return [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    w = r / 3.0  # cross: a plus sign with arms of width 2r/3
    return [(cx - w, cy - r), (cx + w, cy - r), (cx + w, cy - w), (cx + r, cy - w),
            (cx + r, cy + w), (cx + w, cy + w), (cx + w, cy + r), (cx - w, cy + r),
            (cx - w, cy + w), (cx - r, cy + w), (cx - r, cy - w), (cx - w, cy - w)]


def _background(rng, size):
    """A smooth random colour field (upsampled coarse noise) plus fine pixel noise."""
    from PIL import Image
    coarse = rng.randint(40, 200, size=(4, 4, 3)).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR),
                        dtype=np.float32)
    noisy = smooth + rng.normal(0.0, 12.0, size=smooth.shape)
    return np.clip(noisy, 0, 255)


def _draw_image(rng, size, max_objects):
    from PIL import Image, ImageDraw
    canvas = _background(rng, size)
    objects, boxes = [], []
    for _ in range(rng.randint(1, max_objects + 1)):
        for _attempt in range(20):
            r = rng.uniform(12, 26)
            cx, cy = rng.uniform(r + 1, size - r - 1, size=2)
            box = (cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2)
            if all(box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1]
                   for b in boxes):
                break
        else:
            continue
        boxes.append(box)
        kind = int(rng.randint(len(CATEGORIES)))
        mask = Image.new("L", (size, size), 0)
        polygon = _polygon(CATEGORIES[kind], cx, cy, r)
        ImageDraw.Draw(mask).polygon(polygon, fill=255)
        inside = np.asarray(mask) > 127
        if inside.sum() < 16:
            continue
        base = canvas[inside].mean(axis=0)
        colour = np.where(base > 128, rng.uniform(0, 60, 3), rng.uniform(195, 255, 3))
        canvas[inside] = colour + rng.normal(0.0, 6.0, size=(int(inside.sum()), 3))
        ys, xs = np.nonzero(inside)
        x0, y0, x1, y1 = float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
        objects.append({"category_id": kind + 1, "bbox": [x0, y0, x1 - x0, y1 - y0],
                        "area": float(inside.sum()), "iscrowd": 0,
                        "segmentation": [[round(v, 2) for point in polygon for v in point]]})
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    return image, objects


def shapes_ready(folder):
    """True when ``folder`` holds a complete set made by this version of the generator."""
    stamp = os.path.join(folder, _STAMP)
    if not os.path.isfile(stamp):
        return False
    with open(stamp) as f:
        return f.read().strip() == str(_VERSION)


def make_shapes(folder, seed=0, size=128, max_objects=3, splits=None):
    """Write the set into ``folder`` (made if missing); returns ``folder``.

    A folder that already holds a complete set of this generator is reused as it is. Any other
    content is refused rather than mixed with: name a new or empty folder. The set is written
    into ``<folder>.partial`` and renamed when complete, so ``folder`` is never half made.
    """
    splits = dict(SPLITS if splits is None else splits)
    if shapes_ready(folder):
        return folder
    if os.path.exists(folder) and (not os.path.isdir(folder) or os.listdir(folder)):
        raise FileExistsError("{!r} is not empty and holds no complete built-in smoke set: give "
                              "an empty or new folder".format(folder))
    # Written next to the target and renamed into place when complete: an interrupted run leaves
    # only this folder of ours behind, which the next run replaces.
    work = folder.rstrip(os.sep) + ".partial"
    if os.path.isdir(work):
        shutil.rmtree(work)
    images_dir = os.path.join(work, "images")
    ann_dir = os.path.join(work, "annotations")
    os.makedirs(images_dir)
    os.makedirs(ann_dir)
    categories = [{"id": i + 1, "name": name, "supercategory": "shape"}
                  for i, name in enumerate(CATEGORIES)]
    for split_index, (split, count) in enumerate(sorted(splits.items())):
        rng = np.random.RandomState(seed * 1000 + split_index)
        images, annotations = [], []
        for index in range(count):
            image, objects = _draw_image(rng, size, max_objects)
            name = "{}_{:06d}.png".format(split, index)
            image.save(os.path.join(images_dir, name))
            image_id = index + 1
            images.append({"id": image_id, "file_name": name, "width": size, "height": size})
            for obj in objects:
                annotations.append(dict(obj, id=len(annotations) + 1, image_id=image_id))
        data = {"info": {"description": "built-in smoke set: shapes on textured backgrounds",
                         "version": str(_VERSION), "seed": seed},
                "licenses": [], "categories": categories, "images": images,
                "annotations": annotations}
        tmp = os.path.join(ann_dir, "instances_{}.json.tmp".format(split))
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, os.path.join(ann_dir, "instances_{}.json".format(split)))
    with open(os.path.join(work, _STAMP), "w") as f:
        f.write(str(_VERSION))
    if os.path.isdir(folder):
        os.rmdir(folder)  # empty (checked above)
    os.rename(work, folder)
    return folder
