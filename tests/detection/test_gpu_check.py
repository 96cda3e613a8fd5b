"""scripts/gpu_check.py (make gpu-check): its plan, its answer on a machine without a GPU, and a
tiny CPU rehearsal of its training step (the forks needed for that one)."""
import json
import os
import subprocess
import sys

import pytest
import torch

from model_quantization.detection.experiments import repo_root

ROOT = repo_root()
SCRIPT = os.path.join(ROOT, "scripts", "gpu_check.py")


def _check(*args, timeout=120):
    return subprocess.run([sys.executable, SCRIPT] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout)


def test_gpu_check_plan_builds_for_hopper_tests_and_trains_six_detectors(tmp_path):
    proc = _check("--dry-run", "--wheels", str(tmp_path / "wheels"), "--output", str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    wheels = "--no-index --no-deps --find-links {} -r {}".format(
        tmp_path / "wheels", os.path.join(ROOT, "docker", "gpu-check-requirements.txt"))
    assert wheels in out
    build = [line for line in out.splitlines() if "install.sh forks project" in line]
    assert len(build) == 1
    for setting in ("FORCE_CUDA=1", "TORCH_CUDA_ARCH_LIST=9.0", "MQ_FORK_PATCHES=all",
                    "MQ_FLAVOR=current"):
        assert setting in build[0]
    assert "MQ_REQUIRE_FORKS=1" in out and "-m pytest -m gpu" in out
    train = [line for line in out.splitlines() if "scripts/train_det.py" in line]
    assert len(train) == 6
    assert sum("SOLVER.AMP.ENABLED True" in line for line in train) == 3
    assert all("MODEL.DEVICE cuda" in line and "--num-gpus 1" in line for line in train)
    assert sum("['dorefa', 'lsq']" in line for line in train) == 2
    fp_final = os.path.join(str(tmp_path), "det", "fp", "model_final.pth")
    assert sum("MODEL.WEIGHTS " + fp_final in line for line in train) == 4  # the 2-bit runs


def test_gpu_check_plan_arch_and_iterations_are_settings(tmp_path):
    proc = _check("--dry-run", "--arch", "8.0", "--iters", "50", "--output", str(tmp_path))
    assert "TORCH_CUDA_ARCH_LIST=8.0" in proc.stdout and "SOLVER.MAX_ITER 50 " in proc.stdout
    assert "--no-index" not in proc.stdout  # no --wheels, no wheels step


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the check would run")
def test_gpu_check_without_a_gpu_stops_and_says_so(tmp_path):
    proc = _check("--output", str(tmp_path))
    assert proc.returncode == 3
    assert "no CUDA GPU here" in proc.stdout and "--rehearse" in proc.stdout
    assert not os.path.exists(os.path.join(str(tmp_path), "det"))


@pytest.mark.forks
@pytest.mark.slow
def test_gpu_check_rehearsal_trains_evaluates_and_reports(small_coco, tmp_path):
    pytest.importorskip("adet", reason="needs the pinned forks (make install-forks)")
    data = json.load(open(os.path.join(small_coco, "annotations", "instances_val.json")))
    keep = data["images"][:4]
    ids = {im["id"] for im in keep}
    folder = tmp_path / "coco"
    (folder / "annotations").mkdir(parents=True)
    (folder / "images").mkdir()
    for im in keep:
        os.symlink(os.path.join(small_coco, "images", im["file_name"]),
                   str(folder / "images" / im["file_name"]))
    subset = dict(data, images=keep, annotations=[a for a in data["annotations"]
                                                  if a["image_id"] in ids])
    (folder / "annotations" / "instances_val.json").write_text(json.dumps(subset))
    proc = _check("--rehearse", "--steps", "train", "--iters", "6", "--tiny-coco", str(folder),
                  "--output", str(tmp_path / "out"), timeout=1500)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "CPU REHEARSAL, not GPU figures" in proc.stdout
    table = proc.stdout.split("training speed and box AP")[1]
    for name in ("fp", "dorefa w2a2", "lsq w2a2"):
        row = [line.split() for line in table.splitlines() if line.strip().startswith(name + " ")]
        assert row, table
        assert row[0][-3] == "off" and float(row[0][-2]) > 0  # images/s from metrics.json
    assert "COCO AP, lsq w2a2 AMP off" in proc.stdout
