"""docker/entrypoint.sh: verbs map to the project's scripts, after the wiring check."""

import os
import shutil
import subprocess
import sys

import pytest
from static_helpers import ROOT, write_executable


@pytest.fixture
def image_root(tmp_path):
    """MQ_HOME for the entry point, and a PATH whose python only echoes its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_executable(bin_dir / "python", """#!/bin/sh
if [ "$2" = model_quantization.recipe ]; then  # the verb table: the real one
    PYTHONPATH=%s exec %s "$@"
fi
if [ "$2" = model_quantization.compat.wire ]; then
    [ -z "$WIRING_BROKEN" ] || { echo "wiring: alias missing" >&2; exit 1; }
    exit 0
fi
echo "RAN python $*"
""" % (ROOT, sys.executable))
    return tmp_path, bin_dir


def _entry(image_root, *args, **env):
    home, bin_dir = image_root
    full_env = {"PATH": "%s:%s" % (bin_dir, os.environ["PATH"]), "MQ_HOME": str(home)}
    full_env.update(env)
    entry = os.path.join(ROOT, "docker", "entrypoint.sh")
    return subprocess.run([entry] + list(args), env=full_env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)


@pytest.mark.parametrize("verb,command", [
    ("train-det", "python scripts/train_det.py --config-file c.yaml"),
    ("eval", "python scripts/train_det.py --eval-only --config-file c.yaml"),
    ("train-cls", "python scripts/train_classifier.py --config-file c.yaml"),
    ("backbone-full", "python scripts/backbone_full.py --config-file c.yaml"),
    ("export", "python scripts/export_detectron2.py --config-file c.yaml"),
    ("report", "python scripts/report.py --config-file c.yaml"),
    ("smoke", "python scripts/smoke.py --config-file c.yaml"),
    ("test", "python -m pytest --config-file c.yaml"),
    ("check", "python -m model_quantization.detection.check_install --config-file c.yaml"),
])
def test_entrypoint_verb_runs_its_script(image_root, verb, command):
    proc = _entry(image_root, verb, "--config-file", "c.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "RAN " + command


def test_entrypoint_other_commands_run_as_given(image_root):
    proc = _entry(image_root, "python", "scripts/train_det.py", "--help")
    assert proc.stdout.strip() == "RAN python scripts/train_det.py --help"


def test_entrypoint_stops_when_the_wiring_is_broken(image_root):
    proc = _entry(image_root, "eval", WIRING_BROKEN="1")
    assert proc.returncode == 3
    assert "alias missing" in proc.stderr and "make image" in proc.stderr


def test_entrypoint_shell_still_opens_with_broken_wiring(image_root):
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    proc = _entry(image_root, "shell", "-c", "echo inside", WIRING_BROKEN="1")
    assert proc.returncode == 0 and proc.stdout.strip() == "inside"
    assert "not wired" in proc.stderr


def test_entrypoint_help_lists_the_verbs(image_root):
    out = _entry(image_root, "help").stdout
    for verb in ("train-det", "eval", "train-cls", "backbone-full", "export", "report", "smoke",
                 "test", "shell"):
        assert verb in out
