"""Test-suite set-up shared by every folder.

pytest runs in importlib mode (pyproject.toml), so same-named test files in different folders do
not clash; shared helper modules that sit beside the tests (``compat_fakes``, ``static_helpers``)
are made importable by putting their folders on ``sys.path`` here.
"""
import pathlib
import sys

_HERE = pathlib.Path(__file__).resolve().parent
for _folder in sorted(p for p in _HERE.iterdir() if p.is_dir() and not p.name.startswith(".")):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
