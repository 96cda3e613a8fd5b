"""Helpers shared by the quantized layers: checking and attaching quantizers."""
from torch import nn

__all__ = ["check_quantizer", "quantizer_repr"]


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
