"""The built-in smoke set: deterministic, valid COCO, reused when complete, never mixed in."""
import hashlib
import json
import os

import pytest

from model_quantization.detection import shapes


def _digest(folder):
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            h.update(name.encode())
            with open(os.path.join(root, name), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


SMALL = {"train": 6, "val": 3}


def test_same_seed_same_bytes_other_seed_other_set(tmp_path):
    a = shapes.make_shapes(str(tmp_path / "a"), seed=2, splits=SMALL)
    b = shapes.make_shapes(str(tmp_path / "b"), seed=2, splits=SMALL)
    c = shapes.make_shapes(str(tmp_path / "c"), seed=3, splits=SMALL)
    assert _digest(a) == _digest(b) != _digest(c)


def test_the_set_is_coco_that_pycocotools_reads(small_coco):
    from pycocotools.coco import COCO
    for split, count in shapes.SPLITS.items():
        path = os.path.join(small_coco, "annotations", "instances_{}.json".format(split))
        coco = COCO(path)
        assert len(coco.getImgIds()) == count
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(shapes.CATEGORIES)
        per_image = {}
        for ann in coco.loadAnns(coco.getAnnIds()):
            image = coco.loadImgs(ann["image_id"])[0]
            x, y, w, h = ann["bbox"]
            assert 0 <= x and 0 <= y and x + w <= image["width"] and y + h <= image["height"]
            assert 0 < ann["area"] <= w * h and ann["iscrowd"] == 0
            per_image.setdefault(ann["image_id"], []).append(ann["bbox"])
        assert len(per_image) == count  # every image has an object
        for boxes in per_image.values():  # objects never overlap
            for i, (x0, y0, w0, h0) in enumerate(boxes):
                for x1, y1, w1, h1 in boxes[i + 1:]:
                    assert x0 + w0 <= x1 or x1 + w1 <= x0 or y0 + h0 <= y1 or y1 + h1 <= y0


def test_every_category_is_in_both_splits(small_coco):
    for split in shapes.SPLITS:
        data = json.load(open(os.path.join(small_coco, "annotations",
                                           "instances_{}.json".format(split))))
        assert {a["category_id"] for a in data["annotations"]} == {1, 2, 3, 4}


def test_a_complete_set_is_reused_as_it_is(tmp_path):
    folder = shapes.make_shapes(str(tmp_path / "s"), splits=SMALL)
    stamp = os.path.join(folder, "annotations", "instances_train.json")
    before = os.stat(stamp).st_mtime_ns
    assert shapes.make_shapes(folder, splits=SMALL) == folder
    assert os.stat(stamp).st_mtime_ns == before


def test_a_folder_with_other_content_is_refused_untouched(tmp_path):
    (tmp_path / "mine.txt").write_text("a user's file")
    with pytest.raises(FileExistsError, match="not empty and holds no complete built-in"):
        shapes.make_shapes(str(tmp_path), splits=SMALL)
    assert os.listdir(str(tmp_path)) == ["mine.txt"]


def test_an_interrupted_run_leaves_no_half_set_and_is_redone(tmp_path, monkeypatch):
    target = str(tmp_path / "s")
    calls = []

    def fail_on_the_second_image(rng, size, max_objects, real=shapes._draw_image):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(rng, size, max_objects)

    monkeypatch.setattr(shapes, "_draw_image", fail_on_the_second_image)
    with pytest.raises(KeyboardInterrupt):
        shapes.make_shapes(target, splits=SMALL)
    assert not os.path.exists(target) and os.path.isdir(target + ".partial")
    monkeypatch.undo()
    shapes.make_shapes(target, splits=SMALL)
    assert shapes.shapes_ready(target) and not os.path.exists(target + ".partial")
    assert _digest(target) == _digest(shapes.make_shapes(str(tmp_path / "t"), splits=SMALL))
