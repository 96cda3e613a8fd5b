"""Tests for model_quantization.checkpoint: atomic save, clear load errors, sha256 checks."""
import os

import pytest
import torch

from model_quantization.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
    sha256sum,
    verify_sha256,
)


def _state():
    return {"model": {"w": torch.arange(1000, dtype=torch.float32)}, "epoch": 3}


def test_save_checkpoint_round_trip(tmp_path):
    path = save_checkpoint(_state(), tmp_path / "sub" / "last.pth")
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 3
    assert torch.equal(loaded["model"]["w"], _state()["model"]["w"])


def test_save_checkpoint_leaves_no_temporary_files(tmp_path):
    save_checkpoint(_state(), tmp_path / "a.pth")
    save_checkpoint({"epoch": 4}, tmp_path / "a.pth")
    assert sorted(os.listdir(tmp_path)) == ["a.pth"]
    assert load_checkpoint(tmp_path / "a.pth")["epoch"] == 4


def test_save_checkpoint_failure_keeps_old_file(tmp_path):
    path = tmp_path / "a.pth"
    save_checkpoint(_state(), path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_checkpoint({"bad": Unpicklable()}, path)
    assert load_checkpoint(path)["epoch"] == 3
    assert sorted(os.listdir(tmp_path)) == ["a.pth"]


def test_save_checkpoint_refuses_overwrite_when_asked(tmp_path):
    path = save_checkpoint(_state(), tmp_path / "a.pth")
    with pytest.raises(FileExistsError, match="a.pth"):
        save_checkpoint({"epoch": 9}, path, overwrite=False)
    assert load_checkpoint(path)["epoch"] == 3


def test_load_checkpoint_missing_names_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pth.*does not exist"):
        load_checkpoint(tmp_path / "nope.pth")


def test_load_checkpoint_empty_names_file(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pth.*empty"):
        load_checkpoint(tmp_path / "empty.pth")


def test_load_checkpoint_truncated_names_file(tmp_path):
    path = save_checkpoint(_state(), tmp_path / "trunc.pth")
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.pth.*truncated or corrupt"):
        load_checkpoint(path)


def test_load_checkpoint_garbage_names_file(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"this is not a checkpoint\n" * 10)
    with pytest.raises(CheckpointError, match="junk.pth"):
        load_checkpoint(tmp_path / "junk.pth")


def test_load_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_sha256sum_matches_hashlib(tmp_path):
    import hashlib
    (tmp_path / "f.bin").write_bytes(b"abc" * 1000)
    assert sha256sum(tmp_path / "f.bin") == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_verify_sha256_accepts_full_digest_and_prefix(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"weights")
    digest = sha256sum(tmp_path / "f.bin")
    assert verify_sha256(tmp_path / "f.bin", digest) == digest
    assert verify_sha256(tmp_path / "f.bin", digest[:8].upper()) == digest


def test_verify_sha256_mismatch_message_gives_both_digests(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"weights")
    digest = sha256sum(tmp_path / "f.bin")
    wrong = "0" * 64 if not digest.startswith("0") else "1" * 64
    with pytest.raises(CheckpointError) as info:
        verify_sha256(tmp_path / "f.bin", wrong)
    msg = str(info.value)
    assert "f.bin" in msg and wrong in msg and digest in msg and "re-download" in msg


def test_verify_sha256_rejects_non_hex_expected(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"weights")
    with pytest.raises(ValueError, match="not a hex digest"):
        verify_sha256(tmp_path / "f.bin", "xyz")
