"""Layers that hold fake quantizers: ``QuantConv2d`` and ``QuantLinear``.

They carry no method logic: the input activation goes through ``quant_activation``, the weight
through ``quant_weight`` (each a ``Quantizer`` or ``None`` for identity), then the usual
``F.conv2d`` / ``F.linear`` runs on the quantized tensors.
"""
from .quant_conv import QuantConv2d
from .quant_linear import QuantLinear

__all__ = ["QuantConv2d", "QuantLinear"]
