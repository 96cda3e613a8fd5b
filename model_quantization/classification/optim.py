"""Optimizer and per-iteration learning-rate schedule of the classifier trainer.

Parameter groups: weights of conv/linear layers get ``weight_decay``; biases, normalisation
parameters and quantizer parameters (``clip_val``, under ``quant_weight.`` /
``quant_activation.``) get none unless ``decay_small`` is set (QTool's ``--decay_small``).

Schedule (stepped once per iteration): an optional linear warm-up over ``warmup_epochs``, then
``cosine`` (from ``lr`` down to ``min_lr`` at the last iteration), ``step`` (times ``gamma`` at
each epoch in ``milestones``) or ``constant``.
"""
import math

import torch

__all__ = ["param_groups", "build_optimizer", "build_scheduler", "lr_factor"]


def _is_small(name, param):
    return param.ndim <= 1 or ".quant_weight." in "." + name or ".quant_activation." in "." + name


def param_groups(model, weight_decay, decay_small=False):
    """Two parameter groups: with and without weight decay (empty groups dropped)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if decay_small or not _is_small(name, p) else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": float(weight_decay)},
              {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(model, opt_cfg):
    """SGD (momentum, optional Nesterov) or Adam over :func:`param_groups`."""
    groups = param_groups(model, opt_cfg["weight_decay"], opt_cfg["decay_small"])
    lr = float(opt_cfg["lr"])
    if opt_cfg["name"] == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=float(opt_cfg["momentum"]),
                               nesterov=bool(opt_cfg["nesterov"]))
    if opt_cfg["name"] == "adam":
        return torch.optim.Adam(groups, lr=lr)
    raise ValueError("optimizer.name {!r} is not supported; choose sgd or adam".format(
        opt_cfg["name"]))


def lr_factor(iteration, sched_cfg, base_lr, iters_per_epoch, epochs):
    """Multiplier of the base learning rate at ``iteration`` (0-based)."""
    total = max(1, iters_per_epoch * epochs)
    warmup = int(round(float(sched_cfg["warmup_epochs"]) * iters_per_epoch))
    if iteration < warmup:
        return (iteration + 1) / float(warmup)
    name = sched_cfg["name"]
    if name == "constant":
        return 1.0
    if name == "step":
        epoch = iteration // max(1, iters_per_epoch)
        passed = sum(1 for m in sched_cfg["milestones"] if epoch >= int(m))
        return float(sched_cfg["gamma"]) ** passed
    if name == "cosine":
        floor = float(sched_cfg["min_lr"]) / float(base_lr)
        span = max(1, total - warmup)
        t = min(1.0, (iteration - warmup) / float(span))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError("schedule.name {!r} is not supported; choose cosine, step or constant"
                     .format(name))


def build_scheduler(optimizer, sched_cfg, base_lr, iters_per_epoch, epochs):
    """A ``LambdaLR`` stepped once per iteration (its state is just the iteration count)."""
    def factor(it):
        return lr_factor(it, sched_cfg, base_lr, iters_per_epoch, epochs)

    lr_factor(0, sched_cfg, base_lr, iters_per_epoch, epochs)  # reject a bad name up front
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
