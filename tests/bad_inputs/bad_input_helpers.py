"""Helpers of the bad-input suite: run an entry point as a user does, snapshot folders.

Every case asserts three things: the exit code (2, an anticipated mistake), that stderr's last
line names the problem and the fix, and that nothing on disk changed that should not have.
"""
import hashlib
import os
import pathlib
import subprocess
import sys

from static_helpers import MAKE_TRAILER  # tests/static, on sys.path (tests/conftest.py)

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        # the last line that is not make's own trailer (make: *** [Makefile:N: goal] Error 2)
        lines = [line for line in proc.stderr.splitlines()
                 if line.strip() and not MAKE_TRAILER.match(line)]
        self.last = lines[-1] if lines else ""

    def __repr__(self):
        return "rc={} stderr={!r}".format(self.rc, self.err[-2000:])


def run_entry(entry, *args, cwd=None, env=None, timeout=300):
    environ = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MQ_DEBUG="")
    environ.update(env or {})
    if entry == "make":
        cmd = ["make", "-C", str(ROOT), "--no-print-directory"] + list(args)
    elif entry.startswith("-m"):
        cmd = [sys.executable] + entry.split() + list(args)
    else:
        cmd = [sys.executable, str(ROOT / entry)] + list(args)
    proc = subprocess.run(cmd, cwd=str(cwd or ROOT), env=environ, capture_output=True,
                          text=True, timeout=timeout)
    return Result(proc)


def snapshot(folder):
    """``{relative path: sha256}`` of every file under ``folder`` (empty if it does not exist)."""
    folder = pathlib.Path(folder)
    out = {}
    if not folder.exists():
        return out
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def assert_one_line_error(result, *phrases):
    """Exit code 2, no traceback, and the last stderr line holds every phrase."""
    assert result.rc == 2, result
    assert "Traceback" not in result.err, result
    for phrase in phrases:
        assert phrase in result.last, "{!r} not in {!r}".format(phrase, result.last)
