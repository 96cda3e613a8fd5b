"""Cut a tiny COCO subset, by image ids, from a full COCO folder (for smoke runs and tests).

Reads ``<coco>/annotations/instances_<split>.json`` and ``<coco>/<split>/<file_name>``, and writes
the layout the smoke run reads (``--tiny-coco``/``TINY_COCO``)::

    <out>/images/<file_name>                      copies of the chosen images
    <out>/annotations/instances_<split>.json      those images, their annotations, all categories

Every requested id must exist in the annotation file and its image file must exist, otherwise
nothing is written. Standard library only.

Example: python scripts/make_tiny_coco.py --coco /data/coco --ids 139 285 632 --out /data/tiny_coco
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

__all__ = ["parse_ids", "subset_annotations", "make_tiny_coco", "main"]


def parse_ids(values):
    """Image ids from command-line words: ``["139", "285,632"]`` -> ``[139, 285, 632]``.

    Order is kept and repeats are dropped.
    """
    ids = []
    for value in values:
        for word in str(value).replace(",", " ").split():
            try:
                ids.append(int(word))
            except ValueError:
                raise ValueError("image id %r is not an integer (COCO ids look like 139 or "
                                 "000000000139)" % word) from None
    if not ids:
        raise ValueError("no image ids given; pass --ids 139 285 ... or --ids-file FILE")
    seen = set()
    return [i for i in ids if not (i in seen or seen.add(i))]


def subset_annotations(dataset, ids):
    """Return a copy of a COCO ``dataset`` dict with only the images ``ids`` and their annotations.

    Raises KeyError naming the ids that are not in the dataset.
    """
    by_id = {image["id"]: image for image in dataset.get("images", [])}
    missing = [i for i in ids if i not in by_id]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise KeyError("%d image id(s) not in the annotation file: %s (it has %d images, e.g. %s)"
                       % (len(missing), shown, len(by_id),
                          ", ".join(str(i) for i in sorted(by_id)[:5])))
    wanted = set(ids)
    subset = {key: value for key, value in dataset.items() if key not in ("images", "annotations")}
    subset["images"] = [by_id[i] for i in ids]
    subset["annotations"] = [a for a in dataset.get("annotations", []) if a["image_id"] in wanted]
    subset.setdefault("categories", [])
    return subset


def make_tiny_coco(coco_dir, ids, out_dir, split="val2017", overwrite=False):
    """Write the subset to ``out_dir``; return ``(num_images, num_annotations)``."""
    ann_path = os.path.join(coco_dir, "annotations", "instances_%s.json" % split)
    if not os.path.isfile(ann_path):
        raise FileNotFoundError("%s not found: --coco must be a COCO folder holding annotations/ "
                                "and %s/ (e.g. DATA_DIR/coco)" % (ann_path, split))
    if os.path.exists(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError("%s is not empty; choose another --out or pass --overwrite" % out_dir)
    with open(ann_path) as handle:
        dataset = json.load(handle)
    subset = subset_annotations(dataset, ids)
    sources = [os.path.join(coco_dir, split, image["file_name"]) for image in subset["images"]]
    absent = [path for path in sources if not os.path.isfile(path)]
    if absent:
        raise FileNotFoundError("%d image file(s) missing, e.g. %s: is %s the folder of split %r?"
                                % (len(absent), absent[0], os.path.join(coco_dir, split), split))
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tiny_coco_", dir=parent)
    try:
        os.makedirs(os.path.join(staging, "images"))
        os.makedirs(os.path.join(staging, "annotations"))
        for source in sources:
            shutil.copy2(source, os.path.join(staging, "images", os.path.basename(source)))
        with open(os.path.join(staging, "annotations", "instances_%s.json" % split), "w") as handle:
            json.dump(subset, handle)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(subset["images"]), len(subset["annotations"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coco", required=True, help="COCO folder with annotations/ and <split>/")
    parser.add_argument("--ids", nargs="*", default=[], help="image ids (spaces or commas)")
    parser.add_argument("--ids-file", help="file of image ids (whitespace or comma separated)")
    parser.add_argument("--out", required=True, help="folder to write (images/, annotations/)")
    parser.add_argument("--split", default="val2017", help="COCO split (default: val2017)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    args = parser.parse_args(argv)
    try:
        words = list(args.ids)
        if args.ids_file:
            with open(args.ids_file) as handle:
                words.append(handle.read())
        count, anns = make_tiny_coco(args.coco, parse_ids(words), args.out, args.split,
                                     args.overwrite)
    except (ValueError, KeyError, OSError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print("make_tiny_coco: %s" % message, file=sys.stderr)
        return 2
    print("wrote %s: %d images, %d annotations (split %s)" % (args.out, count, anns, args.split))
    return 0


if __name__ == "__main__":
    sys.exit(main())
