"""Pure tensor helpers: straight-through estimators and gradient scaling."""
from .ste import clamp_ste_scale, grad_scale, round_ste, ste_identity

__all__ = ["round_ste", "grad_scale", "clamp_ste_scale", "ste_identity"]
