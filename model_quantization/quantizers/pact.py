"""PACT: parameterized clipping activation.

Paper: Choi et al., "PACT: Parameterized Clipping Activation for Quantized Neural Networks",
arXiv:1805.06085, 2018. Unsigned activations only.
Forward: ``y = round(clamp(x, 0, a)(L-1)/a) a/(L-1)`` with the learned clip ``a`` (``clip_val``)
detached inside the rounding (only the clamp sees ``a``).
Gradient: to ``x`` identity on ``0 <= x < a``, 0 elsewhere (STE); to ``a``: ``+1`` for every element
with ``x >= a`` (PACT's rule), nothing from the rounding; times ``grad_scale`` when set.

Default ``init_clip`` is 8.0: the value the fork's PACT configs use for ``fm_boundary`` (the paper
initialises to 10); a warm-up (``stable`` > 0) replaces it with a data-driven value.
"""
from .lsq import LSQQuantizer
from .registry import register_quantizer

__all__ = ["PACTQuantizer"]


@register_quantizer("pact")
class PACTQuantizer(LSQQuantizer):
    """PACT fake quantizer (activations); same state and warm-up as ``LSQQuantizer``.

    Args:
        num_levels, signed, stable, correlate: see ``Quantizer`` (``signed`` must be False).
        init_clip: initial clip ``a`` (default 8.0).
        num_groups, channel_dim, ndim, grad_type, grad_scale: see ``LSQQuantizer``.
    """

    _mode = "pact"

    def __init__(self, num_levels, signed=False, stable=0, correlate=-1.0, init_clip=8.0,
                 num_groups=1, channel_dim=1, ndim=4, grad_type="none", grad_scale=None):
        super().__init__(num_levels, signed, stable=stable, correlate=correlate,
                         init_clip=init_clip, num_groups=num_groups, channel_dim=channel_dim,
                         ndim=ndim, grad_type=grad_type, grad_scale=grad_scale)

    def _check_signed(self):
        if self.signed:
            raise ValueError("pact quantizes unsigned activations only (signed=False), got "
                             "signed=True; for weights or signed tensors use method 'lsq' or "
                             "'dorefa'")

    def ste_range(self):
        """``(lo, hi)``: the input gradient passes on ``[0, a)``."""
        c = self.clip_val.detach().abs().reshape(-1, 1)
        return c.new_zeros(c.shape), c
