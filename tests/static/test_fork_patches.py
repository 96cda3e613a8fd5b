"""docker/patches: the patch applier on a throwaway fork; the real patches on the pinned forks."""

import glob
import os
import shutil
import subprocess

import pytest
from static_helpers import ROOT

PATCH = ("Demo.\n\ndiff --git a/k.cu b/k.cu\n--- a/k.cu\n+++ b/k.cu\n"
         "@@ -1,2 +1,2 @@\n-#include <THC/THC.h>\n+#include <ATen/ATen.h>\n int x;\n")


@pytest.fixture
def applier(tmp_path):
    """A copy of docker/apply_patches.sh with one demo patch, and a forks/demo to patch."""
    if shutil.which("patch") is None:
        pytest.skip("needs the patch utility: apt-get install -y patch")
    docker = tmp_path / "docker"
    (docker / "patches" / "demo").mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "docker", "apply_patches.sh"), str(docker))
    (docker / "patches" / "demo" / "0001-demo.patch").write_text(PATCH)
    (tmp_path / "forks" / "demo").mkdir(parents=True)
    (tmp_path / "forks" / "demo" / "k.cu").write_text("#include <THC/THC.h>\nint x;\n")
    return tmp_path


def _apply(root, mode):
    return subprocess.run([str(root / "docker" / "apply_patches.sh"), mode, "forks"],
                          cwd=str(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)


def test_apply_patches_all_patches_the_fork(applier):
    proc = _apply(applier, "all")
    assert proc.returncode == 0, proc.stderr
    assert (applier / "forks" / "demo" / "k.cu").read_text().startswith("#include <ATen/")


def test_apply_patches_is_idempotent(applier):
    _apply(applier, "all")
    again = _apply(applier, "all")
    assert again.returncode == 0 and "already applied" in again.stdout
    patched = (applier / "forks" / "demo" / "k.cu").read_text()
    assert patched == "#include <ATen/ATen.h>\nint x;\n"


def test_apply_patches_none_leaves_the_fork_as_pinned(applier):
    assert _apply(applier, "none").returncode == 0
    assert "THC" in (applier / "forks" / "demo" / "k.cu").read_text()


def test_apply_patches_refuses_a_fork_it_does_not_fit(applier):
    (applier / "forks" / "demo" / "k.cu").write_text("something else\n")
    proc = _apply(applier, "all")
    assert proc.returncode == 1 and "demo/0001-demo.patch does not apply" in proc.stderr


def test_apply_patches_rejects_an_unknown_mode(applier):
    proc = _apply(applier, "some")
    assert proc.returncode == 2 and "all|none|auto" in proc.stderr


def _checked_out(fork):
    return os.path.exists(os.path.join(ROOT, "forks", fork, ".git"))


@pytest.mark.fork_sources
@pytest.mark.parametrize(
    "patch", sorted(glob.glob(os.path.join(ROOT, "docker", "patches", "*", "*.patch"))),
    ids=lambda p: "/".join(p.split(os.sep)[-2:]))
def test_fork_patch_applies_to_the_pinned_fork(patch):
    fork = os.path.basename(os.path.dirname(patch))
    if not _checked_out(fork):
        pytest.skip("needs the pinned forks checked out: git submodule update --init --recursive")
    cwd = os.path.join(ROOT, "forks", fork)
    forward = subprocess.run(["git", "apply", "--check", patch], cwd=cwd, stderr=subprocess.PIPE,
                             universal_newlines=True)
    backward = subprocess.run(["git", "apply", "--reverse", "--check", patch], cwd=cwd,
                              stderr=subprocess.PIPE, universal_newlines=True)
    assert forward.returncode == 0 or backward.returncode == 0, forward.stderr
