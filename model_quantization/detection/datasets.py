"""Where the detection datasets live, checked before a run starts, and their registration.

Two sources, both COCO-format:

* full COCO under ``$DATA_DIR`` (default ``datasets``): ``coco/train2017``, ``coco/val2017`` and
  ``coco/annotations/instances_{train,val}2017.json``, used by ``coco_2017_train`` /
  ``coco_2017_val`` (detectron2's names, re-pointed at ``$DATA_DIR``);
* a small folder (``--tiny-coco`` or ``$TINY_COCO``) holding ``images/`` and
  ``annotations/instances_*.json``, registered as ``tiny_coco_train`` / ``tiny_coco_val``. A folder
  with a single json (such as the 79-image val subset) serves both names.

``resolve_dataset`` is plain Python (tested without the forks); ``register_datasets`` imports
detectron2 lazily.
"""
import glob
import os

from ..cocojson import check_coco_json

__all__ = ["COCO_SPLITS", "TINY_NAMES", "resolve_dataset", "tiny_coco_files",
           "register_datasets", "data_dir"]

COCO_SPLITS = {"coco_2017_train": "train2017", "coco_2017_val": "val2017"}
TINY_NAMES = {"tiny_coco_train": "train", "tiny_coco_val": "val"}


def data_dir():
    """``$DATA_DIR`` or ``datasets`` (detectron2's default root)."""
    return os.environ.get("DATA_DIR") or "datasets"


def tiny_coco_files(folder, split):
    """``(json, image_root)`` of a small COCO folder for ``split`` ("train" or "val")."""
    folder = os.fspath(folder)
    images = os.path.join(folder, "images")
    ann_dir = os.path.join(folder, "annotations")
    fix = ("pass --tiny-coco DIR or set TINY_COCO to a folder holding images/ and "
           "annotations/instances_*.json (e.g. output/smoke/data/shapes, made by make smoke)")
    if not os.path.isdir(folder):
        raise FileNotFoundError("small COCO folder {!r} does not exist; {}".format(folder, fix))
    if not os.path.isdir(images):
        raise FileNotFoundError("small COCO folder {!r} has no images/ folder (looked for {!r}); "
                                "{}".format(folder, images, fix))
    jsons = sorted(glob.glob(os.path.join(ann_dir, "instances_*.json")))
    if not jsons:
        raise FileNotFoundError("small COCO folder {!r} has no annotations/instances_*.json "
                                "(looked in {!r}); {}".format(folder, ann_dir, fix))
    preferred = [j for j in jsons if os.path.basename(j).startswith("instances_" + split)]
    return check_coco_json((preferred or jsons)[0], image_root=images), images


def resolve_dataset(name, data_root=None, tiny_coco=None):
    """``(json, image_root)`` for a dataset name, after checking both exist.

    Raises FileNotFoundError naming the missing path and the variable that fixes it, or KeyError
    for a name this entry point does not register (detectron2's other built-ins are left alone:
    ``None`` is returned for those).
    """
    if name in TINY_NAMES:
        if not tiny_coco:
            raise FileNotFoundError(
                "dataset {!r} needs a small COCO folder: pass --tiny-coco DIR or set TINY_COCO "
                "(a folder with images/ and annotations/instances_*.json, e.g. "
                "output/smoke/data/shapes, the built-in set make smoke writes)".format(name))
        return tiny_coco_files(tiny_coco, TINY_NAMES[name])
    if name in COCO_SPLITS:
        root = os.fspath(data_root or data_dir())
        split = COCO_SPLITS[name]
        images = os.path.join(root, "coco", split)
        ann = os.path.join(root, "coco", "annotations", "instances_{}.json".format(split))
        for path, what in ((images, "image folder"), (ann, "annotation file")):
            if not os.path.exists(path):
                raise FileNotFoundError(
                    "dataset {!r}: {} {!r} does not exist; set DATA_DIR to the folder that holds "
                    "coco/{}, coco/annotations/ (now DATA_DIR={!r}), or train on a small folder "
                    "with --tiny-coco DIR and DATASETS.TRAIN \"('tiny_coco_train',)\"".format(
                        name, what, os.path.abspath(path), split, root))
        return check_coco_json(ann), images
    return None


def register_datasets(names, data_root=None, tiny_coco=None):
    """Check and register every dataset in ``names`` with detectron2 (idempotent)."""
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.data.datasets import register_coco_instances
    from detectron2.data.datasets.builtin_meta import _get_builtin_metadata

    done = {}
    for name in names:
        paths = resolve_dataset(name, data_root, tiny_coco)
        if paths is None:
            continue
        json_file, image_root = paths
        if name in DatasetCatalog.list():
            meta = MetadataCatalog.get(name)
            if getattr(meta, "json_file", None) == json_file:
                continue
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)
        # COCO's own metadata for COCO; a small folder's classes are those of its json (the
        # built-in set has 4, a cut of COCO the 80 of COCO's json)
        meta = _get_builtin_metadata("coco") if name in COCO_SPLITS else {}
        register_coco_instances(name, meta, json_file, image_root)
        done[name] = paths
    return done
