"""The QTool-shaped API the pinned detectron2 fork imports as ``third_party.quantization``.

Modules keep QTool's names: :mod:`.quant` (class ``quantization``), :mod:`.policy`
(``read_policy``, ``deploy_on_init``, ``deploy_on_epoch``, ``deploy_on_iteration``) and
:mod:`.dorefa` (``RoundSTE``). They are thin adapters over the library's core: the quantizers
(:mod:`model_quantization.quantizers`). QTool's option table and its translation to quantizer
arguments are :mod:`.options`; the policy-file grammar :mod:`.policy_file` and its application
to layers :mod:`.policy_apply`. ``python -m model_quantization.compat.wire --detectron2 PATH``
makes the fork's ``third_party.quantization`` an alias of this package (:mod:`.wire`).
"""
from . import dorefa, policy, quant
from .dorefa import RoundSTE
from .policy import deploy_on_epoch, deploy_on_init, deploy_on_iteration, read_policy
from .quant import quantization

__all__ = ["quant", "policy", "dorefa", "quantization", "read_policy", "deploy_on_init",
           "deploy_on_epoch", "deploy_on_iteration", "RoundSTE", "SUBMODULES"]

# the submodules the fork imports by name, aliased by .wire
SUBMODULES = ("quant", "policy", "dorefa")
