"""DoReFa-Net quantization (fixed clip for activations, tanh normalisation for weights).

Paper: Zhou et al., "DoReFa-Net: Training Low Bitwidth Convolutional Neural Networks with Low
Bitwidth Gradients", arXiv:1606.06160, 2016.
Forward: activations ``y = round(clamp(x, 0, b)(L-1)/b) b/(L-1)`` (fixed ``b = boundary``);
weights ``t = tanh(w)``, ``t' = t/(2 max|t|) + 1/2``, ``y = 2 round(t'(L-1))/(L-1) - 1``; weights
with ``L = 2``: ``y = sign(w) mean|w|`` (sign(0) = +1, mean per group).
Gradient: rounding is straight-through; activations get 0 outside ``[0, b]``; weights
differentiate through tanh and the normalisation (incl. ``max|t|``); binary weights pass the
gradient straight through (``mean|w|`` is a constant).
"""
import torch

from ..functional.ste import ste_identity
from ..functional.tanh_quant import tanh_weight_quant
from ..functional.uniform import clip_fake_quant
from ._common import check_choice, check_groups, current_levels, standardize
from .base import Quantizer
from .registry import register_quantizer

__all__ = ["DoReFaQuantizer"]


@register_quantizer("dorefa")
class DoReFaQuantizer(Quantizer):
    """DoReFa-Net fake quantizer; ``signed=True`` selects the weight path.

    Args:
        num_levels, signed: see ``Quantizer``.
        stable: the first ``stable`` forward passes return the input unchanged (QTool's warm-up;
            there is no clip to initialise).
        boundary: fixed activation clip ``b`` (QTool ``fm_boundary``, default 1.0).
        adaptive: ``"none"`` or ``"var-mean"`` (standardise weights per group, detached stats).
        num_groups: groups of dim 0 for ``var-mean`` and the binary ``mean|w|``.
        channel_dim: accepted for a uniform interface; DoReFa has no per-channel parameter.
    """

    adaptive_choices = ("none", "var-mean")

    def __init__(self, num_levels, signed, stable=0, correlate=-1.0, boundary=1.0,
                 adaptive="none", num_groups=1, channel_dim=0):
        super().__init__(num_levels, signed, stable=stable, correlate=correlate)
        self.num_groups, self.channel_dim = check_groups("dorefa", num_groups, channel_dim)
        self.adaptive = check_choice("dorefa", "adaptive", adaptive, self.adaptive_choices)
        if adaptive != "none" and not self.signed:
            raise ValueError("dorefa: adaptive={!r} standardises weights (signed=True); "
                             "activations take adaptive='none'".format(adaptive))
        if self.num_groups != 1 and not self.signed:
            raise ValueError("dorefa: activations use one fixed clip (boundary), got num_groups="
                             "{} (per_channel); use method 'lsq' or 'pact' for per-channel clips"
                             .format(self.num_groups))
        if float(boundary) <= 0:
            raise ValueError("dorefa: boundary must be > 0, got {!r}".format(boundary))
        self.boundary = float(boundary)

    def grid(self, x=None):
        """Output levels ``[1, L]``; binary weights need the input ``x`` (``[G, 2]``)."""
        levels = current_levels(self)
        if self.signed and levels == 2:
            if x is None:
                raise ValueError("dorefa binary weights scale by mean|w|: pass the input x")
            e = self._binary_scale(x).reshape(-1, 1)
            return torch.cat([-e, e], dim=1)
        k = torch.arange(levels, dtype=torch.float32)
        if self.signed:
            return (k * (2.0 / (levels - 1)) - 1.0).reshape(1, -1)
        return (k * (self.boundary / (levels - 1))).reshape(1, -1)

    def ste_range(self):
        """Activations: the gradient passes on ``[0, b]``; weights: None (not a clipped STE)."""
        if self.signed:
            return None
        return torch.zeros(1, 1), torch.full((1, 1), self.boundary)

    def commutes_with_zero_padding(self):
        """The activation path (a fixed clip, element by element) maps 0 to 0; weights do not
        commute (tanh normalisation by ``max|t|``)."""
        return not self.signed

    def _binary_scale(self, w):
        return w.detach().abs().reshape(self.num_groups, -1).mean(dim=1)

    def quantize(self, x):
        warmup = self.in_warmup()
        self.step()
        if warmup:
            return x
        levels = current_levels(self)
        if not self.signed:
            return clip_fake_quant(x, self.boundary, levels, signed=False, mode="fixed")
        if self.adaptive == "var-mean":
            x = standardize(x, self.num_groups)
        if levels == 2:
            flat = x.reshape(self.num_groups, -1)
            e = self._binary_scale(x).reshape(-1, 1)
            value = torch.where(flat >= 0, e, -e).reshape(x.shape)
            return ste_identity(value, x)
        return tanh_weight_quant(x, levels)
