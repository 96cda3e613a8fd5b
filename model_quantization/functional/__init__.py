"""Pure tensor helpers: straight-through estimators and gradient scaling."""
from .ste import RoundSTE, grad_scale, round_ste, ste_below, ste_identity, ste_masked
from .tanh_quant import tanh_weight_quant
from .uniform import clip_fake_quant, clip_fake_quant_

__all__ = ["RoundSTE", "round_ste", "grad_scale", "ste_identity", "ste_masked", "ste_below",
           "clip_fake_quant", "clip_fake_quant_", "tanh_weight_quant"]
