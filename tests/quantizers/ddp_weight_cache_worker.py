"""Worker for test_weight_cache_ddp.py, run by torchrun with two CPU processes (gloo).

Both ranks train the shared-head toy of test_weight_cache_training.py under DDP
(``find_unused_parameters=False``) with the weight cache on, and next to it a cache-off twin that
is reset to the cached model's state before every step; each rank feeds its own data. Steps:
a plain one, one with two micro-batches (``no_sync`` on the first), a plain one. Saved per rank:
the largest relative gradient difference cached vs twin per step, the quantize calls per step
and the final state, for the test to check."""
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_weight_cache_training import (  # noqa: E402
    Counting,
    SharedHead,
    _batch,
    _loss,
    weight_quantizers,
)


def main(out_dir):
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    cached, twin = SharedHead("dorefa-L4").train(), SharedHead("dorefa-L4").train()
    for q in weight_quantizers(twin):
        q.cache_weights = False
    count = Counting(cached)
    ddp_c = torch.nn.parallel.DistributedDataParallel(cached, find_unused_parameters=False)
    ddp_t = torch.nn.parallel.DistributedDataParallel(twin, find_unused_parameters=False)
    opt = torch.optim.SGD(cached.parameters(), lr=0.05, momentum=0.9)
    report = {"rel_diff": [], "calls": []}
    for step, micro in enumerate((1, 2, 1)):
        twin.load_state_dict(cached.state_dict())
        count.reset()
        for ddp in (ddp_c, ddp_t):
            ddp.module.zero_grad()
            for k in range(micro):
                x, targets = _batch(1000 * rank + 10 * step + k)
                if k + 1 < micro:
                    with ddp.no_sync():
                        _loss(ddp(x), targets).backward()
                else:
                    _loss(ddp(x), targets).backward()
        diffs = [((p.grad - r.grad).abs().max() / r.grad.abs().max().clamp_min(1e-30)).item()
                 for p, r in zip(cached.parameters(), twin.parameters())]
        report["rel_diff"].append(max(diffs))
        report["calls"].append(sorted(count.calls.values()))
        opt.step()
    report["state"] = {k: v.detach().clone() for k, v in cached.state_dict().items()}
    torch.save(report, os.path.join(out_dir, "rank{}.pt".format(rank)))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
    sys.stdout.flush()
    os._exit(0)  # see ddp_warmup_worker.py: no gloo teardown at exit
