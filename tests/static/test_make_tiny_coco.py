"""scripts/make_tiny_coco.py on a synthetic COCO folder."""

import json

import pytest
from static_helpers import load_script

tiny = load_script("scripts/make_tiny_coco.py")


@pytest.fixture
def coco(tmp_path):
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "val2017").mkdir()
    images = [{"id": i, "file_name": "%012d.jpg" % i, "width": 4, "height": 4} for i in (1, 2, 3)]
    anns = [{"id": 10 + k, "image_id": image_id, "category_id": 1, "bbox": [0, 0, 1, 1]}
            for k, image_id in enumerate((1, 1, 2, 3))]
    data = {"info": {"year": 2017}, "licenses": [], "images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "thing"}]}
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    for image in images:
        (root / "val2017" / image["file_name"]).write_bytes(b"jpeg%d" % image["id"])
    return root


def test_parse_ids_accepts_spaces_and_commas_and_drops_repeats():
    assert tiny.parse_ids(["3", "1,2", "3"]) == [3, 1, 2]


def test_parse_ids_rejects_a_word_that_is_not_an_id():
    with pytest.raises(ValueError, match="'x1' is not an integer"):
        tiny.parse_ids(["1", "x1"])


def test_make_tiny_coco_keeps_only_the_chosen_images_and_their_annotations(coco, tmp_path):
    out = tmp_path / "tiny"
    assert tiny.make_tiny_coco(str(coco), [1, 3], str(out)) == (2, 3)
    data = json.loads((out / "annotations" / "instances_val2017.json").read_text())
    assert [i["id"] for i in data["images"]] == [1, 3]
    assert sorted(a["image_id"] for a in data["annotations"]) == [1, 1, 3]
    assert data["categories"] == [{"id": 1, "name": "thing"}]
    names = sorted(p.name for p in (out / "images").iterdir())
    assert names == ["000000000001.jpg", "000000000003.jpg"]
    assert (out / "images" / "000000000003.jpg").read_bytes() == b"jpeg3"


def test_make_tiny_coco_names_ids_missing_from_the_annotations(coco, tmp_path):
    with pytest.raises(KeyError, match="not in the annotation file: 7"):
        tiny.make_tiny_coco(str(coco), [1, 7], str(tmp_path / "tiny"))
    assert not (tmp_path / "tiny").exists()


def test_make_tiny_coco_names_a_missing_image_file(coco, tmp_path):
    (coco / "val2017" / "000000000002.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="000000000002.jpg"):
        tiny.make_tiny_coco(str(coco), [2], str(tmp_path / "tiny"))


def test_make_tiny_coco_refuses_a_non_empty_output(coco, tmp_path):
    out = tmp_path / "tiny"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="--overwrite"):
        tiny.make_tiny_coco(str(coco), [1], str(out))
    assert (out / "keep.txt").read_text() == "mine"


def test_make_tiny_coco_cli_reports_a_missing_coco_folder(tmp_path, capsys):
    code = tiny.main(["--coco", str(tmp_path / "none"), "--ids", "1", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "instances_val2017.json not found" in capsys.readouterr().err
