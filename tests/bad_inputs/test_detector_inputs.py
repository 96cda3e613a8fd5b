"""Bad input to the detector entry point with the pinned forks: evaluation without the trained
detector, policy files with typos, checkpoints a run would write over. Marked ``forks``."""
import json

import pytest
import torch
import torchvision
from bad_input_helpers import assert_one_line_error, snapshot

pytestmark = pytest.mark.forks

FP = "configs/detection/smoke/fcos_r18_fp.yaml"
LOW = "configs/detection/smoke/fcos_r18_dorefa_w2a2_double.yaml"


@pytest.fixture
def backbone_file(tmp_path):
    """A ResNet-18 backbone in detectron2 names: what a config's MODEL.WEIGHTS starts from."""
    from model_quantization.export import export_checkpoint
    src = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), str(src))
    out = tmp_path / "backbone_d2.pth"
    export_checkpoint(str(src), str(out), "resnet18")
    return out


def _det(run_entry, small_coco, out, *args):
    return run_entry("scripts/train_det.py", "--tiny-coco", small_coco, *args,
                     "OUTPUT_DIR", str(out))


def test_eval_with_no_weights_is_refused_and_writes_no_result(run_entry, small_coco, tmp_path):
    out = tmp_path / "eval"
    r = _det(run_entry, small_coco, out, "--config-file", FP, "--eval-only", "MODEL.WEIGHTS", "")
    assert_one_line_error(r, "MODEL.WEIGHTS empty", "randomly initialized")
    assert not (out / "eval_metrics.json").exists()


def test_eval_of_a_backbone_only_file_is_refused(run_entry, small_coco, tmp_path, backbone_file):
    out = tmp_path / "eval"
    r = _det(run_entry, small_coco, out, "--config-file", FP, "--eval-only", "MODEL.WEIGHTS",
             str(backbone_file))
    assert_one_line_error(r, "backbone_d2.pth", "lacks", "not a trained checkpoint")
    assert not (out / "eval_metrics.json").exists()


@pytest.mark.parametrize("text, phrase", [
    ("on init:\n  by_index: 9\n  enable: Flase\n", "'Flase' is not a boolean"),
    ("on iinit:\n  by_index: 9\n  enable: False\n", "did you mean 'on init:'"),
    ("on init:\n  by_index: 9\n  bit: 40\n", "bit: '40' is not a whole number from 1 to 16"),
    ("on init:\n  by_index: 9\n  level_num: 1\n", "level_num: '1' is not a whole number"),
])
def test_policy_typos_in_the_real_detector_stop_the_run(run_entry, small_coco, tmp_path, text,
                                                        phrase):
    policy = tmp_path / "policy.txt"
    policy.write_text(text)
    out = tmp_path / "run"
    r = _det(run_entry, small_coco, out, "--config-file", LOW, "--eval-only",
             "MODEL.QUANTIZATION.policy", str(policy), "MODEL.WEIGHTS", "x.pth")
    assert_one_line_error(r, "policy.txt:", phrase)
    assert not (out / "eval_metrics.json").exists()


def test_policy_boolean_words_are_read_as_written(tmp_path):
    """``enable: 0`` / ``no`` / ``FALSE`` mean False (they used to switch quantization on)."""
    from model_quantization.compat.policy_apply import coerce_value
    from model_quantization.compat.policy_file import parse_policy_text
    for word, expected in (("0", False), ("no", False), ("FALSE", False), ("True", True),
                           ("yes", True)):
        policies = parse_policy_text("on init:\n by_index: 1\n enable: {}\n".format(word))
        assert coerce_value(True, policies[1]["enable"], "enable") is expected, word


def test_training_over_its_own_starting_checkpoint_is_refused(run_entry, small_coco, tmp_path,
                                                              backbone_file):
    out = tmp_path / "run"
    out.mkdir()
    start = out / "model_final.pth"
    start.write_bytes(backbone_file.read_bytes())
    before = snapshot(out)
    r = _det(run_entry, small_coco, out, "--config-file", FP, "--overwrite", "MODEL.WEIGHTS",
             str(start), "SOLVER.MAX_ITER", "1")
    assert_one_line_error(r, "MODEL.WEIGHTS", "lies in OUTPUT_DIR", "Copy it elsewhere")
    assert snapshot(out) == before


def test_missing_policy_file_is_one_line(run_entry, small_coco, tmp_path):
    r = _det(run_entry, small_coco, tmp_path / "run", "--config-file", LOW, "--eval-only",
             "MODEL.QUANTIZATION.policy", "configs/policies/nope.txt", "MODEL.WEIGHTS", "x.pth")
    assert_one_line_error(r, "nope.txt", "does not exist")


def test_unknown_detector_config_key_is_one_line(run_entry, small_coco, tmp_path):
    r = _det(run_entry, small_coco, tmp_path / "run", "--config-file", FP, "--eval-only",
             "SOLVER.BASE_LRR", "0.1")
    assert_one_line_error(r, "SOLVER.BASE_LRR", "Did you mean")


def test_failed_detector_run_is_marked_failed(run_entry, small_coco, tmp_path, backbone_file):
    """A run that stops with an error leaves run_record/extra.json saying so."""
    out = tmp_path / "run"
    r = _det(run_entry, small_coco, out, "--config-file", FP, "MODEL.WEIGHTS",
             str(backbone_file), "SOLVER.MAX_ITER", "2", "SOLVER.BASE_LR", "1e30",
             "SOLVER.WARMUP_ITERS", "0")
    assert r.rc != 0, r
    extra = json.loads((out / "run_record" / "extra.json").read_text())
    assert extra["status"] == "failed", extra
    assert extra["error"]
