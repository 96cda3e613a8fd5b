"""Make the detectron2 fork's ``third_party.quantization`` resolve to this compat package.

``python -m model_quantization.compat.wire --detectron2 forks/detectron2 [--check]``

Writes ``<fork>/third_party/quantization/__init__.py``: three lines that import the installed
``model_quantization.compat`` and alias it, and its submodules ``quant``, ``policy``, ``dorefa``,
in ``sys.modules`` under ``third_party.quantization[.<name>]``. No absolute path, no symlink into
this tree: the fork only needs ``model_quantization`` importable (editable install or image).
Each class then exists once, so ``isinstance`` holds whichever name imported it. The fork's
``.gitignore`` already ignores ``third_party/quantization`` (the submodule stays clean; checked).
Running it again is a no-op; ``--check`` exits non-zero, naming the fix, when the file is
missing or stale.
"""
import argparse
import importlib
import os
import subprocess
import sys

__all__ = ["ALIAS_SOURCE", "install_alias", "wire", "check", "main"]

ALIAS_SOURCE = '''"""Alias of model_quantization.compat, by model_quantization.compat.wire."""
try:
    from model_quantization.compat.wire import install_alias
except ImportError as error:
    raise ImportError("third_party.quantization is wired to model_quantization.compat, which "
                      "is not importable here ({}); pip install -e <project root>".format(error))
install_alias(__name__)
'''
RELATIVE = os.path.join("third_party", "quantization", "__init__.py")


def install_alias(name):
    """Bind ``name`` and ``name.<sub>`` in ``sys.modules`` to ``model_quantization.compat``."""
    compat = importlib.import_module("model_quantization.compat")
    for sub in compat.SUBMODULES:
        module = importlib.import_module("model_quantization.compat." + sub)
        sys.modules["{}.{}".format(name, sub)] = module
    sys.modules[name] = compat
    return compat


def _alias_path(detectron2):
    if not os.path.isdir(os.path.join(detectron2, "third_party")):
        raise FileNotFoundError("{!r} has no third_party/ folder: give the detectron2 fork "
                                "checkout (e.g. --detectron2 forks/detectron2)".format(
                                    detectron2))
    return os.path.join(detectron2, RELATIVE)


def _git_ignored(detectron2, path):
    """True/False when git can tell whether ``path`` is ignored in the fork, None otherwise."""
    try:
        rc = subprocess.call(["git", "-C", detectron2, "check-ignore", "-q",
                              os.path.relpath(path, detectron2)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None
    return {0: True, 1: False}.get(rc)


def check(detectron2):
    """``(ok, message)`` for the alias file of the fork at ``detectron2``."""
    path = _alias_path(detectron2)
    fix = "run: python -m model_quantization.compat.wire --detectron2 {}".format(detectron2)
    if os.path.islink(os.path.dirname(path)):
        return False, "{} is a symlink (QTool layout); remove it, then {}".format(
            os.path.dirname(path), fix)
    if not os.path.isfile(path):
        return False, "{} is missing; {}".format(path, fix)
    with open(path) as f:
        if f.read() != ALIAS_SOURCE:
            return False, "{} is stale (not the current alias); {}".format(path, fix)
    if _git_ignored(detectron2, path) is False:
        return False, ("{} is not git-ignored in the fork: add 'third_party/quantization' to its "
                       ".gitignore so the submodule stays clean".format(path))
    return True, "{} wires third_party.quantization to model_quantization.compat".format(path)


def wire(detectron2):
    """Write (or refresh) the alias file; return its path. Idempotent."""
    path = _alias_path(detectron2)
    folder = os.path.dirname(path)
    if os.path.islink(folder):
        raise FileExistsError("{} is a symlink (QTool layout); remove it and run again".format(
            folder))
    os.makedirs(folder, exist_ok=True)
    current = None
    if os.path.isfile(path):
        with open(path) as f:
            current = f.read()
    if current != ALIAS_SOURCE:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(ALIAS_SOURCE)
        os.replace(tmp, path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m model_quantization.compat.wire",
        description="Make the detectron2 fork's third_party.quantization resolve to "
                    "model_quantization.compat (writes a git-ignored alias package).")
    parser.add_argument("--detectron2", required=True,
                        help="path of the detectron2 fork checkout, e.g. forks/detectron2")
    parser.add_argument("--check", action="store_true",
                        help="only check; exit 1 with the fix when the alias is missing or stale")
    args = parser.parse_args(argv)
    try:
        if not args.check:
            print("wrote " + wire(args.detectron2))
        ok, message = check(args.detectron2)
    except (FileNotFoundError, FileExistsError) as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
