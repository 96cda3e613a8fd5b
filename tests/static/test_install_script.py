"""docker/install.sh, the one install procedure of the image and a native setup, driven with a fake
interpreter that records what pip was asked to install (nothing is installed)."""
import os
import subprocess

import pytest
from static_helpers import ROOT, write_executable

SCRIPT = os.path.join(ROOT, "docker", "install.sh")


@pytest.fixture
def fake_python(tmp_path):
    """An interpreter stand-in: `-c` prints a Python version ($FAKE_PY, default 3.10); `-m pip
    install -r FILE` logs the FILE's pins, any other pip call logs its arguments, with PIP_CERT."""
    log = tmp_path / "pip.log"
    path = write_executable(tmp_path / "python", """#!/usr/bin/env bash
if [ "$1" = -c ]; then echo "${FAKE_PY:-3.10}"; exit 0; fi
if [ "$1 $2" = "-m pip" ]; then
    shift 2
    if [ "$1" = install ] && [ "$2" = -r ]; then
        echo "pip install -r: $(grep -vE '^(#|--|$)' "$3" | tr '\\n' ' ')cert=${PIP_CERT:-}" >>"%s"
    else
        echo "pip $*" >>"%s"
    fi
    exit 0
fi
echo "python $*" >>"%s"
""" % (log, log, log))
    return path, log


def run(fake_python, *steps, **env):
    python, _ = fake_python
    full = dict(os.environ, PYTHON=str(python))
    for key in ("MQ_SITE_CA", "MQ_FLAVOR", "MQ_TORCH_FROM", "MQ_LOCK", "MQ_FORK_PATCHES",
                "MQ_APEX_COMMIT", "MQ_FORKS_DIR"):  # the image sets some of them
        full.pop(key, None)
    full.update(env)
    return subprocess.run([SCRIPT] + list(steps), cwd=ROOT, env=full, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)


def test_deps_installs_the_build_tools_first_then_the_lock_then_the_dev_tools(fake_python):
    proc = run(fake_python, "deps", MQ_FLAVOR="cpu")
    assert proc.returncode == 0, proc.stderr
    lines = fake_python[1].read_text().splitlines()
    assert lines[0].startswith("pip install -r: pip==") and "setuptools==" in lines[0]
    assert "wheel==" in lines[0] and "torch" not in lines[0]
    assert "torch==2.7.1+cpu" in lines[1]
    assert "ruff==" in lines[2]
    assert lines[3] == "pip check"


def test_torch_from_pypi_takes_the_cpu_pypi_lock(fake_python):
    proc = run(fake_python, "deps", MQ_FLAVOR="cpu", MQ_TORCH_FROM="pypi")
    assert proc.returncode == 0, proc.stderr
    lines = fake_python[1].read_text().splitlines()
    assert "torch==2.14.1 " in lines[1] and "+cpu" not in lines[1]


def test_torch_from_pypi_is_refused_for_legacy(fake_python):
    proc = run(fake_python, "deps", MQ_FLAVOR="legacy", MQ_TORCH_FROM="pypi")
    assert proc.returncode == 1
    assert "torch 1.10.2+cu113 exists only on the PyTorch index" in proc.stderr
    assert not fake_python[1].exists()


def test_another_python_than_the_locks_is_said(fake_python):
    proc = run(fake_python, "deps", MQ_FLAVOR="cpu", FAKE_PY="3.11")
    assert proc.returncode == 0, proc.stderr
    assert "resolved for Python 3.10, this is Python 3.11" in proc.stdout


def test_site_ca_reaches_pip_for_the_run(fake_python, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    proc = run(fake_python, "deps", MQ_FLAVOR="cpu", MQ_SITE_CA=str(ca))
    assert proc.returncode == 0, proc.stderr
    assert all(line.endswith("cert=%s" % ca) for line in
               fake_python[1].read_text().splitlines() if line.startswith("pip install -r"))


def test_missing_site_ca_is_an_error(fake_python, tmp_path):
    proc = run(fake_python, "deps", MQ_SITE_CA=str(tmp_path / "nope.pem"))
    assert proc.returncode == 1 and "nope.pem is not a readable CA bundle" in proc.stderr


def test_unknown_step_and_flavour_are_refused_before_anything_runs(fake_python):
    proc = run(fake_python, "deps", "depz")
    assert proc.returncode == 1 and "unknown step 'depz'" in proc.stderr
    proc = run(fake_python, "deps", MQ_FLAVOR="gpu")
    assert proc.returncode == 1 and "MQ_FLAVOR=gpu is not a flavour" in proc.stderr
    assert not fake_python[1].exists()


def test_forks_step_needs_the_submodules(fake_python, tmp_path):
    proc = run(fake_python, "forks", MQ_FORKS_DIR=str(tmp_path / "forks"))
    assert proc.returncode == 1
    assert "is empty: check the submodules out (git submodule update --init)" in proc.stderr


def test_project_step_is_editable_without_dependencies(fake_python):
    proc = run(fake_python, "project", MQ_FLAVOR="cpu")
    assert proc.returncode == 0, proc.stderr
    assert fake_python[1].read_text().splitlines() == [
        "pip install --no-deps --no-build-isolation -e ."]


def test_legacy_project_step_restores_the_locks_setuptools(fake_python):
    proc = run(fake_python, "project", MQ_FLAVOR="legacy")
    assert proc.returncode == 0, proc.stderr
    lines = fake_python[1].read_text().splitlines()
    assert lines[0].startswith("pip install -r: setuptools==75")
    assert lines[1] == "pip install --no-deps --no-build-isolation -e ."
    assert lines[2].startswith("pip install -r: setuptools==59.5.0")


def test_no_arguments_prints_the_usage(fake_python):
    proc = run(fake_python)
    assert proc.returncode == 2 and "Usage: docker/install.sh STEP..." in proc.stderr


@pytest.mark.parametrize("flavor", ["legacy", "current"])
def test_apex_none_skips_apex_on_a_gpu_flavour_without_fetching_it(fake_python, flavor, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_executable(bin_dir / "git", "#!/bin/sh\necho git was called >&2\nexit 1\n")
    proc = run(fake_python, "apex", MQ_FLAVOR=flavor, MQ_APEX_COMMIT="none",
               PATH="%s:%s" % (bin_dir, os.environ["PATH"]))
    assert proc.returncode == 0, proc.stderr
    assert "git was called" not in proc.stderr
    assert "apex: skipped (MQ_APEX_COMMIT=none" in proc.stdout
    _, log = fake_python
    assert not log.exists()
