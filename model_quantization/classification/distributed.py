"""Process-group setup for ``torchrun`` (env ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``).

One process per device: NCCL on CUDA, Gloo on CPU. Without those variables the trainer runs as
a single process. Only rank 0 writes files; ``barrier`` keeps the others in step.
"""
import os

import torch
import torch.distributed as dist

__all__ = ["DistContext", "setup_distributed", "barrier", "all_reduce_sum"]


class DistContext(object):
    """Where this process runs: ``rank``, ``world_size``, ``local_rank``, ``device``."""

    def __init__(self, rank, world_size, local_rank, device, owns_group):
        self.rank = rank
        self.world_size = world_size
        self.local_rank = local_rank
        self.device = device
        self.owns_group = owns_group

    @property
    def distributed(self):
        return self.world_size > 1

    @property
    def is_main(self):
        return self.rank == 0

    def close(self):
        """Destroy the process group if this context created it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def _env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError("environment variable {}={!r} must be an integer (set by torchrun)"
                         .format(name, value)) from None


def setup_distributed(device="auto"):
    """Read the torchrun environment, pick the device, initialise the process group."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device: cuda was asked for but torch sees no CUDA GPU; use "
                             "device: cpu (or auto)")
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    elif device == "cpu":
        dev = torch.device("cpu")
    else:
        raise ValueError("device {!r} is not supported; choose auto, cpu or cuda".format(device))
    owns = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", init_method="env://")
        owns = True
    return DistContext(rank, world, local_rank, dev, owns)


def barrier():
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_sum(tensor):
    """Sum ``tensor`` over processes in place (no-op in a single process); return it."""
    if dist.is_available() and dist.is_initialized():
        if dist.get_backend() == "nccl" and not tensor.is_cuda:
            moved = tensor.cuda()
            dist.all_reduce(moved)
            tensor.copy_(moved.cpu())
        else:
            dist.all_reduce(tensor)
    return tensor
