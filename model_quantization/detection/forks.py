"""Are the pinned forks importable here, and must they be?

The forks (git submodules under ``forks/``) install three top-level packages: ``detectron2`` and
``third_party`` (the detectron2 fork; its ``third_party.quantization`` is wired to this library)
and ``adet`` (AdelaiDet). A folder of this project with one of those names would shadow the
fork's package whenever the project root is the working directory (it is ``sys.path[0]`` for
``python -m`` and ``python -c``), which is how every entry point runs, natively and in the image.
``colliding_names`` finds such folders; a test keeps the project free of them.

``import_error`` asks a fresh interpreter (in the project root by default) to import the forks,
and returns the last line of its error, so that "not installed" (``No module named
'detectron2'``) and "installed but broken" read differently. Where the forks are required (the
image sets ``MQ_REQUIRE_FORKS=1``; natively ``make ... REQUIRE_FORKS=1``), callers turn that line
into a failure instead of a skip.
"""
import os
import subprocess
import sys

from .experiments import repo_root

__all__ = ["FORK_PACKAGES", "REQUIRE_ENV", "IMPORT_CODE", "colliding_names", "import_error",
           "required", "describe"]

FORK_PACKAGES = ("detectron2", "third_party", "adet")
REQUIRE_ENV = "MQ_REQUIRE_FORKS"
IMPORT_CODE = "import detectron2, detectron2.layers, third_party.quantization, adet.modeling"


def colliding_names(root=None, packages=FORK_PACKAGES):
    """Entries of ``root`` (default: the project root) that would shadow a fork's package."""
    root = root or repo_root()
    found = []
    for name in sorted(os.listdir(root)):
        stem = name[:-3] if name.endswith(".py") else name
        if stem in packages and (name.endswith(".py") or os.path.isdir(os.path.join(root, name))):
            found.append(name)
    return found


def import_error(python=None, cwd=None):
    """``None`` when ``python`` imports the forks in ``cwd`` (default: the project root), else the
    last line of the error it printed."""
    proc = subprocess.run([python or sys.executable, "-c", IMPORT_CODE], cwd=cwd or repo_root(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    if proc.returncode == 0:
        return None
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "exit status {}".format(proc.returncode)


def required(environ=None):
    """True where the forks must be present (``MQ_REQUIRE_FORKS=1``)."""
    value = (environ if environ is not None else os.environ).get(REQUIRE_ENV, "0")
    if value not in ("0", "1", ""):
        raise ValueError("{}={!r} is not 0 or 1: set {}=1 to require the forks, or unset it".format(
            REQUIRE_ENV, value, REQUIRE_ENV))
    return value == "1"


def describe(error):
    """One line for an import failure: not installed, or installed but broken."""
    if "No module named 'detectron2'" in error or "No module named 'adet'" in error:
        return "forks not installed ({})".format(error)
    return "forks installed but not importable ({})".format(error)
