"""Bad input at the entry points (scripts/, make): one line, exit code 2, nothing destroyed.

Each case is a mistake a user can make; the comment names the kind of the issue's probe it
belongs to. The cases that need the forks are in test_detector_inputs.py.
"""
import json

import pytest
import torch
import torchvision
from bad_input_helpers import assert_one_line_error, snapshot


@pytest.fixture
def classifier_ckpt(tmp_path):
    path = tmp_path / "cls" / "model_best.pth"
    path.parent.mkdir()
    torch.save({"model": torchvision.models.resnet18(num_classes=3).state_dict(),
                "arch": "resnet18"}, str(path))
    return path


# -- data loss: no output in place of its own input -------------------------------------------
def test_export_onto_its_own_input_is_refused_and_the_input_kept(run_entry, classifier_ckpt):
    before = snapshot(classifier_ckpt.parent)
    r = run_entry("scripts/export_detectron2.py", "--input", str(classifier_ckpt), "--output",
                  str(classifier_ckpt), "--arch", "resnet18", "--overwrite")
    assert_one_line_error(r, "is the --input file", "give a new file")
    assert snapshot(classifier_ckpt.parent) == before


def test_export_onto_its_input_through_a_link_is_refused(run_entry, classifier_ckpt):
    link = classifier_ckpt.parent / "alias.pth"
    link.symlink_to(classifier_ckpt)
    before = snapshot(classifier_ckpt.parent)
    r = run_entry("scripts/export_detectron2.py", "--input", str(classifier_ckpt), "--output",
                  str(link), "--arch", "resnet18", "--overwrite")
    assert_one_line_error(r, "is the --input file")
    assert snapshot(classifier_ckpt.parent) == before


@pytest.mark.parametrize("as_written", ["{dir}", "{dir}/", "{dir}/new/"])
def test_export_output_naming_a_folder_suggests_a_file_in_it(run_entry, classifier_ckpt,
                                                             tmp_path, as_written):
    out = as_written.format(dir=tmp_path)
    r = run_entry("scripts/export_detectron2.py", "--input", str(classifier_ckpt), "--output",
                  out, "--arch", "resnet18")
    assert_one_line_error(r, "is a folder", "model_d2.pth")
    assert not (tmp_path / "new").exists()


def test_export_missing_input_names_it(run_entry, tmp_path):
    r = run_entry("scripts/export_detectron2.py", "--input", str(tmp_path / "nope.pth"),
                  "--output", str(tmp_path / "out.pth"), "--arch", "resnet18")
    assert_one_line_error(r, "nope.pth", "does not exist")
    assert snapshot(tmp_path) == {}


