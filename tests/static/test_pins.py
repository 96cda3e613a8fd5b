"""The fork pins agree everywhere: .gitmodules, the gitlinks, docker/ and the docs."""

import glob
import os
import re
import subprocess

import pytest
from static_helpers import APEX, PINS, ROOT, requires_checkout

pytestmark = requires_checkout

HEX = re.compile(r"\b[0-9a-f]{7,40}\b")


def _gitmodules():
    proc = subprocess.run(["git", "config", "-f", ".gitmodules", "--get-regexp", r"^submodule\."],
                          cwd=ROOT, stdout=subprocess.PIPE, universal_newlines=True, check=True)
    entries = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        name, _, field = key[len("submodule."):].rpartition(".")
        entries.setdefault(name, {})[field] = value
    return entries


def _gitlinks():
    proc = subprocess.run(["git", "ls-files", "-s", "--", "forks"], cwd=ROOT,
                          stdout=subprocess.PIPE, universal_newlines=True, check=True)
    links = {}
    for line in proc.stdout.splitlines():
        meta, _, path = line.partition("\t")
        mode, sha = meta.split()[:2]
        if mode == "160000":
            links[path] = sha
    return links


def test_pins_gitmodules_record_url_branch_and_path():
    entries = {e["path"]: e for e in _gitmodules().values()}
    assert set(entries) == set(PINS)
    for path, entry in entries.items():
        fork = os.path.basename(path)
        assert entry["url"] == "https://github.com/blueardour/%s.git" % fork
        assert entry["branch"] == "quantization"


def test_pins_gitlinks_are_the_pinned_commits():
    assert _gitlinks() == PINS


def test_pins_dockerfile_build_arg_defaults_match_the_gitlinks():
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    links = _gitlinks()
    assert "ARG DETECTRON2_COMMIT=%s" % links["forks/detectron2"] in text
    assert "ARG ADELAIDET_COMMIT=%s" % links["forks/AdelaiDet"] in text


@pytest.mark.parametrize("fork", ["AdelaiDet", "detectron2"])
def test_pins_patch_headers_name_the_gitlink_commit(fork):
    patches = glob.glob(os.path.join(ROOT, "docker", "patches", fork, "*.patch"))
    assert patches
    for patch in patches:
        head = open(patch).read().split("diff --git")[0]
        assert _gitlinks()["forks/%s" % fork] in head, patch


def _fork_lines(paths):
    for path in paths:
        for number, line in enumerate(open(path, errors="replace"), 1):
            lowered = line.lower()
            if "detectron2" in lowered or "adelaidet" in lowered or "apex" in lowered:
                yield os.path.relpath(path, ROOT), number, line


def test_pins_every_fork_commit_mentioned_in_docs_and_docker_is_a_pin():
    files = [os.path.join(ROOT, f) for f in ("README.md", "Dockerfile", "Makefile")]
    files += glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)
    files += glob.glob(os.path.join(ROOT, "docker", "**", "*"), recursive=True)
    files = [f for f in files if os.path.isfile(f) and not f.endswith(".lock")]
    known = list(PINS.values()) + list(APEX.values())
    checked = 0
    for path, number, line in _fork_lines(files):
        if path.startswith(os.path.join("docker", "patches")) and not line.startswith("Applies"):
            continue  # diff bodies: blob ids, not commits
        for token in HEX.findall(line):
            if not re.search(r"[a-f]", token) or not re.search(r"\d", token):
                continue
            checked += 1
            assert any(pin.startswith(token) for pin in known), \
                "%s:%d mentions %s, which is no pinned commit" % (path, number, token)
    assert checked >= 2
