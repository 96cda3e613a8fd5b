"""QTool's ``dorefa.RoundSTE``: the rounding autograd Function the fork's BatchNorm imports.

Forward ``round(x)`` elementwise; backward passes the incoming gradient unchanged (the
straight-through estimator, Bengio et al. 2013, as used by DoReFa-Net, Zhou et al. 2016).
``RoundSTE.apply(x, ratio)`` accepts QTool's unused second argument (its gradient is ``None``).
It is the library's own :class:`model_quantization.functional.ste.RoundSTE`, re-exported here
under QTool's module name.
"""
from ..functional.ste import RoundSTE

__all__ = ["RoundSTE"]
