"""The run record: what a run was, saved next to its results.

``write_run_record(output_dir, ...)`` writes ``<output_dir>/run_record/``:

* ``config.yaml``: the merged config (a dict, a yacs ``CfgNode`` or yaml text as given);
* ``policy.txt``: a copy of the policy file, when one is given;
* ``environment.json``: ``collect_environment()``: Python and package versions, CUDA/cuDNN and
  GPUs, the project's commit and dirty flag, each submodule's commit, the image tag;
* ``quantization.md`` / ``quantization.json``: the "what got quantized" report;
* ``extra.json``: anything else the caller passes (final metrics, command line, ...).

Provenance comes from git when the project is a git checkout; otherwise (inside the image) from
the build-info JSON at ``$MQ_BUILD_INFO`` (default ``/etc/mq-build-info.json``: ``image_tag``,
``flavor``, ``project_commit``, ``submodules`` {path: commit}, ``built_at``). The image tag is
``$MQ_IMAGE_TAG`` or the build info's. Nothing here may crash a run: an unavailable source is
recorded as ``"unknown"`` with the reason.
"""
import datetime
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import yaml

from .checkpoint import file_mode
from .configfiles import repo_root

__all__ = ["check_run_folder", "collect_environment", "write_run_record", "set_run_status",
           "mark_run_failed",
           "project_root", "DEFAULT_BUILD_INFO"]

DEFAULT_BUILD_INFO = "/etc/mq-build-info.json"
# module name -> distribution name (for a version when the module has no __version__)
_PACKAGES = {"torch": "torch", "torchvision": "torchvision", "numpy": "numpy", "yacs": "yacs",
             "pycocotools": "pycocotools", "detectron2": "detectron2", "adet": "AdelaiDet",
             "model_quantization": "model-quantization"}


def project_root():
    """The folder holding the ``model_quantization`` package (the repository root)."""
    return repo_root()


