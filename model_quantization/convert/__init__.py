"""Scope-based conversion of any ``nn.Module`` to quantized layers, and its report."""
from .convert import convert_model, convertible_layers
from .report import QuantReport, describe_quantizer, summarize

__all__ = ["convert_model", "convertible_layers", "QuantReport", "summarize",
           "describe_quantizer"]
