"""The base class every fake quantizer derives from.

A quantizer is an ``nn.Module`` mapping a tensor to its fake-quantized copy (same shape, same
dtype). It keeps QTool's state names so QTool-trained checkpoints load:

* ``level_num`` (buffer, 1 element): the number of quantization levels ``L``; a policy may
  change it in place (``fill_``), the forward always reads it, never a cached int.
* ``iteration`` (buffer, 1 element): forward passes seen; drives the warm-up (``stable``).

Warm-up (QTool's ``stable`` / ``correlate``): for the first ``stable`` forward passes a learned
-clip quantizer returns its input unchanged and sets its clip from the data (running mean of
``max|x|``, times ``correlate`` when positive). The learned clip stays in the autograd graph with
zero contribution, so DDP never sees an unused parameter, and the statistic is averaged over
ranks when ``torch.distributed`` is initialised, so replicas agree.

Weight cache (inference): when autograd is off and the input is an ``nn.Parameter`` (a layer's
weight), the fake-quantized copy is kept and returned again while nothing it depends on has
changed: the weight (same object, storage and in-place version), every parameter and buffer of
the quantizer (clip, basis, ``level_num``: in-place updates such as a policy's ``fill_`` bump
their version) and its plain attributes (e.g. ``training``, ``adaptive``). A layer called several
times per image (FCOS/RetinaNet heads shared across FPN levels) or per batch then quantizes its
weight once. Side effects stay those of an uncached pass (``iteration`` still counts). Activations
are never cached; any call with autograd on drops the cached copy. ``cache_weights = False`` on an
instance (or the class) turns it off.
"""
import math
import weakref

import torch
from torch import nn

__all__ = ["Quantizer", "levels_from_bits"]


def _version_of(t):
    """In-place version counter of ``t``; None for inference-mode tensors, which keep none."""
    try:
        return t._version
    except RuntimeError:
        return None


def levels_from_bits(bits=None, levels=None):
    """Number of levels from a bit width or an explicit level count (levels wins when > 0)."""
    if levels is not None and int(levels) > 0:
        levels = int(levels)
    elif bits is not None:
        b = float(bits)
        if b != int(b) or b < 1:
            raise ValueError("bit width must be a whole number >= 1, got {!r}; use levels= for a "
                             "level count that is not a power of two".format(bits))
        levels = 2 ** int(b)
    else:
        raise ValueError("give bits= or levels= (a level count >= 2)")
    if levels < 2:
        raise ValueError("a quantizer needs at least 2 levels, got {}".format(levels))
    return levels


class Quantizer(nn.Module):
    """Base fake quantizer.

    Args:
        num_levels: number of levels ``L`` (>= 2), e.g. 4 for 2 bit, 3 for ternary, 256 for 8 bit.
        signed: symmetric range (weights) if True, non-negative range (activations after ReLU)
            if False.
        stable: warm-up forward passes (pass-through + data-driven clip init); 0 disables.
        correlate: multiplier for the observed ``max|x|`` during warm-up; <= 0 means 1.
    """

    method = None  # set by @register_quantizer
    max_levels = 2 ** 16
    cache_weights = True
    # buffers the forward writes as bookkeeping (not inputs of the result): not in the cache key
    cache_ignore = ("iteration",)

    def __init__(self, num_levels, signed, stable=0, correlate=-1.0):
        super().__init__()
        num_levels = int(num_levels)
        if not 2 <= num_levels <= self.max_levels:
            raise ValueError("{} supports 2..{} levels, got {}".format(
                type(self).__name__, self.max_levels, num_levels))
        self.signed = bool(signed)
        self.stable = int(stable)
        self.correlate = float(correlate)
        self.enabled = True
        self.register_buffer("iteration", torch.zeros(1))
        self.register_buffer("level_num", torch.full((1,), float(num_levels)))
        self._cache = None

    # -- public helpers --------------------------------------------------------------------------
    @property
    def num_levels(self):
        """Current number of levels, read from the ``level_num`` buffer."""
        return int(round(float(self.level_num.item())))

    @property
    def bits(self):
        """Bit width when the level count is a power of two, else ``log2(L)`` (e.g. 1.58)."""
        b = math.log2(self.num_levels)
        return int(b) if b == int(b) else round(b, 2)

    def describe(self):
        """One row of the 'what was quantized' report."""
        return {"method": self.method, "levels": self.num_levels, "bits": self.bits,
                "signed": self.signed, "enabled": self.enabled}

    def extra_repr(self):
        return "method={}, levels={}, signed={}, stable={}".format(
            self.method, self.num_levels, self.signed, self.stable)

    def forward(self, x):
        if not self.enabled:
            return x
        if (self.cache_weights and isinstance(x, nn.Parameter) and not torch.is_grad_enabled()
                and not self.in_warmup()):
            return self._quantize_cached(x)
        if getattr(self, "_cache", None) is not None:  # no Module.__setattr__ per training pass
            self._cache = None
        return self.quantize(x)

    # -- weight cache (see the module docstring) --------------------------------------------------
    def _cache_key(self, x):
        key = [id(x), x.data_ptr(), _version_of(x), x.dtype, x.device, tuple(x.shape)]
        for name, t in list(self.named_parameters()) + list(self.named_buffers()):
            if name.rsplit(".", 1)[-1] not in self.cache_ignore:
                key.append((name, t.data_ptr(), _version_of(t), t.dtype, t.device))
        key.extend(sorted((k, v) for k, v in self.__dict__.items()
                          if k != "_cache" and isinstance(v, (bool, int, float, str, type(None)))))
        return tuple(key)

    def _quantize_cached(self, x):
        cached = getattr(self, "_cache", None)
        if cached is not None:
            key, ref, out, out_version = cached
            if ref() is x and _version_of(out) == out_version and key == self._cache_key(x):
                self.cache_hit()
                return out
        self._cache = None
        out = self.quantize(x)
        version = _version_of(out)
        if out is not x and version is not None and _version_of(x) is not None:
            self._cache = (self._cache_key(x), weakref.ref(x), out, version)
        return out

    def cache_hit(self):
        """The side effects of a forward pass that reuses the cached weight: count the pass, as
        an uncached forward does (a subclass whose forward counts differently overrides it)."""
        self.step()

    def clear_cache(self):
        """Drop the cached fake-quantized weight (it is also dropped by any call with autograd)."""
        self._cache = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = None  # pickles and deep copies carry no cached tensor
        return state

    def quantize(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- warm-up ---------------------------------------------------------------------------------
    def in_warmup(self):
        """True while the first ``stable`` forward passes run (counted by ``iteration``)."""
        return self.stable > 0 and float(self.iteration.item()) < self.stable

    def step(self):
        """Count one forward pass (train and eval alike, as QTool's DoReFa family does)."""
        with torch.no_grad():
            self.iteration.add_(1)

    @torch.no_grad()
    def warmup_update(self, clip, x):
        """Fold ``max|x|`` of this pass into ``clip`` (in place) as a running mean over the
        warm-up passes; the statistic is averaged across DDP ranks when one is initialised."""
        m = x.detach().abs().max().to(clip.dtype)
        if self.correlate > 0:
            m = m * self.correlate
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(m)
            m = m / torch.distributed.get_world_size()
        t = float(self.iteration.item()) + 1.0  # this is pass number t (1-based)
        clip.mul_((t - 1.0) / t).add_(m / t)

    def warmup_passthrough(self, x, *learned):
        """Return ``x`` unchanged but keep ``learned`` parameters in the graph (zero gradient)."""
        for p in learned:
            x = x + 0.0 * p.sum()
        return x