def _git(args, cwd):
    """Run git; return (stdout, None) or (None, reason)."""
    try:
        out = subprocess.run(["git"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=20)
    except FileNotFoundError:
        return None, "git is not installed"
    except (OSError, subprocess.SubprocessError) as exc:
        return None, "git failed: {}".format(exc)
    if out.returncode != 0:
        return None, "git {} failed: {}".format(" ".join(args), out.stderr.strip()[:300])
    return out.stdout, None


def _git_provenance(root):
    """({commit, dirty, source}, {submodule path: commit}) from git, or (None, reason)."""
    top, reason = _git(["rev-parse", "--show-toplevel"], root)
    if top is None:
        return None, reason
    if os.path.realpath(top.strip()) != os.path.realpath(root):
        return None, "{} is not the root of a git checkout (git top level: {})".format(
            root, top.strip())
    head, reason = _git(["rev-parse", "HEAD"], root)
    if head is None:
        return None, reason
    status, _ = _git(["status", "--porcelain", "--untracked-files=no"], root)
    project = {"commit": head.strip(), "dirty": None if status is None else bool(status.strip()),
               "source": "git"}
    submodules = {}
    listing, sub_reason = _git(["submodule", "status"], root)
    if listing is not None:
        for line in listing.splitlines():
            parts = line[1:].split() if line else []
            if len(parts) < 2:
                continue
            state = {" ": None, "-": "not initialized (pinned commit shown)",
                     "+": "checked-out commit differs from the pinned one",
                     "U": "merge conflicts"}.get(line[0])
            submodules[parts[1]] = parts[0]
            if state:
                project.setdefault("submodule_notes", {})[parts[1]] = state
    else:
        project["submodule_error"] = sub_reason
    return (project, submodules), None


def _read_build_info():
    """(build info dict or None, path, reason)."""
    path = os.environ.get("MQ_BUILD_INFO", DEFAULT_BUILD_INFO)
    try:
        with open(path) as f:
            info = json.load(f)
    except FileNotFoundError:
        return None, path, "no build info file at {}".format(path)
    except (OSError, ValueError) as exc:
        return None, path, "unreadable build info {}: {}".format(path, exc)
    if not isinstance(info, dict):
        return None, path, "build info {} is not a JSON object".format(path)
    return info, path, None


def _version(module_name):
    """Version string of an importable module, or None when it cannot be imported."""
    try:
        mod = importlib.import_module(module_name)
    except Exception:  # any import failure (missing, broken build) means "not available"
        return None
    version = getattr(mod, "__version__", None)
    if version is None:
        try:
            from importlib import metadata
            version = metadata.version(_PACKAGES.get(module_name, module_name))
        except Exception:
            version = "unknown"
    return str(version)


def _accelerator():
    try:
        import torch
    except Exception:  # pragma: no cover - torch is a hard dependency
        return {"cuda": None, "cudnn": None, "cuda_available": False, "gpus": []}
    info = {"cuda": torch.version.cuda, "cudnn": None, "cuda_available": False, "gpus": []}
    try:
        if torch.backends.cudnn.is_available():
            info["cudnn"] = torch.backends.cudnn.version()
        info["cuda_available"] = bool(torch.cuda.is_available())
        if info["cuda_available"]:
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception as exc:  # a broken driver must not stop the run
        info["cuda_error"] = str(exc)
    return info


def collect_environment():
    """A JSON-serialisable dict describing the software and hardware this run uses."""
    env = {"python": platform.python_version(), "python_executable": sys.executable,
           "platform": platform.platform(), "argv": list(sys.argv),
           "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    for module_name in _PACKAGES:
        env[module_name] = _version(module_name)
    env.update(_accelerator())
    build_info, build_path, build_reason = _read_build_info()
    env["build_info"] = build_info
    root = project_root()
    found, git_reason = _git_provenance(root)
    if found is not None:
        env["project"], env["submodules"] = found
    elif build_info is not None:
        env["project"] = {"commit": build_info.get("project_commit", "unknown"), "dirty": None,
                          "source": "build info {}".format(build_path), "git": git_reason}
        env["submodules"] = dict(build_info.get("submodules") or {})
    else:
        env["project"] = {"commit": "unknown", "dirty": None, "source": None,
                          "reason": "{}; {}".format(git_reason, build_reason)}
        env["submodules"] = {}
    env["image_tag"] = os.environ.get("MQ_IMAGE_TAG") or (build_info or {}).get("image_tag")
    return env


def _plain(obj):
    """dict/CfgNode/tuple tree -> plain dicts and lists (for yaml.safe_dump)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _write_text(path, text):
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=folder)
    try:
        os.chmod(tmp, file_mode())
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _config_text(config):
    if isinstance(config, str):
        return config
    if isinstance(config, dict):
        return yaml.safe_dump(_plain(config), sort_keys=False, default_flow_style=False)
    if hasattr(config, "dump"):
        return config.dump()
    raise TypeError("config must be a dict, a yacs CfgNode or yaml text, got {}".format(
        type(config).__name__))


def check_run_folder(folder, marks, resume=False, overwrite=False, name="output folder",
                     elsewhere="choose another --output"):
    """The one guard of a run folder (classifier and detector runs alike): refuse a folder that
    holds one of ``marks`` (the files a started or finished run leaves) unless the user asked to
    ``resume`` the run or to ``overwrite`` it; asking for both is refused too. Returns the marks
    found. ``name`` and ``elsewhere`` word the message for the entry point (``--output`` or
    detectron2's ``OUTPUT_DIR``)."""
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other: resume continues the "
                         "run in {!r}, overwrite starts a new one there; give one".format(folder))
    found = [m for m in marks if os.path.exists(os.path.join(folder, m))]
    if found and not (resume or overwrite):
        raise FileExistsError("{} {!r} already holds a run ({}); pass --resume to continue it, "
                              "--overwrite to start over there (its files are replaced), or "
                              "{}".format(name, folder, ", ".join(found), elsewhere))
    return found


def set_run_status(output_dir, status, **fields):
    """Set ``status`` (and ``fields``) in the run record of ``output_dir``, keeping the rest of
    its ``extra.json``; return the file's path, or None where there is no run record yet."""
    path = os.path.join(os.fspath(output_dir), "run_record", "extra.json")
    if not os.path.isdir(os.path.dirname(path)):
        return None
    extra = {}
    if os.path.isfile(path):
        with open(path) as f:
            extra = json.load(f)
    extra.update(fields, status=status)
    _write_text(path, json.dumps(extra, indent=2, sort_keys=True, default=str) + "\n")
    return path


def mark_run_failed(output_dir, exc):
    """``set_run_status(output_dir, "failed", error=...)`` that never raises: it runs while
    another error propagates."""
    try:
        return set_run_status(output_dir, "failed",
                              error="{}: {}".format(type(exc).__name__, exc))
    except (OSError, ValueError):
        return None


def write_run_record(output_dir, config=None, policy=None, quant_report=None, extra=None):
    """Write ``<output_dir>/run_record/`` (see the module docstring); return its path.

    ``policy``: path of a policy file (copied as policy.txt) or the policy text itself.
    ``quant_report``: a ``QuantReport`` (its ``save``) or its ``to_dict()`` form.
    ``extra``: a JSON-serialisable dict written to extra.json.
    """
    record = os.path.join(os.fspath(output_dir), "run_record")
    os.makedirs(record, exist_ok=True)
    if config is not None:
        _write_text(os.path.join(record, "config.yaml"), _config_text(config))
    if policy is not None:
        policy = os.fspath(policy)
        if os.path.isfile(policy):
            shutil.copyfile(policy, os.path.join(record, "policy.txt"))
        elif "\n" in policy:
            _write_text(os.path.join(record, "policy.txt"), policy)
        else:
            raise FileNotFoundError("policy file {!r} does not exist; give the path of the "
                                    "policy file the run used".format(policy))
    env = collect_environment()
    _write_text(os.path.join(record, "environment.json"),
                json.dumps(env, indent=2, sort_keys=True, default=str) + "\n")
    if quant_report is not None:
        if hasattr(quant_report, "save"):
            quant_report.save(record)
        elif isinstance(quant_report, dict):
            _write_text(os.path.join(record, "quantization.json"),
                        json.dumps(quant_report, indent=2, default=str) + "\n")
        else:
            raise TypeError("quant_report must be a QuantReport or a dict, got {}".format(
                type(quant_report).__name__))
    if extra is not None:
        _write_text(os.path.join(record, "extra.json"),
                    json.dumps(extra, indent=2, sort_keys=True, default=str) + "\n")
    return record
