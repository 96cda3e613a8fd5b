"""Shared helpers for the static checks of the images, the Makefile, the shell scripts and the pins.

These tests need no Docker engine, no GPU and no network: they parse files, run `make -n`,
shellcheck, and small scripts against fakes (a fake `docker`, a fake `python`) in temporary folders.
"""

import importlib.util
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "static", "fixtures")
FLAVORS = ("legacy", "current", "cpu")

# The pins of the project (issue 3 and docs/forks.md, "Pinned commits").
PINS = {
    "forks/detectron2": "073a8ad0f22178d1452df3c449f0e45b1ff50f8a",
    "forks/AdelaiDet": "5acafcc38a03b097cafd2b5a78bf9607c3c3cfaa",
}
APEX = {
    "legacy": "d06404fecab73f152c6cbb89ac2c2e9b7fc24124",
    "current": "4bdecd06b3c4b2c0a8fb6603829a8f9f05a42b49",
}


def load_script(relpath):
    """Import a file of the project (a script, not a package module) by path."""
    path = os.path.join(ROOT, relpath)
    name = "static_" + os.path.splitext(os.path.basename(relpath))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _makefile_variables():
    """Names of the Makefile's user variables (``NAME ?= ...``)."""
    with open(os.path.join(ROOT, "Makefile")) as handle:
        return set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\?=", handle.read(), re.M))


def make(*args, env=None, cwd=ROOT):
    """Run make in the project root; return the CompletedProcess (text, stdout and stderr apart).

    The caller's make variables are dropped from the environment: when the suite itself runs
    under make (``make test RUNNER=local``), make exports its command-line variables, and a
    nested make would inherit them (and, with RUNNER=local, run the suite again)."""
    return subprocess.run(["make", "--no-print-directory"] + list(args), cwd=cwd,
                          env=make_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)


def make_env(env=None):
    """The environment for a nested make: the caller's, without its make variables (see make),
    its NCCL/Gloo settings or CUDA_VISIBLE_DEVICES (they change the commands), plus ``env``."""
    drop = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "PYTHON", "MQ_VENV", "CUDA_VISIBLE_DEVICES"} \
        | _makefile_variables()
    full_env = {k: v for k, v in os.environ.items()
                if k not in drop and not k.startswith(("NCCL_", "GLOO_", "TORCH_NCCL_"))}
    full_env.update(env or {})
    return full_env


# make's own line after a recipe command failed (``make[1]`` from a nested make): not the error
MAKE_TRAILER = re.compile(r"make(\[\d+\])?: \*\*\* \[.*\] Error \d+$")


def write_executable(path, text):
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o755)
    return str(path)




# The image holds the project without its .git (and CI runners may lack tools): skip, saying why.
requires_checkout = pytest.mark.skipif(
    not os.path.exists(os.path.join(ROOT, ".git")),
    reason="needs the project's git checkout (.gitmodules, gitlinks): run tests/static on the host")
requires_git = pytest.mark.skipif(shutil.which("git") is None,
                                  reason="needs git: apt-get install git")
requires_make = pytest.mark.skipif(shutil.which("make") is None,
                                   reason="needs GNU make: apt-get install make")
