"""Fake quantizers, one module per method, built by name through the registry."""
from .base import Quantizer, levels_from_bits
from .registry import QUANTIZERS, available_methods, build_quantizer, register_quantizer

__all__ = ["Quantizer", "levels_from_bits", "QUANTIZERS", "available_methods", "build_quantizer",
           "register_quantizer"]
