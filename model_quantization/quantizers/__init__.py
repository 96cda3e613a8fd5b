"""Fake quantizers, one module per method, built by name through the registry."""
from . import dorefa, lqnet, lsq, pact  # noqa: F401  (importing registers each method)
from .base import Quantizer, levels_from_bits
from .dorefa import DoReFaQuantizer
from .lqnet import LQNetQuantizer
from .lsq import LSQQuantizer
from .pact import PACTQuantizer
from .registry import QUANTIZERS, available_methods, build_quantizer, register_quantizer
from .spec import QuantSpec

__all__ = ["Quantizer", "levels_from_bits", "QUANTIZERS", "available_methods", "build_quantizer",
           "register_quantizer", "QuantSpec", "LSQQuantizer", "DoReFaQuantizer", "PACTQuantizer",
           "LQNetQuantizer"]
