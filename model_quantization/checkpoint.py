"""Saving and loading checkpoints safely, and checking file checksums.

* ``save_checkpoint`` writes to a temporary file in the destination folder, flushes it to disk
  (``fsync``) and renames it over the target (``os.replace``), so a crash mid-write never leaves
  a half-written ``last.pth`` behind: readers see the old file or the new one, nothing between.
* ``load_checkpoint`` turns every way a file can be unusable (missing, empty, truncated, not a
  torch file, unpicklable) into one ``CheckpointError`` (a ``ValueError``) naming the file.
  It loads with ``weights_only=True`` where the installed torch supports it (torch >= 1.13).
* ``sha256sum`` / ``verify_sha256`` check a downloaded weights file against a known digest
  (a full 64-hex digest or a prefix of at least 8 hex digits, as torchvision file names carry).
"""
import hashlib
import inspect
import os
import pickle
import string
import tempfile
import zipfile

import torch

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "sha256sum",
           "verify_sha256", "file_mode", "same_file", "check_output_file", "extract_state_dict"]


class CheckpointError(ValueError):
    """A checkpoint file is missing, empty, truncated, corrupt, or fails its checksum."""


def same_file(a, b):
    """True when paths ``a`` and ``b`` name the same file (links and relative paths resolved)."""
    a, b = os.fspath(a), os.fspath(b)
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def check_output_file(output, inputs=(), option="--output", example="model.pth", overwrite=False):
    """Check that file ``output`` may be written: not one of ``inputs`` (a step never writes its
    result in place of its own input, ``--overwrite`` or not), not a folder, and not an existing
    file unless ``overwrite``. Raises ``ValueError`` / ``FileExistsError`` naming the fix."""
    output = os.fspath(output)
    for name, path in inputs:
        if path and same_file(output, path):
            raise ValueError("{} {!r} is the {} file: writing there would replace the input with "
                             "its own result; give a new file, e.g. {} {!r}".format(
                                 option, output, name, option,
                                 os.path.join(os.path.dirname(output) or ".", example)))
    if os.path.isdir(output) or output.endswith(("/", os.sep)):
        raise ValueError("{} {!r} is a folder; give a file name in it, e.g. {} {!r}".format(
            option, output, option, os.path.join(output, example)))
    if os.path.exists(output) and not overwrite:
        raise FileExistsError("{} {!r} exists; pass --overwrite to replace it or choose another "
                              "file".format(option, output))


def extract_state_dict(checkpoint, source="checkpoint", lenient=False):
    """The ``{name: tensor}`` dict inside a loaded checkpoint, without DDP's ``module.`` prefix.

    The dict is the checkpoint itself or the one under ``model`` / ``state_dict``. Strict (the
    default, for classifier and torchvision files): every value must be a tensor, and the
    prefix is removed when every key has it. ``lenient=True`` (detector files, which carry
    other entries beside the weights and may hold numpy arrays): array-likes become tensors,
    other values are dropped, and the prefix is removed key by key. Raises ``CheckpointError``
    naming ``source`` when no tensors are found.
    """
    sd = checkpoint
    if isinstance(sd, dict) and (lenient or not _all_tensors(sd)):
        for key in ("model", "state_dict"):
            if isinstance(sd.get(key), dict):
                sd = sd[key]
                break
    if lenient and isinstance(sd, dict):
        sd = {k: (torch.as_tensor(v) if hasattr(v, "shape") and not torch.is_tensor(v) else v)
              for k, v in sd.items()}
        sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()
              if torch.is_tensor(v)}
    if not isinstance(sd, dict) or not sd or not _all_tensors(sd):
        found = sorted(checkpoint)[:8] if isinstance(checkpoint, dict) else \
            type(checkpoint).__name__
        raise CheckpointError("{} holds no model state dict (a {{name: tensor}} dict, or one "
                              "under 'model' or 'state_dict'); found {}".format(source, found))
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return dict(sd)


def _all_tensors(d):
    return bool(d) and all(isinstance(k, str) and torch.is_tensor(v) for k, v in d.items())


def _torch_load_supports_weights_only():
    try:
        return "weights_only" in inspect.signature(torch.load).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def save_checkpoint(obj, path, overwrite=True):
    """Atomically write ``obj`` with ``torch.save`` to ``path``; return ``path``.

    The parent folder is created if needed. With ``overwrite=False`` an existing file is left
    alone and ``FileExistsError`` is raised.
    """
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError("refusing to overwrite the existing checkpoint {!r}; pass "
                              "overwrite=True or choose another path".format(path))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        os.chmod(tmp, file_mode())
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)
    return path


def file_mode():
    """Permission bits a plainly created file gets (0o666 minus the umask); mkstemp uses 0o600."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_dir(folder):
    """Make the rename durable (POSIX); silently not possible on some platforms."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path, map_location="cpu", weights_only=True):
    """Load a checkpoint written by ``torch.save``; raise ``CheckpointError`` naming the file.

    ``weights_only=True`` (the default) only unpickles tensors and plain containers, where
    torch supports the flag; pass ``False`` for a trusted file holding other Python objects.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError("checkpoint file {!r} does not exist; check the path (absolute: "
                              "{!r})".format(path, os.path.abspath(path)))
    if os.path.isdir(path):
        raise CheckpointError("checkpoint path {!r} is a folder, not a file; give the .pth "
                              "file inside it (e.g. {!r})".format(
                                  path, os.path.join(path, "model_best.pth")))
    if os.path.getsize(path) == 0:
        raise CheckpointError("checkpoint file {!r} is empty (0 bytes): an interrupted copy or "
                              "download; fetch or regenerate it".format(path))
    kwargs = {"map_location": map_location}
    if _torch_load_supports_weights_only():
        kwargs["weights_only"] = bool(weights_only)
    try:
        return torch.load(path, **kwargs)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
            AttributeError, ImportError, IndexError, KeyError, TypeError, OSError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            hint = ("it holds objects other than tensors and plain containers; if you trust "
                    "the file, load it with weights_only=False")
        else:
            hint = ("the file is truncated or corrupt (an interrupted write, copy or "
                    "download) or not a torch checkpoint; regenerate or re-download it")
        raise CheckpointError("cannot load checkpoint {!r} ({} bytes): {}: {}; {}".format(
            path, os.path.getsize(path), type(exc).__name__, text, hint)) from exc


def sha256sum(path, chunk_size=1 << 20):
    """Hex SHA-256 digest of the file at ``path``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("cannot checksum {!r}: no such file".format(path))
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path, expected):
    """Check ``path`` against ``expected`` (64 hex digits, or a prefix of >= 8); return the full
    digest. A mismatch raises ``CheckpointError`` giving both values and what to do."""
    exp = str(expected).strip().lower()
    if len(exp) < 8 or len(exp) > 64 or any(c not in string.hexdigits for c in exp):
        raise ValueError("expected sha256 {!r} is not a hex digest: give the 64 hex digits "
                         "(or a prefix of at least 8), e.g. from `sha256sum FILE`".format(expected))
    got = sha256sum(path)
    if not got.startswith(exp):
        what = "sha256" if len(exp) == 64 else "sha256 prefix"
        raise CheckpointError(
            "{} mismatch for {!r}: expected {}, got {} (full digest {}). The file is corrupt, "
            "truncated or a different file: re-download it; if this file is the one you mean "
            "to use, pass its digest instead (--sha256 {}).".format(
                what, os.fspath(path), exp, got[:len(exp)], got, got))
    return got
