"""model_quantization: quantization-aware training for object detectors.

Layers (imports point inward): ``functional`` (STE helpers) -> ``quantizers`` (one file per
method, a registry) -> ``nn`` (QuantConv2d / QuantLinear) -> ``convert`` (scope conversion,
reports) -> ``compat`` (the QTool-shaped API the pinned detectron2/AdelaiDet forks import, with
QTool's options and policy files). Nothing outside ``compat`` knows about the forks.
"""
__version__ = "0.1.0"
