"""Checkpoint export: classifier (torchvision-named) ResNet weights -> detectron2 backbone."""
from .checkpoint_export import ARCHS, arch_depth, export_checkpoint, extract_state_dict
from .resnet_detectron2 import (
    DETECTRON2_PREFIX,
    RESNET_DEPTHS,
    detectron2_config_hints,
    export_resnet_to_detectron2,
    infer_resnet_depth,
    resnet_module_map,
)

__all__ = ["ARCHS", "arch_depth", "export_checkpoint", "extract_state_dict", "DETECTRON2_PREFIX",
           "RESNET_DEPTHS", "detectron2_config_hints", "export_resnet_to_detectron2",
           "infer_resnet_depth", "resnet_module_map"]
