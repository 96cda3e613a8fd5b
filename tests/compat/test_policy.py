"""compat.policy: deploy_on_init / read_policy / deploy_on_epoch on a fake fork detector whose
module order reproduces the fork's index map (docs/forks.md, "What the forks import and call",
"Layer indices", "The policy file grammar")."""
import os

import pytest
import torch
from compat_fakes import (
    LSQ_2BIT,
    FakeDetector,
    conv_at,
    convert2quantization,
    norm_at,
    quant_cfg,
    run_conv,
)

from model_quantization.compat.policy import (
    deploy_on_epoch,
    deploy_on_init,
    deploy_on_iteration,
    read_policy,
)
from model_quantization.compat.policy_file import PolicyError

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
FCOS_R18 = os.path.join(FIXTURES, "policy-fcos-r18-fixpoint.txt")
RETINA_R18 = os.path.join(FIXTURES, "policy-retina-r18-test.txt")
FCOS_R50 = os.path.join(FIXTURES, "policy-fcos-r50-eval.txt")


def detector(scope=("backbone", "head"), **options):
    cfg = quant_cfg(**dict(LSQ_2BIT, **options))
    model = convert2quantization(FakeDetector(), cfg, scope=scope)
    return cfg, model


def write(tmp_path, text):
    path = tmp_path / "policy.txt"
    path.write_text(text)
    return str(path)


def test_deploy_on_init_indexes_unconverted_convs_too():
    _, model = detector(scope=("head",))
    deploy_on_init(model, "", verbose=lambda s: None)
    assert conv_at(model, 8).force_fp and conv_at(model, 8).quant_weight is None
    assert conv_at(model, 28).quant_weight.index == 28  # fork scope index was 0
    assert conv_at(model, 38).quant_activation.index == 38


@pytest.mark.parametrize("filename", ["", None])
def test_deploy_on_init_without_policy_only_indexes(filename):
    _, model = detector()
    logs = []
    deploy_on_init(model, filename, verbose=logs.append)
    assert "no policy file" in logs[-1]
    assert conv_at(model, 8).quant_activation.enable


def test_deploy_on_init_missing_file_raises():
    _, model = detector()
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        deploy_on_init(model, "nope.txt", verbose=lambda s: None)


def test_deploy_on_init_fcos_r18_fixpoint_policy():
    _, model = detector()
    deploy_on_init(model, FCOS_R18, verbose=lambda s: None)
    stem = conv_at(model, 8)
    assert not stem.quant_activation.enable and stem.quant_weight.enable
    for i in (8, 36, 37, 38):
        wt = conv_at(model, i).quant_weight
        assert (wt.quantizer.num_levels, wt.quantizer.stable, wt.quantizer.correlate,
                wt.quantizer.adaptive) == (256, 10, 0.8, "none")
    assert conv_at(model, 36).quant_activation.quantizer.num_levels == 256
    assert conv_at(model, 9).quant_weight.quantizer.num_levels == 4
    x = torch.rand(1, 4, 5, 5)
    assert torch.equal(stem.quant_activation(x), x)


def test_deploy_on_init_retina_r18_test_policy_norm_and_eltwise():
    cfg, model = detector()
    deploy_on_init(model, RETINA_R18, verbose=lambda s: None)
    assert cfg.global_buffer["clip_val-28-fm"] is conv_at(model, 28).quant_activation.clip_val
    assert "clip_val-8-fm" not in cfg.global_buffer and "clip_val-8-wt" in cfg.global_buffer
    bn = norm_at(model, 5)
    assert (bn.enable, bn.input_index, bn.input_scale, bn.choice) == (
        True, "clip_val-5", pytest.approx(0.2222222222222), "RoundSTE")
    assert norm_at(model, 29).input_index == "clip_val-28"
    assert norm_at(model, 67).input_index == "clip_val-35"
    adds = [m for m in model.modules() if hasattr(m, "update_eltwise_quantization_parameter")]
    assert adds[8].x_index == ["clip_val-2-norm", "clip_val-0-norm"] and adds[0].enable
    run_conv(conv_at(model, 36))  # 8-bit-intended layers still run (bit-only policy warns)


