"""Worker for test_warmup_ddp.py, run by torchrun with two CPU processes (gloo).

Each rank feeds different data through a DDP-wrapped 2-bit LSQ conv with warm-up; it saves the
activation clip after the warm-up and the whole state at the end, for the test to compare."""
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

from model_quantization.nn import QuantConv2d
from model_quantization.quantizers.spec import QuantSpec

STABLE = 2


def rank_input(rank, step):
    gen = torch.Generator().manual_seed(100 * rank + step)
    return torch.rand(2, 3, 8, 8, generator=gen) * (1.0 + 3.0 * rank)  # rank 1 sees larger values


def main(out_dir):
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)  # the same initial weights on every rank
    conv = nn.Conv2d(3, 4, 3, padding=1)
    qconv = QuantConv2d.from_float(
        conv, QuantSpec("lsq", bits=2, stable=STABLE).build("weight", list(conv.weight.shape)),
        QuantSpec("lsq", bits=2, stable=STABLE).build("activation", [1, 3, 1, 1]))
    model = nn.parallel.DistributedDataParallel(qconv, find_unused_parameters=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for step in range(STABLE + 2):  # the warm-up passes, then quantized ones
        opt.zero_grad()
        model(rank_input(rank, step)).square().mean().backward()
        opt.step()
        if step == STABLE - 1:
            torch.save(qconv.quant_activation.clip_val.detach().clone(),
                       os.path.join(out_dir, "warm{}.pt".format(rank)))
    torch.save({k: v.detach().clone() for k, v in qconv.state_dict().items()},
               os.path.join(out_dir, "final{}.pt".format(rank)))
    dist.barrier()  # both ranks done before either tears gloo down (else: abort at exit)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
    # Leave without interpreter teardown: what is under test is saved, and a gloo thread torn
    # down at exit can abort the process ("terminate called without an active exception").
    sys.stdout.flush()
    os._exit(0)