def test_export_of_a_truncated_checkpoint_names_the_file(run_entry, classifier_ckpt, tmp_path):
    data = classifier_ckpt.read_bytes()
    classifier_ckpt.write_bytes(data[: len(data) // 3])
    r = run_entry("scripts/export_detectron2.py", "--input", str(classifier_ckpt),
                  "--output", str(tmp_path / "out.pth"), "--arch", "resnet18")
    assert_one_line_error(r, "model_best.pth", "truncated or corrupt")
    assert not (tmp_path / "out.pth").exists()


# -- config values checked where they are read ------------------------------------------------
@pytest.mark.parametrize("opt, phrase", [
    ("optimizer.weight_decay=-0.1", "optimizer.weight_decay = -0.1 is out of range"),
    ("label_smoothing=1.5", "label_smoothing = 1.5 is out of range"),
    ("optimizer.momentum=1.2", "optimizer.momentum = 1.2 is out of range"),
    ("optimizer.lr=0", "optimizer.lr = 0 is out of range"),
    ("schedule.warmup_epochs=5", "leaves no epoch after warm-up"),
    ("data.image_size=2", "data.image_size = 2 is out of range"),
    ("num_classes=1", "num_classes = 1 is out of range"),
    ("epochs=0", "epochs must be a whole number >= 1"),
    ("schedule=step", "e.g. schedule.name=step"),
    ("optimizer.lr=fast", "must be a float"),
])
def test_classifier_values_out_of_range_stop_before_anything_is_written(run_entry, tmp_path,
                                                                        opt, phrase):
    out = tmp_path / "run"
    r = run_entry("scripts/train_classifier.py", "--config",
                  "configs/classification/smoke_resnet18_fp.yaml", "--data", str(tmp_path),
                  "--output", str(out), "--opts", "epochs=3", opt)
    assert_one_line_error(r, phrase)
    assert not out.exists()


def test_unknown_classifier_key_suggestion_is_printed(run_entry, tmp_path):
    r = run_entry("scripts/train_classifier.py", "--config",
                  "configs/classification/smoke_resnet18_fp.yaml", "--data", str(tmp_path),
                  "--output", str(tmp_path / "run"), "--opts", "wd=0.1")
    assert_one_line_error(r, "unknown config key 'wd'", "Did you mean 'optimizer.weight_decay'?")


def test_classifier_init_inside_the_output_it_overwrites_is_refused(run_entry, tiny_folder,
                                                                    classifier_ckpt):
    before = snapshot(classifier_ckpt.parent)
    r = run_entry("scripts/train_classifier.py", "--config",
                  "configs/classification/smoke_resnet18_fp.yaml", "--data", str(tiny_folder),
                  "--output", str(classifier_ckpt.parent), "--init", str(classifier_ckpt),
                  "--overwrite", "--opts", "epochs=1")
    assert_one_line_error(r, "is a file of --output", "copy it elsewhere")
    assert snapshot(classifier_ckpt.parent) == before


def test_classifier_missing_data_folder_is_one_line(run_entry, tmp_path):
    r = run_entry("scripts/train_classifier.py", "--config",
                  "configs/classification/smoke_resnet18_fp.yaml", "--data",
                  str(tmp_path / "no-such-data"), "--output", str(tmp_path / "run"))
    assert_one_line_error(r, "no-such-data")
    assert not (tmp_path / "run").exists()  # checked before the run folder is made


def test_classifier_missing_init_is_refused_before_the_run_folder_is_made(run_entry, tiny_folder,
                                                                          tmp_path):
    r = run_entry("scripts/train_classifier.py", "--config",
                  "configs/classification/smoke_resnet18_fp.yaml", "--data", str(tiny_folder),
                  "--output", str(tmp_path / "run"), "--init", str(tmp_path / "typo.pth"))
    assert_one_line_error(r, "typo.pth", "does not exist")
    assert not (tmp_path / "run").exists()


def test_missing_config_file_is_one_line(run_entry, tmp_path):
    r = run_entry("scripts/train_classifier.py", "--config", "configs/classification/nope.yaml",
                  "--data", str(tmp_path), "--output", str(tmp_path / "run"))
    assert_one_line_error(r, "nope.yaml", "does not exist")


# -- annotation files -------------------------------------------------------------------------
@pytest.mark.parametrize("content, phrase", [
    (b"", "is empty (0 bytes)"),
    (b'{"images": [{"id": 1', "is not valid json"),
    (b"[1, 2, 3]", "not a COCO mapping"),
    (b'{"images": []}', "lacks the COCO list(s) annotations, categories"),
])
def test_bad_annotation_file_is_named(run_entry, small_coco, tmp_path, content, phrase):
    ann = tmp_path / "instances_bad.json"
    ann.write_bytes(content)
    out = tmp_path / "crops"
    r = run_entry("scripts/make_cls_crops.py", "--coco", small_coco, "--annotations", str(ann),
                  "--output", str(out))
    assert_one_line_error(r, "instances_bad.json", phrase)
    assert not out.exists()


def test_crops_onto_their_own_coco_folder_are_refused(run_entry, small_coco):
    before = snapshot(small_coco)
    r = run_entry("scripts/make_cls_crops.py", "--coco", small_coco, "--annotations",
                  small_coco + "/annotations/instances_train.json", "--output", small_coco,
                  "--overwrite")
    assert_one_line_error(r, "overlaps the input folder")
    assert snapshot(small_coco) == before


def test_crops_overwrite_never_empties_a_folder_that_is_not_a_crop_set(run_entry, small_coco,
                                                                       tmp_path):
    mine = tmp_path / "my-folder"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    r = run_entry("scripts/make_cls_crops.py", "--coco", small_coco, "--annotations",
                  small_coco + "/annotations/instances_train.json", "--output", str(mine),
                  "--overwrite", "--max-per-class", "2", "--min-instances", "2")
    assert_one_line_error(r, "does not hold a crop set made here", "thesis.tex")
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_crops_debris_of_an_interrupted_call_does_not_block_a_rerun(run_entry, small_coco,
                                                                    tmp_path):
    out = tmp_path / "crops"
    debris = tmp_path / "crops.partial" / "train" / "circle"
    debris.mkdir(parents=True)
    (debris / "half.png").write_bytes(b"\x89PNG")
    r = run_entry("scripts/make_cls_crops.py", "--coco", small_coco, "--annotations",
                  small_coco + "/annotations/instances_train.json", "--output", str(out),
                  "--max-per-class", "4", "--min-instances", "2")
    assert r.rc == 0, r
    assert (out / "crops.json").is_file()
    assert not (tmp_path / "crops.partial").exists()
    assert not (out / "train" / "circle" / "half.png").exists()


# -- the detection command line (parsed before the forks are imported) ------------------------
def test_negative_gpu_count_is_refused(run_entry):
    r = run_entry("scripts/train_det.py", "--config-file",
                  "configs/detection/smoke/fcos_r18_fp.yaml", "--num-gpus", "-1")
    assert r.rc == 2, r
    assert "--num-gpus -1 is negative" in r.last


# -- make -------------------------------------------------------------------------------------
def test_make_eval_without_checkpoint_names_the_variable_not_the_backbone(run_entry, tmp_path):
    r = run_entry("make", "eval", "RUNNER=local", "CONFIG=configs/detection/fcos/R18-fp.yaml",
                  "OUTPUT_DIR={}".format(tmp_path))
    assert r.rc == 2, r
    assert "CHECKPOINT is empty" in r.last and "model_final.pth" in r.last
    assert "backbones" not in r.last.split("(")[0]
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize("config, phrase", [
    ("configs/detection/fcos/R18-fp.yaml", "is not a classification config"),
    ("configs/classification/nope.yaml", "not found"),
])
def test_make_export_with_a_config_it_cannot_use(run_entry, tmp_path, config, phrase):
    r = run_entry("make", "export", "RUNNER=local", "CONFIG=" + config,
                  "OUTPUT_DIR={}".format(tmp_path))
    assert r.rc == 2, r
    assert phrase in r.last
    assert "ARCH=" not in r.last.split(" (or ")[0]
    assert snapshot(tmp_path) == {}


# -- a failed step: its run record says so, and a rerun is not blocked ------------------------
def test_failed_classifier_run_is_marked_failed_and_a_rerun_proceeds(tiny_folder, tmp_path,
                                                                     monkeypatch):
    from model_quantization.classification import load_config, train
    from model_quantization.classification import trainer as trainer_mod

    cfg = load_config(None, ["epochs=1", "batch_size=8", "workers=0", "data.image_size=16",
                             "data.val_resize=16", "progress=false", "device=cpu"])
    out = tmp_path / "run"

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(trainer_mod, "train_one_epoch", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        train(cfg, str(out), data=str(tiny_folder))
    extra = json.loads((out / "run_record" / "extra.json").read_text())
    assert extra["status"] == "failed"
    assert "disk on fire" in extra["error"]
    monkeypatch.undo()
    result = train(cfg, str(out), data=str(tiny_folder))  # no --overwrite needed
    assert result["epochs"] == 1
    extra = json.loads((out / "run_record" / "extra.json").read_text())
    assert extra["status"] == "finished"


def test_small_coco_folder_whose_json_names_missing_images(tmp_path, small_coco):
    """A json and an image folder that do not belong together fail before training starts."""
    import shutil

    from model_quantization.detection.datasets import resolve_dataset
    folder = tmp_path / "mixed"
    shutil.copytree(small_coco, str(folder))
    victims = sorted((folder / "images").iterdir())[:2]
    for path in victims:
        path.unlink()
    with pytest.raises(ValueError, match="2 of the .* images .* are not in") as exc:
        resolve_dataset("tiny_coco_train", tiny_coco=str(folder))
    assert "annotation file" in str(exc.value) or "instances_" in str(exc.value)


@pytest.mark.parametrize("opt, phrase", [
    ("quantization.weight={method: lsq, bits: 0}", "bit width must be a whole number >= 1"),
    ("quantization.weight={method: lsqq, bits: 2}", "Did you mean 'lsq'?"),
    ("quantization.activation={method: lsq, bits: 2, foo: 1}", "unknown option 'foo'"),
    ("quantization.overrides={fc: {weights: null}}", "Did you mean 'weight'?"),
])
def test_classifier_quantizer_specs_are_checked_on_load(run_entry, tiny_folder, tmp_path, opt,
                                                         phrase):
    out = tmp_path / "run"
    r = run_entry("scripts/train_classifier.py", "--config",
                  "configs/classification/smoke_resnet18_fp.yaml", "--data", str(tiny_folder),
                  "--output", str(out), "--opts", opt)
    assert_one_line_error(r, "config quantization:", phrase)
    assert not out.exists()
