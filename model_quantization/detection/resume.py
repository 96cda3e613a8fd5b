"""Exact resume: a resumed run continues as if it had never stopped.

detectron2 restores the model (quantizer state included: clip values, warm-up counters, LQ-Net
bases are in the state dict), the optimizer, the scheduler and the iteration, but it restarts the
data stream from its first batch and leaves the random generators as they happen to be, and a
fresh process computes some gradients along another float path than a long-running one. Three
additions close the gap:

* ``RNGState``: a checkpointable holding Python's, NumPy's and torch's CPU generator states, saved
  with every checkpoint (as tensors and plain containers, so ``torch.load(weights_only=True)``
  reads it);
* ``fast_forward``: after resuming at iteration ``k``, draw and discard the ``k`` batches the
  interrupted run had consumed, then put the generators back to their saved state. Exact with
  ``DATALOADER.NUM_WORKERS 0`` (single-process loading, as in the smoke configs); with worker
  processes the batches are still skipped, but augmentation randomness lives in the workers;
* ``unoptimized_torchscript``: training runs with TorchScript's graph optimizations off. The focal
  loss of FCOS and RetinaNet is a scripted function (fvcore's ``sigmoid_focal_loss_jit``); with
  optimizations on, its first call in a process runs the plain graph with eager autograd and later
  calls run an optimized graph with a symbolically differentiated backward, whose gradients differ
  in the last bits. A resumed process is at its first call where the uninterrupted one is at its
  n-th, so its gradients (and from there the weights, ~1e-7 after a few steps) drifted. Off, every
  call takes the same path, in every process. The cost is the loss's fused kernels on a GPU.
"""
import contextlib
import logging
import random

import numpy as np
import torch

__all__ = ["RNGState", "fast_forward", "unoptimized_torchscript"]

_log = logging.getLogger("detectron2.model_quantization")


class RNGState(object):
    """Checkpointable generator states (``state_dict`` / ``load_state_dict``)."""

    def __init__(self):
        self.loaded = None

    def state_dict(self):
        version, internal, gauss = random.getstate()
        name, keys, pos, has_gauss, cached = np.random.get_state()
        return {"python": [version, torch.tensor(internal, dtype=torch.int64), gauss],
                "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos),
                          int(has_gauss), float(cached)],
                "torch": torch.get_rng_state()}

    def load_state_dict(self, state):
        self.loaded = state
        self.apply()

    def apply(self):
        """Set the generators to the last loaded state (no-op when nothing was loaded)."""
        if self.loaded is None:
            return
        version, internal, gauss = self.loaded["python"]
        random.setstate((version, tuple(int(v) for v in internal.tolist()), gauss))
        name, keys, pos, has_gauss, cached = self.loaded["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(self.loaded["torch"])


def fast_forward(data_iter, batches, rng_state, num_workers):
    """Discard ``batches`` batches from ``data_iter``, then restore ``rng_state``."""
    if batches <= 0:
        return
    _log.info("resume: skipping the %d batches the interrupted run consumed", batches)
    for _ in range(batches):
        next(data_iter)
    rng_state.apply()
    if num_workers:
        _log.warning("resume: DATALOADER.NUM_WORKERS=%d, so augmentation randomness is not "
                     "restored exactly (use 0 workers for a bit-exact resume)", num_workers)


@contextlib.contextmanager
def unoptimized_torchscript():
    """Within the block, scripted functions run unoptimized: the same float path on every call."""
    with torch.jit.optimized_execution(False):
        yield
