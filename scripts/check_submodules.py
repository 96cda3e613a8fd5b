"""Check that the pinned forks are checked out as pinned, and (optionally) wired to this library.

For every submodule in .gitmodules: its folder exists and is a checkout of its own, its HEAD is the
commit the superproject pins (the gitlink), and it has no local changes other than this project's
patches (docker/patches/<name>/*.patch, applied by `make install-forks` on torch >= 1.11). With
--wiring, also that the detectron2 fork's ``third_party.quantization`` resolves to
``model_quantization.compat``.

Each problem is one line naming the submodule and the command that fixes it; exit status 1 if any.
Standard library only (runs on the host before anything is installed).
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

__all__ = ["Submodule", "read_submodules", "check_submodule", "check_wiring", "main"]

FIX_CHECKOUT = "git submodule update --init --recursive"


class Submodule(object):
    """One .gitmodules entry with the commit the superproject pins for it."""

    def __init__(self, name, path, url, branch, pinned):
        self.name, self.path, self.url, self.branch, self.pinned = name, path, url, branch, pinned

    def __repr__(self):
        return "Submodule(%r, pinned=%r)" % (self.path, self.pinned)


def _git(args, cwd):
    proc = subprocess.run(["git"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
    return proc.returncode, proc.stdout.strip()


def read_submodules(root):
    """Return the submodules of the repository at ``root`` (from .gitmodules and the gitlinks)."""
    gitmodules = os.path.join(root, ".gitmodules")
    if not os.path.isfile(gitmodules):
        raise FileNotFoundError(
            "%s not found: run from the project root (or pass --root)" % gitmodules)
    code, out = _git(["config", "-f", ".gitmodules", "--get-regexp", r"^submodule\..*"], root)
    if code != 0:
        raise ValueError("cannot parse %s (git config failed)" % gitmodules)
    entries = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        name, _, field = key[len("submodule."):].rpartition(".")
        entries.setdefault(name, {})[field] = value
    code, out = _git(["ls-files", "-s", "--"] + [e.get("path", "") for e in entries.values()], root)
    gitlinks = {}
    for line in out.splitlines():
        meta, _, path = line.partition("\t")
        mode, sha = meta.split()[:2]
        if mode == "160000":
            gitlinks[path] = sha
    subs = []
    for name, entry in sorted(entries.items()):
        path = entry.get("path")
        if path not in gitlinks:
            raise ValueError(
                "submodule %r (path %r) has no gitlink in the index; re-add it with "
                "git update-index --add --cacheinfo 160000,<commit>,%s" % (name, path, path))
        subs.append(Submodule(name, path, entry.get("url"), entry.get("branch"), gitlinks[path]))
    return subs


def _patch_files(patch_dir):
    """Files (relative to the fork root) touched by the patches in ``patch_dir``."""
    files = set()
    for patch in sorted(glob.glob(os.path.join(patch_dir, "*.patch"))):
        with open(patch) as handle:
            for line in handle:
                if line.startswith("+++ b/"):
                    files.add(line[len("+++ b/"):].strip())
    return files


def check_submodule(root, sub, patch_root=None):
    """Return a list of one-line problems for ``sub`` (empty when it is checked out as pinned)."""
    path = os.path.join(root, sub.path)
    if not os.path.isdir(path) or not os.listdir(path):
        return ["%s is missing or empty; run: %s" % (sub.path, FIX_CHECKOUT)]
    code, top = _git(["rev-parse", "--show-toplevel"], path)
    if code != 0 or os.path.realpath(top) != os.path.realpath(path):
        return ["%s is not a git checkout of %s; run: %s" % (sub.path, sub.url, FIX_CHECKOUT)]
    code, head = _git(["rev-parse", "HEAD"], path)
    if head != sub.pinned:
        return ["%s is at %s, but the project pins %s (branch %s); run: %s"
                % (sub.path, head[:12] or "no commit", sub.pinned[:12], sub.branch, FIX_CHECKOUT)]
    code, diff = _git(["diff", "--name-only", "HEAD"], path)
    changed = sorted(line for line in diff.splitlines() if line.strip())
    if not changed:
        return []
    patch_dir = os.path.join(patch_root or os.path.join(root, "docker", "patches"),
                             os.path.basename(sub.path))
    ours = _patch_files(patch_dir)
    extra = [f for f in changed if f not in ours]
    if extra:
        return ["%s has local changes (%s); undo them with: git -C %s checkout -- . "
                "&& make install-forks" % (sub.path, ", ".join(extra), sub.path)]
    if not _matches_patches(path, patch_dir, ours, changed):
        return ["%s has edits in patched files that differ from docker/patches/%s; undo them with: "
                "git -C %s checkout -- . && make install-forks"
                % (sub.path, os.path.basename(sub.path), sub.path)]
    return []


def _matches_patches(fork_path, patch_dir, patched, changed):
    """True if each changed file equals its pinned version with our patches applied."""
    patches = [os.path.abspath(p) for p in sorted(glob.glob(os.path.join(patch_dir, "*.patch")))]
    scratch = tempfile.mkdtemp(prefix="check_submodules_")
    try:
        for rel in patched:
            proc = subprocess.run(["git", "show", "HEAD:%s" % rel], cwd=fork_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if proc.returncode != 0:
                return False
            os.makedirs(os.path.dirname(os.path.join(scratch, rel)) or scratch, exist_ok=True)
            with open(os.path.join(scratch, rel), "wb") as handle:
                handle.write(proc.stdout)
        code, _ = _git(["apply"] + patches, scratch)
        if code != 0:
            return False
        for rel in changed:
            with open(os.path.join(scratch, rel), "rb") as want, \
                    open(os.path.join(fork_path, rel), "rb") as have:
                if want.read() != have.read():
                    return False
        return True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_wiring(root, detectron2_path, python=None):
    """Return a list with one problem if the fork's third_party.quantization is not wired."""
    cmd = [python or sys.executable, "-m", "model_quantization.compat.wire",
           "--detectron2", detectron2_path, "--check"]
    proc = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    if proc.returncode == 0:
        return []
    detail = proc.stdout.strip().splitlines()
    return ["the wiring of third_party.quantization is absent or stale (%s); run: make wire"
            % (detail[-1] if detail else "wire --check failed")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".", help="project root (default: current directory)")
    parser.add_argument("--wiring", action="store_true",
                        help="also check the detectron2 fork's third_party.quantization wiring")
    parser.add_argument("--python", default=None,
                        help="interpreter for the wiring check (default: this one)")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    try:
        subs = read_submodules(root)
    except (FileNotFoundError, ValueError) as err:
        print("check_submodules: %s" % err, file=sys.stderr)
        return 1
    problems = []
    for sub in subs:
        found = check_submodule(root, sub)
        problems.extend(found)
        if not found:
            print("ok: %s at %s (branch %s)" % (sub.path, sub.pinned[:12], sub.branch))
    if args.wiring:
        d2 = [s.path for s in subs if os.path.basename(s.path) == "detectron2"]
        if d2 and not any(p.startswith(d2[0] + " ") for p in problems):
            wiring = check_wiring(root, d2[0], args.python)
            problems.extend(wiring)
            if not wiring:
                print("ok: %s/third_party/quantization wired to model_quantization.compat" % d2[0])
    for problem in problems:
        print("check_submodules: %s" % problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
