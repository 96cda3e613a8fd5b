"""Tests for the data helpers: class-list agreement, exact evaluation shards, epoch seeding."""
import shutil

import pytest
import torch

from model_quantization.classification.config import DEFAULTS
from model_quantization.classification.data import ShardSampler, build_datasets, seed_epoch


def test_shard_sampler_covers_each_index_once():
    shards = [list(ShardSampler(10, rank, 3)) for rank in range(3)]
    assert sorted(i for s in shards for i in s) == list(range(10))


def test_seed_epoch_depends_only_on_seed_epoch_rank():
    seed_epoch(None, 5, 2, 1)
    a = torch.rand(3)
    torch.rand(10)
    seed_epoch(None, 5, 2, 1)
    assert torch.equal(a, torch.rand(3))
    seed_epoch(None, 5, 3, 1)
    assert not torch.equal(a, torch.rand(3))


def test_build_datasets_class_mismatch_is_clear(tiny_folder, tmp_path):
    root = tmp_path / "d"
    shutil.copytree(str(tiny_folder), str(root))
    shutil.rmtree(str(root / "val" / "red"))
    with pytest.raises(ValueError, match="different classes.*only in train: \\['red'\\]"):
        build_datasets(root, DEFAULTS["data"])
