"""Glue between the library and the detection forks (detectron2 RetinaNet, AdelaiDet FCOS).

Only this sub-package knows about the forks, and it imports them lazily (inside functions of
``trainer``), so ``import model_quantization`` never needs detectron2. The pure-Python parts
(experiment table, dataset paths, weight fitting, evaluation files, the report) work without them.
The core package never imports this one.
"""
from .experiments import find_experiment, load_config_chain, load_experiments

__all__ = ["find_experiment", "load_config_chain", "load_experiments"]
