"""``QuantConv2d``: an ``nn.Conv2d`` whose input and weight pass through fake quantizers.

Forward: ``y = conv2d(Q_a(x), Q_w(W), b)`` with the module's stride, padding, dilation and groups
(grouped and depthwise convolutions included). ``Q_a``/``Q_w`` are the ``quant_activation`` /
``quant_weight`` submodules, the attribute names the detectron2 fork's ``Conv2d`` uses, so
state-dict keys (``<conv>.quant_weight.clip_val`` ...) line up with QTool checkpoints. ``None``
means identity. Padding is applied by ``F.conv2d`` after quantization (zero is on every
activation grid the quantizers use).
"""
import torch.nn.functional as F
from torch import nn

from ._common import QuantLayerMixin, share_parameters

__all__ = ["QuantConv2d"]


class QuantConv2d(QuantLayerMixin, nn.Conv2d):
    """``nn.Conv2d`` with ``quant_weight`` and ``quant_activation`` (a Quantizer or ``None``).

    Build it like ``nn.Conv2d`` plus the two keyword arguments, or from an existing float conv
    with :meth:`from_float` (which shares the weight and bias Parameters).
    """

    def __init__(self, *args, weight_quantizer=None, act_quantizer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.attach_quantizers(weight_quantizer, act_quantizer)

    @classmethod
    def from_float(cls, module, weight_quantizer=None, act_quantizer=None):
        """A ``QuantConv2d`` sharing ``module``'s weight/bias Parameters (not copies)."""
        if not isinstance(module, nn.Conv2d):
            raise TypeError("QuantConv2d.from_float expects an nn.Conv2d, got {}".format(
                type(module).__name__))
        if module.padding_mode != "zeros":
            raise ValueError("QuantConv2d supports padding_mode='zeros' only, got {!r}; keep "
                             "this layer float (exclude it)".format(module.padding_mode))
        new = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                  module.padding, module.dilation, module.groups, module.bias is not None,
                  module.padding_mode)
        new.attach_quantizers(weight_quantizer, act_quantizer)
        return share_parameters(new, module)

    def to_float(self):
        """A plain ``nn.Conv2d`` sharing this layer's weight/bias Parameters."""
        conv = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride,
                         self.padding, self.dilation, self.groups, self.bias is not None,
                         self.padding_mode)
        return share_parameters(conv, self)

    def forward(self, x):
        x, w = self.quantized_operands(x)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)
