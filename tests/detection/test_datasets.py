"""Dataset paths: the small COCO folder and full COCO under DATA_DIR, checked before a run."""
import os

import pytest

from model_quantization.detection.datasets import resolve_dataset, tiny_coco_files

EMPTY_COCO = '{"images": [], "annotations": [], "categories": []}'


def test_resolve_dataset_tiny_val_uses_the_val_json(small_coco):
    json_file, images = resolve_dataset("tiny_coco_val", tiny_coco=small_coco)
    assert json_file.endswith("instances_val.json")
    assert images == os.path.join(small_coco, "images")
    json_file, _ = resolve_dataset("tiny_coco_train", tiny_coco=small_coco)
    assert json_file.endswith("instances_train.json")


def test_resolve_dataset_tiny_train_falls_back_to_the_only_json(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val2017.json").write_text(EMPTY_COCO)
    json_file, _ = resolve_dataset("tiny_coco_train", tiny_coco=str(tmp_path))
    assert json_file.endswith("instances_val2017.json")


def test_tiny_coco_files_prefers_the_split_json(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    for split in ("train", "val"):
        (tmp_path / "annotations" / "instances_{}2017.json".format(split)).write_text(EMPTY_COCO)
    assert tiny_coco_files(str(tmp_path), "train")[0].endswith("instances_train2017.json")
    assert tiny_coco_files(str(tmp_path), "val")[0].endswith("instances_val2017.json")


def test_resolve_dataset_tiny_without_folder_names_the_flag_and_variable():
    with pytest.raises(FileNotFoundError, match="--tiny-coco DIR or set TINY_COCO"):
        resolve_dataset("tiny_coco_train", tiny_coco=None)


def test_tiny_coco_files_missing_annotations_names_the_folder(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="no annotations/instances_.*{}".format(tmp_path)):
        tiny_coco_files(str(tmp_path), "val")


def test_resolve_dataset_coco_missing_names_path_and_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        resolve_dataset("coco_2017_train", data_root=str(tmp_path))
    text = str(info.value)
    assert os.path.join(str(tmp_path), "coco", "train2017") in text and "set DATA_DIR" in text


def test_resolve_dataset_coco_present_returns_json_and_images(tmp_path):
    (tmp_path / "coco" / "val2017").mkdir(parents=True)
    (tmp_path / "coco" / "annotations").mkdir()
    (tmp_path / "coco" / "annotations" / "instances_val2017.json").write_text(EMPTY_COCO)
    json_file, images = resolve_dataset("coco_2017_val", data_root=str(tmp_path))
    assert json_file == str(tmp_path / "coco" / "annotations" / "instances_val2017.json")
    assert images == str(tmp_path / "coco" / "val2017")


def test_resolve_dataset_coco_reads_data_dir_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        resolve_dataset("coco_2017_val")


def test_resolve_dataset_leaves_other_names_alone():
    assert resolve_dataset("voc_2007_train") is None