def test_deploy_on_init_r50_eval_policy_on_r50_index_map():
    cfg = quant_cfg(**LSQ_2BIT)
    model = convert2quantization(FakeDetector(backbone_convs=52), cfg)
    deploy_on_init(model, FCOS_R50, verbose=lambda s: None)
    assert [conv_at(model, i).quant_weight.enable for i in (8, 68, 69, 70, 71)] == [
        False, True, False, False, False]


def test_deploy_on_init_tolerates_index_of_unconverted_layer():
    scope = ("backbone.fpn", "backbone.top_block", "backbone.bottom_up.blocks", "head.cls_tower",
             "head.bbox_tower")
    _, model = detector(scope=scope)
    logs = []
    deploy_on_init(model, FCOS_R18, verbose=logs.append)
    assert any("left unconverted" in line and "[8]" in line for line in logs)
    assert conv_at(model, 9).quant_weight.quantizer.num_levels == 4


def test_deploy_on_init_index_beyond_model_raises(tmp_path):
    _, model = detector()
    path = write(tmp_path, "on init:\n  by_index: 39\n  enable: False\n")
    with pytest.raises(PolicyError, match=r"policy.txt:2: by_index \[39\] selects no layer.*0-38"):
        deploy_on_init(model, path, verbose=lambda s: None)


def test_deploy_on_init_unknown_key_names_line_and_closest(tmp_path):
    _, model = detector()
    path = write(tmp_path, "on init:\n  by_index: 8\n  stabel: 10\n")
    with pytest.raises(PolicyError, match=r"policy.txt:2: 'stabel'.*Did you mean 'stable'"):
        deploy_on_init(model, path, verbose=lambda s: None)


def test_deploy_on_init_unknown_tag_raises(tmp_path):
    _, model = detector()
    path = write(tmp_path, "on init:\n  by_index: 8\n  by_tag: wts\n  enable: False\n")
    with pytest.raises(PolicyError, match="by_tag 'wts' matches no object"):
        deploy_on_init(model, path, verbose=lambda s: None)


def test_deploy_on_init_norm_key_checked_against_norm_modules(tmp_path):
    _, model = detector()
    path = write(tmp_path, "on norm:\n  by_index: all\n  input_indx: clip_val-same\n")
    with pytest.raises(PolicyError, match="'input_indx'.*Did you mean 'input_index'"):
        deploy_on_init(model, path, verbose=lambda s: None)


def test_read_policy_returns_trigger_first():
    policies = read_policy(RETINA_R18, "norm", verbose=lambda s: None)
    assert policies[0] == {"trigger": []} and policies[1]["choice"] == "'RoundSTE'"
    assert read_policy(RETINA_R18, "epoch", verbose=lambda s: None) == []


def test_deploy_on_epoch_applies_only_on_trigger(tmp_path):
    _, model = detector()
    deploy_on_init(model, "", verbose=lambda s: None)
    path = write(tmp_path, "on epoch: 3 5\n  by_index: 9\n  level_num: 8\n")
    policies = read_policy(path, "epoch", verbose=lambda s: None)
    deploy_on_epoch(model, policies, 2, verbose=lambda s: None)
    assert conv_at(model, 9).quant_weight.quantizer.num_levels == 4
    deploy_on_epoch(model, policies, 3, optimizer=torch.optim.SGD(model.parameters(), lr=0.1,
                                                                   momentum=0.9),
                    verbose=lambda s: None)
    assert conv_at(model, 9).quant_weight.quantizer.num_levels == 8


def test_deploy_on_iteration_rejects_non_sgd_optimizer(tmp_path):
    _, model = detector()
    deploy_on_init(model, "", verbose=lambda s: None)
    path = write(tmp_path, "on iteration: 10\n  by_index: 9\n  level_num: 8\n")
    policies = read_policy(path, "iteration", verbose=lambda s: None)
    with pytest.raises(TypeError, match="Adam"):
        deploy_on_iteration(model, policies, 10, optimizer=torch.optim.Adam(model.parameters()),
                            verbose=lambda s: None)
