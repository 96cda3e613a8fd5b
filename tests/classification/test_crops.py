"""Tests for the COCO-crop ImageFolder builder (reads tiny_coco in place)."""
import hashlib
import json
import os

import pytest
from PIL import Image

from model_quantization.classification.crops import make_crops

TINY_COCO = "/work/shared/data/tiny_coco"
if not os.path.isdir(TINY_COCO):
    TINY_COCO = os.environ.get("TINY_COCO", TINY_COCO)
pytestmark = pytest.mark.skipif(not os.path.isdir(TINY_COCO),
                                reason="needs the tiny_coco folder (set TINY_COCO=/path)")


def _digest(root):
    h = hashlib.sha256()
    for folder, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            if f.endswith(".png"):
                h.update(os.path.relpath(os.path.join(folder, f), root).encode())
                h.update(open(os.path.join(folder, f), "rb").read())
    return h.hexdigest()


def test_make_crops_writes_imagefolder_of_most_frequent_classes(tmp_path):
    counts = make_crops(TINY_COCO, tmp_path / "c", num_classes=2, min_size=32, crop_size=16,
                        max_per_class=12, log=lambda *_: None)
    anns = json.load(open(os.path.join(TINY_COCO, "annotations", "instances_val2017.json")))
    person = [a for a in anns["annotations"] if a["category_id"] == 1 and not a["iscrowd"]
              and min(a["bbox"][2:]) >= 32]
    assert list(counts)[0] == "person" and len(person) >= 12
    assert counts["person"] == {"train": 9, "val": 3}
    for split in ("train", "val"):
        assert sorted(os.listdir(tmp_path / "c" / split)) == sorted(counts)
    one = next((tmp_path / "c" / "train" / "person").iterdir())
    assert Image.open(one).size == (16, 16)


def test_make_crops_is_deterministic(tmp_path):
    kwargs = dict(num_classes=2, min_size=32, crop_size=16, max_per_class=6, seed=3,
                  log=lambda *_: None)
    make_crops(TINY_COCO, tmp_path / "a", **kwargs)
    make_crops(TINY_COCO, tmp_path / "b", **kwargs)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_make_crops_refuses_non_empty_output(tmp_path):
    (tmp_path / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="not empty"):
        make_crops(TINY_COCO, tmp_path, num_classes=2, log=lambda *_: None)


def test_make_crops_too_many_classes_names_the_fix(tmp_path):
    with pytest.raises(ValueError, match="--min-instances"):
        make_crops(TINY_COCO, tmp_path / "c", num_classes=50, min_instances=10,
                   log=lambda *_: None)
