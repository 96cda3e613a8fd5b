"""scripts/check_submodules.py against a throwaway superproject with one submodule."""

import os
import subprocess
import sys

import pytest
from static_helpers import ROOT, load_script, requires_checkout, requires_git

pytestmark = requires_git

check = load_script("scripts/check_submodules.py")

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}


def _git(cwd, *args):
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(["git"] + list(args), cwd=str(cwd), env=env, check=True,
                          stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()


@pytest.fixture
def project(tmp_path):
    """A superproject pinning forks/demo at the fork's first commit, checked out there.

    The fork has a second commit (to test 'not at the pinned commit'), and the project carries a
    patch docker/patches/demo/0001.patch changing the fork's kernel.cu.
    """
    fork = tmp_path / "fork"
    fork.mkdir()
    _git(fork, "init", "-q")
    (fork / "kernel.cu").write_text("#include <THC/THC.h>\nint x;\n")
    (fork / "setup.py").write_text("print('setup')\n")
    _git(fork, "add", ".")
    _git(fork, "commit", "-q", "-m", "one")
    pinned = _git(fork, "rev-parse", "HEAD")
    (fork / "setup.py").write_text("print('two')\n")
    _git(fork, "commit", "-q", "-am", "two")
    (tmp_path / "tip").write_text(_git(fork, "rev-parse", "HEAD"))

    root = tmp_path / "project"
    root.mkdir()
    _git(root, "init", "-q")
    (root / ".gitmodules").write_text(
        '[submodule "forks/demo"]\n\tpath = forks/demo\n\turl = %s\n'
        "\tbranch = main\n" % fork)
    _git(root, "update-index", "--add", "--cacheinfo", "160000,%s,forks/demo" % pinned)
    _git(root, "clone", "-q", str(fork), "forks/demo")
    _git(root / "forks" / "demo", "checkout", "-q", pinned)
    patches = root / "docker" / "patches" / "demo"
    patches.mkdir(parents=True)
    (patches / "0001.patch").write_text(
        "Demo patch.\n\n"
        "diff --git a/kernel.cu b/kernel.cu\n--- a/kernel.cu\n+++ b/kernel.cu\n"
        "@@ -1,2 +1,2 @@\n-#include <THC/THC.h>\n+#include <ATen/ATen.h>\n int x;\n")
    return root, pinned


def _problems(root):
    sub = check.read_submodules(str(root))[0]
    return check.check_submodule(str(root), sub)


def test_check_submodules_reads_gitmodules_and_gitlink(project):
    root, pinned = project
    (sub,) = check.read_submodules(str(root))
    assert (sub.path, sub.branch, sub.pinned) == ("forks/demo", "main", pinned)


def test_check_submodules_accepts_the_pinned_checkout(project):
    root, _ = project
    assert _problems(root) == []


def test_check_submodules_reports_a_missing_checkout(project):
    root, _ = project
    subprocess.run(["rm", "-rf", str(root / "forks" / "demo")], check=True)
    (root / "forks" / "demo").mkdir()
    (problem,) = _problems(root)
    assert "missing or empty" in problem and "git submodule update --init --recursive" in problem


def test_check_submodules_reports_another_commit(project, tmp_path):
    root, pinned = project
    tip = (tmp_path / "tip").read_text()
    _git(root / "forks" / "demo", "checkout", "-q", tip)
    (problem,) = _problems(root)
    assert "is at %s" % tip[:12] in problem and pinned[:12] in problem
    assert "git submodule update --init --recursive" in problem


def test_check_submodules_reports_local_edits(project):
    root, _ = project
    (root / "forks" / "demo" / "setup.py").write_text("print('edited')\n")
    (problem,) = _problems(root)
    assert "local changes (setup.py)" in problem and "checkout -- ." in problem


def test_check_submodules_accepts_exactly_our_patches(project):
    root, _ = project
    subprocess.run(["git", "apply", str(root / "docker" / "patches" / "demo" / "0001.patch")],
                   cwd=str(root / "forks" / "demo"), check=True)
    assert _problems(root) == []


def test_check_submodules_rejects_edits_on_top_of_our_patches(project):
    root, _ = project
    kernel = root / "forks" / "demo" / "kernel.cu"
    kernel.write_text("#include <ATen/ATen.h>\nint x;\nint y;\n")
    (problem,) = _problems(root)
    assert "differ from docker/patches/demo" in problem


def test_check_submodules_cli_exits_1_naming_the_fix(project):
    root, _ = project
    (root / "forks" / "demo" / "setup.py").write_text("print('edited')\n")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "check_submodules.py"),
                           "--root", str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("check_submodules: forks/demo has local changes")


def test_check_submodules_wiring_failure_names_make_wire(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'alias package is missing'\nexit 1\n")
    fake.chmod(0o755)
    (problem,) = check.check_wiring(str(tmp_path), "forks/detectron2", python=str(fake))
    assert "alias package is missing" in problem and problem.endswith("run: make wire")


@requires_checkout
def test_check_submodules_project_pins_read_back():
    subs = {s.path: s.pinned for s in check.read_submodules(ROOT)}
    assert set(subs) == {"forks/detectron2", "forks/AdelaiDet"}
