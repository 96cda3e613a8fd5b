"""Helpers shared by the quantized layers: checking and attaching quantizers."""
from torch import nn

__all__ = ["check_quantizer", "quantizer_repr", "share_parameters", "QuantLayerMixin"]


def check_quantizer(value, role):
    """Return ``value`` if it is an ``nn.Module`` or ``None``; raise ``TypeError`` otherwise."""
    if value is not None and not isinstance(value, nn.Module):
        raise TypeError("{} quantizer must be an nn.Module (e.g. a Quantizer) or None for "
                        "identity, got {!r}; build one with QuantSpec(...).build({!r}, shape)"
                        .format(role, type(value).__name__, role))
    return value


def quantizer_repr(module):
    """Short 'weight=..., activation=...' text for ``extra_repr``."""
    def one(q):
        if q is None:
            return "float"
        method = getattr(q, "method", None) or type(q).__name__
        levels = getattr(q, "num_levels", None)
        return "{}/{}L".format(method, levels) if levels is not None else str(method)
    return "quant_weight={}, quant_activation={}".format(
        one(module.quant_weight), one(module.quant_activation))


def share_parameters(target, source):
    """Give ``target`` ``source``'s weight and bias Parameters (the same objects, not copies)
    and its train mode; return ``target``."""
    target.weight = source.weight
    target.bias = source.bias
    target.train(source.training)
    return target


class QuantLayerMixin(object):
    """What ``QuantConv2d`` and ``QuantLinear`` share: attaching the two quantizers, quantizing
    the operands of the forward, and the quantizers in ``extra_repr``."""

    def attach_quantizers(self, weight_quantizer, act_quantizer):
        self.quant_weight = check_quantizer(weight_quantizer, "weight")
        self.quant_activation = check_quantizer(act_quantizer, "activation")

    def quantized_operands(self, x):
        """``(Q_a(x), Q_w(W))``; a ``None`` quantizer is the identity."""
        if self.quant_activation is not None:
            x = self.quant_activation(x)
        w = self.weight if self.quant_weight is None else self.quant_weight(self.weight)
        return x, w

    def extra_repr(self):
        return super().extra_repr() + ", " + quantizer_repr(self)
