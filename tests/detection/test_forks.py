"""With the pinned forks: every config loads; a few FCOS iterations train on a small COCO folder
(the built-in set of shapes)."""
import json
import os
import subprocess
import sys

import pytest

from model_quantization.detection.experiments import load_experiments, repo_root

pytestmark = pytest.mark.forks
REASON = ("needs the pinned forks: run inside the image (make test) or after make install-forks")
ROOT = repo_root()
CONFIGS = sorted({r["config"] for r in load_experiments()} | {
    "configs/detection/smoke/fcos_r18_fp.yaml",
    "configs/detection/smoke/fcos_r18_dorefa_w2a2_double.yaml"})


@pytest.fixture(scope="module")
def trainer():
    pytest.importorskip("detectron2", reason=REASON)
    pytest.importorskip("adet", reason=REASON)
    from model_quantization.detection import trainer
    return trainer


@pytest.mark.parametrize("config", CONFIGS)
def test_merge_config_knows_every_key(trainer, config):
    cfg = trainer.merge_config(os.path.join(ROOT, config))
    assert cfg.OUTPUT_DIR.startswith("output/")


def test_merge_config_unknown_key_names_file_and_closest_key(trainer, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text('_BASE_: "{}"\nMODEL:\n  FCOS:\n    NROM: "BN"\n'.format(
        os.path.join(ROOT, "configs/detection/fcos/R18-fp.yaml")))
    match = r'bad.yaml: config key "MODEL.FCOS.NROM" .*Did you mean .MODEL.FCOS.NORM.'
    with pytest.raises(KeyError, match=match):
        trainer.merge_config(str(bad))


def _small_coco(source, folder, count=4):
    """A COCO folder with the first ``count`` val images of ``source`` (linked, not copied)."""
    data = json.load(open(os.path.join(source, "annotations", "instances_val.json")))
    images = data["images"][:count]
    ids = {im["id"] for im in images}
    data = dict(data, images=images,
                annotations=[a for a in data["annotations"] if a["image_id"] in ids])
    (folder / "annotations").mkdir(parents=True)
    (folder / "images").mkdir()
    for im in images:
        os.symlink(os.path.join(source, "images", im["file_name"]),
                   str(folder / "images" / im["file_name"]))
    (folder / "annotations" / "instances_val.json").write_text(json.dumps(data))
    return str(folder)


@pytest.mark.slow
def test_train_det_fcos_fp_few_iterations_on_tiny_coco(trainer, small_coco, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "train_det.py"), "--config-file",
           os.path.join(ROOT, "configs/detection/smoke/fcos_r18_fp.yaml"), "--num-gpus", "0",
           "--tiny-coco", _small_coco(small_coco, tmp_path / "coco"), "MODEL.WEIGHTS", "",
           "SOLVER.MAX_ITER", "2", "OUTPUT_DIR", str(out), "INPUT.MIN_SIZE_TRAIN", "(128,)",
           "INPUT.MIN_SIZE_TEST", "128", "INPUT.MAX_SIZE_TEST", "160"]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout.decode()[-3000:]
    assert (out / "model_final.pth").is_file()
    data = json.load(open(str(out / "eval_metrics.json")))
    assert "AP" in data["results"]["tiny_coco_val"]["bbox"]
    assert (out / "run_record" / "environment.json").is_file()
    again = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=300)
    assert again.returncode != 0 and b"already holds a run" in again.stdout


@pytest.mark.slow
def test_train_det_resume_equals_uninterrupted_run(trainer, small_coco, tmp_path):
    import time

    import torch
    coco = _small_coco(small_coco, tmp_path / "coco")

    def command(out, *extra):
        return [sys.executable, os.path.join(ROOT, "scripts", "train_det.py"), "--config-file",
                os.path.join(ROOT, "configs/detection/smoke/fcos_r18_dorefa_w2a2_double.yaml"),
                "--num-gpus", "0", "--tiny-coco", coco] + list(extra) + [
                "MODEL.WEIGHTS", "", "MODEL.EXTRA_WEIGHTS", "", "SOLVER.MAX_ITER", "4",
                "SOLVER.CHECKPOINT_PERIOD", "2", "OUTPUT_DIR", str(out),
                "INPUT.MIN_SIZE_TRAIN", "(128,)", "DATASETS.TEST", "()"]

    def train(out, *extra):
        proc = subprocess.run(command(out, *extra), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=900)
        assert proc.returncode == 0, proc.stdout.decode()[-3000:]

    train(tmp_path / "straight")
    # the same run, killed once the checkpoint after iteration 2 of 4 is written, then resumed
    interrupted = tmp_path / "resumed"
    proc = subprocess.Popen(command(interrupted), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    marker = interrupted / "last_checkpoint"
    deadline = time.time() + 600
    while proc.poll() is None and time.time() < deadline:
        if marker.is_file() and marker.read_text().strip() == "model_0000001.pth":
            proc.kill()
            break
        time.sleep(0.05)
    proc.wait()
    assert not (interrupted / "model_final.pth").exists(), "run finished before the kill"
    train(interrupted, "--resume")
    a = torch.load(str(tmp_path / "straight" / "model_final.pth"), weights_only=False)
    b = torch.load(str(interrupted / "model_final.pth"), weights_only=False)
    model_a, model_b = a["model"], b["model"]
    assert any(".quant_weight." in k for k in model_a), "2-bit model without quantizer state"
    assert sorted(model_a) == sorted(model_b)
    # Bit-exact: the same batches, generator states, optimizer and scheduler state, and the same
    # float path through the scripted focal loss in both processes.
    differ = [k for k in model_a if not torch.equal(model_a[k], model_b[k])]
    assert not differ, "{} of {} tensors differ, first {}".format(len(differ), len(model_a),
                                                                differ[:3])
    opt_a, opt_b = (c["trainer"]["_trainer"]["optimizer"] for c in (a, b))
    assert [g["lr"] for g in opt_a["param_groups"]] == [g["lr"] for g in opt_b["param_groups"]]
    assert sorted(opt_a["state"]) == sorted(opt_b["state"])
    momentum = [(opt_a["state"][i]["momentum_buffer"], opt_b["state"][i]["momentum_buffer"])
                for i in opt_a["state"]]
    assert all(torch.equal(x, y) for x, y in momentum)
    assert a["trainer"]["hooks"] == b["trainer"]["hooks"]  # LR scheduler state
