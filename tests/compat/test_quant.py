"""compat.quant.quantization built and driven as the detectron2 fork does (docs/forks.md, "What
the forks import and call")."""
import argparse
import copy

import pytest
import torch
from compat_fakes import LSQ_2BIT, quant_cfg

from model_quantization.compat.quant import quantization
from model_quantization.quantizers import (
    DoReFaQuantizer,
    LQNetQuantizer,
    LSQQuantizer,
    PACTQuantizer,
)

FM, WT = [1, 8, 1, 1], [16, 8, 3, 3]


def lsq_pair(**options):
    cfg = quant_cfg(**dict(LSQ_2BIT, **options))
    return cfg, quantization(args=cfg, tag="fm", shape=FM), quantization(args=cfg, tag="wt",
                                                                           shape=WT)


def test_quantization_disabled_is_identity_without_state():
    q = quantization(args=quant_cfg(), tag="fm", shape=FM)
    x = torch.randn(2, 8, 4, 4)
    assert q(x) is x
    assert dict(q.state_dict()) == {} and list(q.parameters()) == []
    assert not hasattr(q, "iteration") and not hasattr(q, "level_num")
    assert not hasattr(q, "clip_val")


def test_quantization_lsq_config_builds_per_tensor_lsq():
    _, fm, wt = lsq_pair()
    assert isinstance(fm.quantizer, LSQQuantizer) and isinstance(wt.quantizer, LSQQuantizer)
    assert (fm.method, fm.num_levels, fm.quantizer.signed) == ("lsq", 4, False)
    assert (wt.quantizer.signed, wt.quantizer.adaptive) == (True, "var-mean")
    assert wt.clip_val.numel() == 1


def test_quantization_forward_is_on_the_lsq_grid():
    _, fm, _ = lsq_pair(fm_boundary=2.0)
    x = torch.rand(2, 8, 4, 4) * 3
    expected = torch.round(torch.clamp(x / 2.0, 0, 1) * 3) / 3 * 2.0
    assert torch.equal(fm(x), expected)


def test_quantization_accepts_argparse_namespace():
    ns = argparse.Namespace(**dict(LSQ_2BIT, global_buffer={}))
    q = quantization(args=ns, tag="wt", shape=WT)
    assert q.method == "lsq" and q.num_levels == 4 and q.bit == 2


def test_quantization_state_dict_has_qtool_flat_names():
    _, fm, wt = lsq_pair()
    assert set(fm.state_dict()) == {"clip_val", "iteration", "level_num"}
    conv = torch.nn.Module()
    conv.quant_weight = wt
    assert set(conv.state_dict()) == {"quant_weight.clip_val", "quant_weight.iteration",
                                      "quant_weight.level_num"}


