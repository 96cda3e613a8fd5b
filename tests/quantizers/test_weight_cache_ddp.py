"""The training weight cache under DDP (two CPU processes, gloo, torchrun): a conv shared
across five 'FPN levels' with ``find_unused_parameters=False``, plain steps and a ``no_sync``
gradient-accumulation step. The gradients DDP averages equal a cache-off twin's in the same
state (up to summation order, see test_weight_cache_training.py), each weight is quantized once
per forward, and the replicas stay identical."""
import os
import subprocess

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD = 2


@pytest.mark.slow
def test_weight_cache_under_ddp(tmp_path, torchrun):
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this torch build")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        torchrun(WORLD) + [os.path.join(HERE, "ddp_weight_cache_worker.py"), str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:]
    reports = [torch.load(str(tmp_path / "rank{}.pt".format(r))) for r in range(WORLD)]
    for rep in reports:
        assert max(rep["rel_diff"]) < 1e-5, rep["rel_diff"]
        # three quantized convs; one forward per micro-batch (2 in the no_sync step)
        assert rep["calls"] == [[1, 1, 1], [2, 2, 2], [1, 1, 1]]
    for key, value in reports[0]["state"].items():
        assert torch.equal(value, reports[1]["state"][key]), key
