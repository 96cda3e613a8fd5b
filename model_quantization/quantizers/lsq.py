"""LSQ with a learned clip value, as QTool implements it.

Paper: Esser et al., "Learned Step Size Quantization", ICLR 2020 (QTool learns the clip ``c``,
the top level, instead of the step; step = ``c/(L-1)`` unsigned, ``2c/(L-1)`` signed).
Forward: unsigned ``y = round(clamp(x/|c|, 0, 1)(L-1))/(L-1) |c|``; signed: ``L`` levels evenly
spaced on ``[-|c|, |c|]`` (``y = (2 round((clamp(x/|c|,-1,1)+1)/2 (L-1))/(L-1) - 1) |c|``, no zero
level for even ``L``). Weights may be standardised first (``adaptive="var-mean"``).
Gradient: to ``x`` identity inside the clip range, 0 outside (times ``sqrt(N/N_inside)`` with
``grad_type="STE-scale"``); to ``c``: ``q - x/|c|`` inside, ``+1`` above, ``0`` (unsigned) /
``-1`` (signed) below, times ``grad_scale`` when set (value unchanged, gradient scaled).
"""
import torch
from torch import nn

from ..functional.ste import grad_scale as scale_gradient
from ..functional.uniform import clip_fake_quant, clip_fake_quant_
from ._common import check_choice, check_groups, clip_shape, current_levels, standardize, to_groups
from .base import Quantizer
from .registry import register_quantizer

__all__ = ["LSQQuantizer"]


@register_quantizer("lsq")
class LSQQuantizer(Quantizer):
    """LSQ fake quantizer with a learned clip ``clip_val``.

    Args:
        num_levels, signed, stable, correlate: see ``Quantizer``.
        init_clip: initial clip value (QTool's ``boundary``).
        num_groups: number of clips (1 = per tensor); weights: groups of dim 0.
        channel_dim: 0 for weights (``clip_val`` ``[G, 1, ...]``), 1 for activations (``[1]``
            per tensor, else ``[1, G, 1, ...]``).
        ndim: dimensionality of the quantized tensor (4 for conv, 2 for linear); sets the
            shape of ``clip_val``.
        adaptive: ``"none"`` or ``"var-mean"`` (standardise each group of dim 0 with detached
            statistics before quantizing; weights only).
        grad_type: ``"none"`` or ``"STE-scale"``.
        grad_scale: multiplier for the clip gradient (None = 1).
    """

    adaptive_choices = ("none", "var-mean")
    grad_type_choices = ("none", "STE-scale")
    _mode = "lsq"  # which clip gradient clip_fake_quant computes

    def __init__(self, num_levels, signed, stable=0, correlate=-1.0, init_clip=1.0, num_groups=1,
                 channel_dim=0, ndim=4, adaptive="none", grad_type="none", grad_scale=None):
        super().__init__(num_levels, signed, stable=stable, correlate=correlate)
        name = type(self).method
        self.num_groups, self.channel_dim = check_groups(name, num_groups, channel_dim)
        self.adaptive = check_choice(name, "adaptive", adaptive, self.adaptive_choices)
        self.grad_type = check_choice(name, "grad_type", grad_type, self.grad_type_choices)
        if adaptive != "none" and self.channel_dim != 0:
            raise ValueError("{}: adaptive={!r} standardises weights; it needs channel_dim=0 "
                             "(the weight role), got channel_dim=1".format(name, adaptive))
        if float(init_clip) <= 0:
            raise ValueError("{}: init_clip must be > 0, got {!r}".format(name, init_clip))
        self.grad_scale = None if grad_scale is None else float(grad_scale)
        self.ndim = int(ndim)
        shape = clip_shape(self.num_groups, self.channel_dim, self.ndim)
        self.clip_val = nn.Parameter(torch.full(shape, float(init_clip)))
        self._check_signed()

    def _check_signed(self):
        """Hook for subclasses restricted to one sign (PACT)."""

    def grid(self):
        """Output levels, ``[G, L]`` (one row per clip), ascending; computed with the same
        float operations as the forward, so these values are its exact fixed points."""
        levels = current_levels(self)
        c = self.clip_val.detach().abs().reshape(-1, 1)
        step = c * (2.0 / (levels - 1)) if self.signed else c / (levels - 1)
        k = torch.arange(levels, dtype=c.dtype, device=c.device)
        return k * step - c if self.signed else k * step

    def ste_range(self):
        """``(lo, hi)`` per group (``[G, 1]``) where the input gradient is the upstream one."""
        c = self.clip_val.detach().abs().reshape(-1, 1)
        return (-c if self.signed else torch.zeros_like(c)), c

    def commutes_with_zero_padding(self):
        """Unsigned and element by element: 0 is a level, padded zeros add nothing to the clip
        gradient nor to the warm-up's ``max|x|``. Not with ``STE-scale`` (it counts the elements
        inside the range), standardisation or a signed range (0 is no level for even ``L``)."""
        return not self.signed and self.grad_type != "STE-scale" and self.adaptive == "none"

    def quantize(self, x):
        clip = self.clip_val
        if self.in_warmup():
            self.warmup_update(clip, x)
            self.step()
            return self.warmup_passthrough(x, clip)
        self.step()
        if not (torch.is_grad_enabled() and (x.requires_grad or clip.requires_grad)):
            return self._quantize_no_grad(x, clip)
        if self.adaptive == "var-mean":
            x = standardize(x, self.num_groups)
        c = clip.abs().to(x.dtype)
        if self.grad_scale is not None:
            c = scale_gradient(c, self.grad_scale)
        xg = to_groups(x, self.num_groups, self.channel_dim)
        c = c.reshape((-1, 1) if self.channel_dim == 0 else (1, -1, 1))
        y = clip_fake_quant(xg, c, current_levels(self), signed=self.signed, mode=self._mode,
                            ste_scale=self.grad_type == "STE-scale")
        return y.reshape(x.shape)

    def _quantize_no_grad(self, x, clip):
        """The forward when autograd records nothing (inference): the same operations on the
        same values, so the output is equal bit for bit, minus the autograd bookkeeping
        (gradient scaling) and, for standardised weights, the second weight-sized tensor: the
        fresh standardised copy is quantized in place."""
        fresh = self.adaptive == "var-mean"
        if fresh:
            x = standardize(x, self.num_groups)  # a new tensor, ours to overwrite
        c = clip.abs().to(x.dtype)
        xg = to_groups(x, self.num_groups, self.channel_dim)
        c = c.reshape((-1, 1) if self.channel_dim == 0 else (1, -1, 1))
        levels = current_levels(self)
        if fresh:
            y = clip_fake_quant_(xg, c, levels, signed=self.signed, mode=self._mode)
        else:
            y = clip_fake_quant(xg, c, levels, signed=self.signed, mode=self._mode)
        return y.reshape(x.shape)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Accept a QTool clip of the same size but another layout (e.g. [1] vs [1, 1, 1, 1]).
        key = prefix + "clip_val"
        value = state_dict.get(key)
        if value is not None and value.shape != self.clip_val.shape and \
                value.numel() == self.clip_val.numel():
            state_dict[key] = value.reshape(self.clip_val.shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self):
        return "{}, groups={}, adaptive={}, grad_type={}".format(
            super().extra_repr(), self.num_groups, self.adaptive, self.grad_type)
