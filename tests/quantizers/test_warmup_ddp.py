"""Warm-up under DDP (two CPU processes, gloo, torchrun): no learnable clip is left unused
(``find_unused_parameters=False`` would fail the next step), and the data-driven clip statistics
agree across ranks although each rank sees different data."""
import os
import subprocess

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD, STABLE = 2, 2


def _rank_input(rank, step):  # the worker's data, recomputed here for the expected value
    gen = torch.Generator().manual_seed(100 * rank + step)
    return torch.rand(2, 3, 8, 8, generator=gen) * (1.0 + 3.0 * rank)


@pytest.mark.slow
def test_lsq_warmup_under_ddp_agrees_across_ranks_and_uses_every_parameter(tmp_path, torchrun):
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this torch build")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        torchrun(WORLD) + [os.path.join(HERE, "ddp_warmup_worker.py"), str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:]
    warm = [torch.load(str(tmp_path / "warm{}.pt".format(r))) for r in range(WORLD)]
    # the running mean over the warm-up passes of max|x|, averaged over the ranks
    expected = sum(float(_rank_input(r, s).abs().max()) for r in range(WORLD)
                   for s in range(STABLE)) / (WORLD * STABLE)
    assert torch.equal(warm[0], warm[1])
    assert torch.allclose(warm[0], torch.full_like(warm[0], expected), rtol=1e-6)
    final = [torch.load(str(tmp_path / "final{}.pt".format(r))) for r in range(WORLD)]
    for key in final[0]:
        assert torch.equal(final[0][key], final[1][key]), key
