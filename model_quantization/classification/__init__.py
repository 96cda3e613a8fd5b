"""Backbone classification: train ResNet-18/34/50 on an ImageFolder, full precision or QAT.

Steps 1-2 of the recipe: ``backbone_full`` (a full-precision ImageNet ResNet, imported from
torchvision's weights file or trained) and ``backbone_low`` (low-bit finetuning of it with the
quantizer options the detector will use; first/last layers as configured). Entry points:
``scripts/train_classifier.py``, ``scripts/backbone_full.py``, ``scripts/make_cls_crops.py``.
"""
from .config import DEFAULTS, apply_opts, load_config
from .evaluate import evaluate_checkpoint
from .state import FORMAT
from .trainer import check_output_dir, train

__all__ = ["DEFAULTS", "FORMAT", "load_config", "apply_opts", "train", "check_output_dir",
           "evaluate_checkpoint"]
