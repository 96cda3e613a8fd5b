"""The classification entry points: --help works, and they call into the package."""
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = ("train_classifier.py", "backbone_full.py", "make_cls_crops.py")


def _load(name):
    spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(ROOT, "scripts", name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_help(name):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", name), "--help"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--output" in out.stdout


def test_backbone_full_needs_weights_or_train(capsys):
    with pytest.raises(SystemExit):
        _load("backbone_full.py").main(["--output", "x"])
    assert "exactly one of --weights" in capsys.readouterr().err


def test_train_classifier_prints_top1_top5(tiny_folder, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("epochs: 1\nbatch_size: 8\nworkers: 0\nprogress: false\ndevice: cpu\n"
                   "data: {image_size: 16, val_resize: 16}\n")
    code = _load("train_classifier.py").main(["--config", str(cfg), "--data", str(tiny_folder),
                                              "--output", str(tmp_path / "run")])
    assert code == 0
    assert "top-1" in capsys.readouterr().out.splitlines()[-1]


def test_backbone_full_imports_and_evaluates(tiny_folder, tmp_path, capsys):
    import shutil

    import torch
    import torchvision

    from model_quantization.checkpoint import sha256sum
    raw = tmp_path / "raw.pth"
    torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), raw)
    named = tmp_path / "resnet18-{}.pth".format(sha256sum(raw)[:8])
    shutil.move(str(raw), str(named))
    code = _load("backbone_full.py").main([
        "--weights", str(named), "--output", str(tmp_path / "full"), "--data", str(tiny_folder),
        "--opts", "data.image_size=16", "data.val_resize=16", "progress=false", "workers=0",
        "device=cpu"])
    assert code == 0
    assert (tmp_path / "full" / "model_best.pth").is_file()
    assert capsys.readouterr().out.splitlines()[-1].startswith("top-1 ")


@pytest.mark.slow
def test_train_classifier_under_torchrun_two_cpu_processes(tiny_folder, tmp_path, torchrun):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("epochs: 1\nbatch_size: 8\nworkers: 0\nprogress: false\ndevice: cpu\n"
                   "data: {image_size: 16, val_resize: 16}\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(torchrun(2) + [os.path.join(ROOT, "scripts", "train_classifier.py"),
                                        "--config", str(cfg), "--data", str(tiny_folder),
                                        "--output", str(tmp_path / "run")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stdout[-3000:]
    printed = [line for line in out.stdout.splitlines() if line.startswith("top-1 ")]
    assert len(printed) == 1  # rank 0 prints the result once
    assert "2 process(es)" in (tmp_path / "run" / "train.log").read_text()
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 1
