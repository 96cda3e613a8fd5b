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

Weight cache: a quantizer given an ``nn.Parameter`` (a layer's weight) keeps its fake-quantized
copy and returns that same tensor again while nothing it depends on has changed: the weight (same
object, storage and in-place version, so an optimizer step or ``load_state_dict`` is seen), every
parameter and buffer of the quantizer (clip, basis, ``level_num``: in-place updates such as a
policy's ``fill_`` bump their version; ``cache_ignore`` names the bookkeeping buffers the forward
itself writes, e.g. ``iteration``), its plain attributes (``training``, ``adaptive`` ...), whether
autograd is on, which tensors require grad and the autocast state. A layer called several times per
image (FCOS/RetinaNet heads shared across FPN levels) or per batch then quantizes its weight once.

* Autograd off (inference): the copy is a plain tensor, reused across images until the model
  changes. Outputs are bit-identical to recomputing.
* Autograd on (training): the copy is the output of one autograd graph, shared by every use in the
  step, so autograd sums the uses' gradients and runs the quantizer's backward once. Outputs are
  bit-identical; parameter gradients equal the uncached ones up to the order of the summation
  (the uncached pass adds the uses' weight gradients after each quantizer backward, the cached one
  before a single one). The copy is dropped as soon as a backward pass computes its gradient (a
  tensor hook), so each step (and each micro-batch of gradient accumulation: forward, backward,
  forward, backward, step) builds its own graph, and the optimizer's in-place update is seen
  through the weight's version anyway. Not supported with the cache on: two forwards sharing the
  copy, then two separate ``backward()`` calls without ``retain_graph`` (the second finds the
  shared graph freed: "backward through the graph a second time"; sum the losses, or backward
  after each forward). Activation checkpointing: with autograd on, calls inside a backward pass
  (a reentrant checkpoint's recomputation) or under saved-tensor hooks (non-reentrant
  checkpoint, ``save_on_cpu``) bypass the cache, so forward and recomputation save the same
  tensors. Both checks use private torch functions (``torch._C._current_graph_task_id``,
  ``torch._C._autograd._top_saved_tensors_default_hooks``) and are skipped where a torch lacks
  them: there, set ``cache_weights = False`` around checkpointed layers.
  ``torch.jit.trace`` bypasses the cache (a copy from before the trace would be recorded as a
  constant).

Side effects stay those of an uncached pass: ``cache_hit`` counts the reused pass in ``iteration``
as ``quantize`` would; warm-up passes (``in_warmup``) are never cached; a ``quantize`` that changes
its own state (LQ-Net refitting its basis in training) is not cached (the key before and after it
differ), so those passes all run. Activations are never cached; any other call drops the cached
copy; pickles and deep copies carry none. Changes made behind autograd's back
(``w.data.copy_``, which bumps no version) are not seen, except that a backward pass drops a
training copy anyway. ``cache_weights = False`` on an instance (or the class) turns the cache
off.
"""
import math
import weakref

import torch
from torch import nn

__all__ = ["Quantizer", "levels_from_bits"]


_GRAPH_TASK_ID = getattr(torch._C, "_current_graph_task_id", None)  # torch >= 2.0
_TOP_SAVED_HOOKS = getattr(getattr(torch._C, "_autograd", None), "_top_saved_tensors_default_hooks",
                           None)


def _saved_tensor_hooks_on():
    """True inside ``torch.autograd.graph.saved_tensors_hooks`` (non-reentrant checkpoint,
    ``save_on_cpu``): its recomputation must save what the forward saved, use for use."""
    if _TOP_SAVED_HOOKS is None:
        return False
    try:
        return _TOP_SAVED_HOOKS(False) is not None
    except TypeError:  # another signature in another torch
        return _TOP_SAVED_HOOKS() is not None


def _graph_cache_unsafe():
    """With autograd on, whether a cached graph must not be shared here: inside a backward pass
    (a reentrant checkpoint's recomputation, which would backpropagate the shared graph on its
    own) or under saved-tensor hooks."""
    return (_GRAPH_TASK_ID is not None and _GRAPH_TASK_ID() != -1) or _saved_tensor_hooks_on()


def _autocast_state_fn():
    try:
        torch.is_autocast_enabled("cpu")
    except TypeError:  # torch < 2.4: no device argument (and no deprecation of the CPU call)
        cpu = getattr(torch, "is_autocast_cpu_enabled", lambda: False)
        return lambda: (torch.is_autocast_enabled(), cpu())
    return lambda: (torch.is_autocast_enabled(), torch.is_autocast_enabled("cpu"))


# whether autocast is on (CUDA, CPU): it may change the dtype a quantizer computes in
_autocast_state = _autocast_state_fn()


def _drop_on_backward(quantizer, token):
    """Tensor hook for a cached output with a graph: when a backward pass computes its gradient
    (so that graph is being used up), drop the cache entry ``token`` if it is still the current
    one. Holds the quantizer weakly and not the entry, so no reference cycle through the graph."""
    ref = weakref.ref(quantizer)

    def hook(grad):
        q = ref()
        if q is not None:
            cached = q.__dict__.get("_cache")
            if cached is not None and cached[-1] is token:
                q._cache = None
    return hook


_PLAIN_TYPES = (bool, int, float, str, type(None))  # attributes that enter the cache key


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
        if (self.cache_weights and isinstance(x, nn.Parameter) and not self.in_warmup()
                and not torch.jit.is_tracing()
                and not (torch.is_grad_enabled() and _graph_cache_unsafe())):
            return self._quantize_cached(x)
        if getattr(self, "_cache", None) is not None:  # no Module.__setattr__ per activation
            self._cache = None
        return self.quantize(x)

    def commutes_with_zero_padding(self):
        """Whether zero padding may move across this quantizer: quantizing then padding with
        zeros gives the same values, gradients and quantizer state as padding then quantizing,
        because the forward maps 0 to 0 element by element and reads no statistic of the input
        that padded zeros would change (a count of elements, a fitted basis). A convolution may
        then pad inside the convolution instead of copying its input (the patched detectron2
        ``Conv2d``). False unless a method says otherwise."""
        return False

    # -- weight cache (see the module docstring) --------------------------------------------------
    def _cache_key(self, x):
        """Everything the quantized weight depends on (see the module docstring). Built on every
        use of a weight, so it reads the module's own tensor dicts directly (a quantizer has no
        submodules; one that has is walked with ``named_parameters``/``named_buffers``) and keeps
        the attribute order of ``__dict__`` (an attribute deleted and set again only costs one
        recomputation)."""
        key = [id(x), x.data_ptr(), _version_of(x), x.dtype, x.device, x.shape,
               torch.is_grad_enabled(), x.requires_grad, _autocast_state()]
        if self._modules:
            tensors = list(self.named_parameters()) + list(self.named_buffers())
        else:
            tensors = list(self._parameters.items()) + list(self._buffers.items())
        ignore = self.cache_ignore
        for name, t in tensors:
            if t is not None and name.rsplit(".", 1)[-1] not in ignore:
                key.append((name, t.data_ptr(), _version_of(t), t.dtype, t.device,
                            t.requires_grad))
        key.extend((k, v) for k, v in self.__dict__.items()
                   if k != "_cache" and isinstance(v, _PLAIN_TYPES))
        return tuple(key)

    def _quantize_cached(self, x):
        key = self._cache_key(x)
        cached = getattr(self, "_cache", None)
        if cached is not None:
            old_key, ref, out, out_version, _ = cached
            if ref() is x and _version_of(out) == out_version and old_key == key:
                self.cache_hit()
                return out
            self._cache = None
        out = self.quantize(x)
        version = _version_of(out)
        if (out is not x and version is not None and _version_of(x) is not None
                and self._cache_key(x) == key):  # this pass changed no input (LQ-Net training)
            token = object()
            if out.requires_grad:
                out.register_hook(_drop_on_backward(self, token))
            self._cache = (key, weakref.ref(x), out, version, token)
        return out

    def cache_hit(self):
        """The side effects of a forward pass that reuses the cached weight: count the pass, as
        an uncached forward does (a subclass whose forward counts differently overrides it)."""
        self.step()

    def clear_cache(self):
        """Drop the cached fake-quantized weight (also dropped by a backward pass through it)."""
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
        if not torch.is_grad_enabled():  # inference: no context manager per weight use
            self.iteration.add_(1)
            return
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
