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
