"""quantization.update_quantization: QTool's policy entry point (docs/forks.md, "What the forks
import and call", "The policy file grammar")."""
import pytest
import torch
from compat_fakes import LSQ_2BIT, quant_cfg

from model_quantization.compat.quant import quantization

WT = [16, 8, 3, 3]


def make(tag="wt", **options):
    cfg = quant_cfg(**dict(LSQ_2BIT, **options))
    q = quantization(args=cfg, tag=tag, shape=[1, 8, 1, 1] if tag == "fm" else WT)
    q.update_quantization(index=8)
    return cfg, q


def test_update_index_sets_index():
    _, q = make()
    q.update_quantization(index=12)
    assert q.index == 12


def test_update_coerces_policy_text_to_attribute_types():
    _, q = make()
    q.update_quantization(by_index=["36", "8"], stable="10", correlate="0.8", adaptive="'none'")
    assert (q.stable, q.correlate, q.adaptive) == (10, 0.8, "none")
    assert (q.quantizer.stable, q.quantizer.correlate, q.quantizer.adaptive) == (10, 0.8, "none")


def test_update_ignores_unselected_index_and_tag():
    _, q = make()
    q.update_quantization(by_index="9 10", stable="10")
    q.update_quantization(by_index="8", by_tag="fm", stable="7")
    assert q.stable == 0


def test_update_level_num_fills_live_buffer():
    _, q = make()
    buf = q.level_num
    q.update_quantization(by_index="all", level_num="256", num_levels="256")
    assert q.level_num is buf and q.quantizer.num_levels == 256 and q.num_levels == 256
    w = torch.randn(*WT)
    assert q(w).unique().numel() > 4


def test_update_bit_alone_keeps_levels_and_warns(caplog):
    _, q = make()
    q.update_quantization(by_index="8", bit="8")
    assert q.bit == 8 and q.quantizer.num_levels == 4
    assert "without level_num/num_levels" in caplog.text


def test_update_bit_sets_levels_with_strict_bit_keyword():
    _, q = make(keyword=["dorefa", "lsq", "strict-bit"])
    q.update_quantization(by_index="8", bit="8")
    assert q.quantizer.num_levels == 256 and q.num_levels == 256


def test_update_enable_false_makes_identity_and_returns_none():
    _, q = make()
    assert q.update_quantization(by_index="8", enable="False") is None
    w = torch.randn(*WT)
    assert torch.equal(q(w), w)
    assert q.update_quantization(by_index="8", enable="True") == {}
    assert not torch.equal(q(w), w)


def test_update_cannot_enable_layer_built_disabled():
    _, q = make(tag="fm", fm_enable=False)
    with pytest.raises(ValueError, match="cannot enable quantization of layer 8.*fm_enable"):
        q.update_quantization(by_index="8", enable="True")


def test_update_global_buffer_stores_live_parameter_in_frozen_cfg():
    cfg, q = make()
    assert cfg.is_frozen()
    q.update_quantization(by_index="all", global_buffer="clip_val")
    assert cfg.global_buffer["clip_val-8-wt"] is q.clip_val
    with torch.no_grad():
        q.clip_val.fill_(0.25)
    assert cfg.global_buffer["clip_val-8-wt"].abs().item() == pytest.approx(0.25)


def test_update_global_buffer_skips_disabled_layer():
    cfg, q = make()
    q.update_quantization(by_index="8", enable="False")
    q.update_quantization(by_index="all", global_buffer="clip_val")
    assert "clip_val-8-wt" not in cfg.global_buffer


def test_update_rebuild_keeps_parameter_identity():
    cfg, q = make()
    q.update_quantization(by_index="all", global_buffer="clip_val")
    clip = q.clip_val
    with torch.no_grad():
        clip.fill_(0.6)
    q.update_quantization(by_index="8", adaptive="none", stable="10")
    assert q.clip_val is clip and cfg.global_buffer["clip_val-8-wt"] is clip
    assert q.clip_val.item() == pytest.approx(0.6) and q.quantizer.adaptive == "none"


def test_update_invalid_core_option_raises_from_core():
    _, q = make()
    with pytest.raises(ValueError, match="adaptive"):
        q.update_quantization(by_index="8", adaptive="var-men")


def test_update_clip_val_fill_from_policy():
    _, q = make()
    clip = q.clip_val
    q.update_quantization(by_index="8", clip_val="0.5")
    assert q.clip_val is clip and clip.item() == pytest.approx(0.5)


def test_update_disabled_layer_keeps_clip_in_graph_for_ddp():
    _, q = make()
    q.update_quantization(by_index="8", enable="False")
    w = torch.randn(*WT, requires_grad=True)
    y = q(w)
    assert torch.equal(y, w)
    y.sum().backward()
    assert q.clip_val.grad is not None and torch.all(q.clip_val.grad == 0)