def test_quantization_loads_qtool_named_state_dict():
    _, _, wt = lsq_pair()
    qtool = {"clip_val": torch.full((1, 1, 1, 1), 0.37), "iteration": torch.tensor([5.0]),
             "level_num": torch.tensor([4.0])}
    result = wt.load_state_dict(qtool, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert wt.clip_val.item() == pytest.approx(0.37) and wt.iteration.item() == 5.0


def test_quantization_loads_clip_of_other_layout():
    _, fm, _ = lsq_pair()
    fm.load_state_dict({"clip_val": torch.tensor([[[[0.5]]]]), "iteration": torch.zeros(1),
                        "level_num": torch.tensor([4.0])})
    assert fm.clip_val.item() == pytest.approx(0.5)


def test_quantization_state_dict_round_trips():
    _, _, wt = lsq_pair()
    with torch.no_grad():
        wt.clip_val.fill_(0.8)
        wt.level_num.fill_(256)
    _, _, other = lsq_pair()
    other.load_state_dict(copy.deepcopy(wt.state_dict()))
    assert other.clip_val.item() == pytest.approx(0.8) and other.quantizer.num_levels == 256


def test_quantization_named_parameters_yield_learnable_clip():
    _, _, wt = lsq_pair()
    params = dict(wt.named_parameters())
    assert list(params) == ["quantizer.clip_val"] and params["quantizer.clip_val"] is wt.clip_val
    opt = torch.optim.SGD(wt.parameters(), lr=0.1)
    wt(torch.randn(*WT)).sum().backward()
    before = wt.clip_val.item()
    opt.step()
    assert wt.clip_val.item() != before


def test_quantization_warmup_keeps_clip_in_graph():
    _, fm, _ = lsq_pair(stable=2)
    x = torch.rand(1, 8, 3, 3) * 4
    y = fm(x)
    assert torch.equal(y, x)
    y.sum().backward()
    assert fm.clip_val.grad is not None and torch.all(fm.clip_val.grad == 0)


@pytest.mark.parametrize("keyword, fm_cls, wt_cls", [
    (["dorefa"], DoReFaQuantizer, DoReFaQuantizer),
    (["dorefa", "pact"], PACTQuantizer, DoReFaQuantizer),
    (["pact"], PACTQuantizer, DoReFaQuantizer),
    (["dorefa", "wt_lsq"], DoReFaQuantizer, LSQQuantizer),
    (["lq"], LQNetQuantizer, LQNetQuantizer),
])
def test_quantization_keyword_selects_method(keyword, fm_cls, wt_cls):
    _, fm, wt = lsq_pair(keyword=keyword, wt_adaptive="none", fm_level=3, wt_level=3)
    assert type(fm.quantizer) is fm_cls and type(wt.quantizer) is wt_cls


def test_quantization_lq_ternary_is_real_by_default_and_qtool_on_request():
    _, _, real = lsq_pair(keyword=["lq"], wt_adaptive="none", wt_level=3)
    _, _, qtool = lsq_pair(keyword=["lq", "lq-qtool-ternary"], wt_adaptive="none", wt_level=3)
    assert real.quantizer.ternary == "real" and qtool.quantizer.ternary == "qtool"


def test_quantization_enabled_without_method_raises():
    with pytest.raises(ValueError, match="selects no quantization method"):
        lsq_pair(keyword=["lsq"])


def test_quantization_unknown_keyword_suggests_closest():
    with pytest.raises(ValueError, match="unknown quantization keyword 'dorefaa'.*Did you mean "
                                         "'dorefa'"):
        lsq_pair(keyword=["dorefaa", "lsq"])


def test_quantization_unsupported_keyword_raises():
    with pytest.raises(ValueError, match="'xnor'.*does not implement"):
        lsq_pair(keyword=["xnor"])


def test_quantization_conflicting_method_keywords_raise():
    with pytest.raises(ValueError, match="two methods"):
        lsq_pair(keyword=["lq", "dorefa"])


def test_quantization_fork_config_keywords_are_accepted(caplog):
    lsq_pair(keyword=["debug", "dorefa", "lsq", "probe", "adaptive-restore", "nop-conv",
                      "linear-quant"])
    assert "has no effect" in caplog.text


def test_quantization_bit_32_enabled_raises():
    with pytest.raises(ValueError, match="fm_bit=32"):
        lsq_pair(fm_bit=32.0)


def test_quantization_describe_reports_method_and_bits():
    _, fm, _ = lsq_pair()
    fm.update_quantization(index=5)
    row = fm.describe()
    assert (row["tag"], row["index"], row["method"], row["bits"], row["enabled"]) == (
        "fm", 5, "lsq", 2, True)


def test_quantization_without_args_is_disabled_identity():
    q = quantization()
    x = torch.randn(3, 4)
    assert q(x) is x and q.update_quantization(index=2) is None and q.index == 2


def test_quantization_weight_reused_across_calls_until_a_policy_or_the_clip_changes_it():
    """A fork head conv runs once per FPN level: in eval its weight is quantized once, and a
    policy update or an in-place change of the live clip (global_buffer) is still seen."""
    cfg, _, wt = lsq_pair()
    wt.update_quantization(index=3)
    wt.eval()
    weight = torch.nn.Parameter(torch.randn(WT) * 0.1)
    calls = []
    inner = wt.quantizer.quantize
    wt.quantizer.quantize = lambda x: calls.append(1) or inner(x)

    def fresh():
        ref = copy.deepcopy(wt)
        ref.quantizer.__dict__.pop("quantize")
        ref.quantizer.cache_weights = False
        with torch.no_grad():
            return ref(torch.nn.Parameter(weight.detach().clone()))

    with torch.no_grad():
        outs = [wt(weight) for _ in range(5)]
    assert len(calls) == 1 and torch.equal(outs[-1], fresh())
    wt.update_quantization(by_index="3", level_num="16", num_levels="16")
    with torch.no_grad():
        after_policy = wt(weight)
    assert len(calls) == 2 and torch.equal(after_policy, fresh())
    assert torch.unique(after_policy).numel() > 4
    wt.update_quantization(by_index="all", global_buffer="clip_val")
    with torch.no_grad():
        cfg.global_buffer["clip_val-3-wt"].mul_(0.5)  # what a fork hook may do to the live clip
        after_clip = wt(weight)
    assert len(calls) == 3 and torch.equal(after_clip, fresh())


def test_quantization_zero_padding_commutes_as_its_core_says():
    _, fm, wt = lsq_pair()
    assert fm.commutes_with_zero_padding()  # unsigned LSQ
    assert not wt.commutes_with_zero_padding()  # signed, standardised
    _, ste, _ = lsq_pair(fm_grad_type="STE-scale")
    assert not ste.commutes_with_zero_padding()  # counts the elements inside the range
    ste.enable = False  # as a policy's 'enable: False': an identity (x + 0 * clip) commutes
    assert ste.commutes_with_zero_padding()
    assert quantization(args=quant_cfg(), tag="fm", shape=FM).commutes_with_zero_padding()
