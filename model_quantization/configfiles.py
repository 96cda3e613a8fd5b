"""Reading yaml config files that inherit through ``_BASE_`` (detectron2's convention), once.

``read_chain(path)`` returns the files of the chain from the root base to ``path``, each as
``(absolute path, mapping without _BASE_)``; a ``_BASE_`` is relative to the file naming it. The
callers fold the chain with their own merge: the classifier config checks every key against its
defaults while merging, the experiment table merges plain dicts. Errors name the file: a missing
file (and the file whose ``_BASE_`` names it), invalid yaml, a file that is not a mapping, a
cycle. Also ``repo_root()``, the folder holding the package (the repository root).
"""
import os

import yaml

__all__ = ["read_chain", "repo_root"]


def repo_root():
    """The folder holding the ``model_quantization`` package: the repository root."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read_one(path, via, hint):
    if not os.path.isfile(path):
        raise FileNotFoundError("config file {!r}{} does not exist{}".format(
            path, " (the _BASE_ of {!r})".format(via) if via else "", hint))
    with open(path) as f:
        try:
            data = yaml.safe_load(f) or {}
        except yaml.YAMLError as exc:
            raise ValueError("config file {!r} is not valid yaml: {}".format(
                path, " ".join(str(exc).split()))) from None
    if not isinstance(data, dict):
        raise ValueError("config file {!r} must hold a mapping of keys, got {}".format(
            path, type(data).__name__))
    return data


def read_chain(path, hint=""):
    """``[(path, data), ...]`` from the root ``_BASE_`` to ``path`` (see the module doc).

    ``hint`` is appended to the missing-file message (e.g. where such configs live).
    """
    chain, seen, via = [], [], None
    path = os.path.abspath(os.fspath(path))
    while True:
        if path in seen:
            raise ValueError("config {!r} inherits from itself through a _BASE_ cycle ({})".format(
                path, " -> ".join(seen + [path])))
        data = _read_one(path, via, hint)
        seen.append(path)
        base = data.pop("_BASE_", None)
        chain.append((path, data))
        if base is None:
            return chain[::-1]
        via, path = path, os.path.abspath(os.path.join(os.path.dirname(path), base))
