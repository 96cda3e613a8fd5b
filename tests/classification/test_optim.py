"""Tests for the optimizer parameter groups and the per-iteration learning-rate schedule."""
import math

import pytest
import torch

from model_quantization.classification.config import DEFAULTS
from model_quantization.classification.model import build_model, quantize_model
from model_quantization.classification.optim import build_scheduler, lr_factor, param_groups


def _sched(**kw):
    cfg = dict(DEFAULTS["schedule"])
    cfg.update(kw)
    return cfg


def test_lr_factor_cosine_runs_from_one_to_min():
    cfg = _sched(name="cosine", min_lr=0.01)
    assert lr_factor(0, cfg, 0.1, 10, 3) == pytest.approx(1.0)
    assert lr_factor(15, cfg, 0.1, 10, 3) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(
        math.pi * 0.5)))
    assert lr_factor(30, cfg, 0.1, 10, 3) == pytest.approx(0.1)


def test_lr_factor_step_multiplies_at_milestones():
    cfg = _sched(name="step", milestones=[1, 2], gamma=0.1)
    assert [lr_factor(i, cfg, 0.1, 10, 3) for i in (9, 10, 19, 20)] == pytest.approx(
        [1.0, 0.1, 0.1, 0.01])


def test_lr_factor_linear_warmup():
    cfg = _sched(name="constant", warmup_epochs=1)
    assert [lr_factor(i, cfg, 0.1, 4, 2) for i in range(5)] == pytest.approx(
        [0.25, 0.5, 0.75, 1.0, 1.0])


def test_build_scheduler_rejects_unknown_name():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="cosine, step or constant"):
        build_scheduler(opt, _sched(name="poly"), 0.1, 10, 3)


def test_param_groups_exclude_small_and_quantizer_parameters_from_decay():
    model = build_model("resnet18", 3)
    quantize_model(model, {"weight": {"method": "lsq", "bits": 2},
                           "activation": {"method": "lsq", "bits": 2}})
    decay, no_decay = param_groups(model, 1e-4)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(p.ndim > 1 and "clip_val" not in names[id(p)] for p in decay["params"])
    assert any("clip_val" in names[id(p)] for p in no_decay["params"])
    assert no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
