"""``QuantLinear``: an ``nn.Linear`` whose input and weight pass through fake quantizers.

Forward: ``y = linear(Q_a(x), Q_w(W), b)``; ``Q_a``/``Q_w`` are the ``quant_activation`` /
``quant_weight`` submodules (a Quantizer, or ``None`` for identity), as in ``QuantConv2d``.
"""
import torch.nn.functional as F
from torch import nn

from ._common import QuantLayerMixin, share_parameters

__all__ = ["QuantLinear"]


class QuantLinear(QuantLayerMixin, nn.Linear):
    """``nn.Linear`` with ``quant_weight`` and ``quant_activation`` (a Quantizer or ``None``)."""

    def __init__(self, in_features, out_features, bias=True, weight_quantizer=None,
                 act_quantizer=None, **kwargs):
        super().__init__(in_features, out_features, bias=bias, **kwargs)
        self.attach_quantizers(weight_quantizer, act_quantizer)

    @classmethod
    def from_float(cls, module, weight_quantizer=None, act_quantizer=None):
        """A ``QuantLinear`` sharing ``module``'s weight/bias Parameters (not copies)."""
        if not isinstance(module, nn.Linear):
            raise TypeError("QuantLinear.from_float expects an nn.Linear, got {}".format(
                type(module).__name__))
        new = cls(module.in_features, module.out_features, bias=module.bias is not None)
        new.attach_quantizers(weight_quantizer, act_quantizer)
        return share_parameters(new, module)

    def to_float(self):
        """A plain ``nn.Linear`` sharing this layer's weight/bias Parameters."""
        linear = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        return share_parameters(linear, self)

    def forward(self, x):
        x, w = self.quantized_operands(x)
        return F.linear(x, w, self.bias)
