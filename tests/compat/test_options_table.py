"""compat.options.OPTIONS: QTool's option table, the one list every other list derives from."""
import pytest
from compat_fakes import LSQ_2BIT, quant_cfg

from model_quantization.compat import options
from model_quantization.compat.quant import quantization
from model_quantization.compat.update import settable_attributes
from model_quantization.quantizers import QUANTIZERS

KINDS = ("live", "core", "inert", "meta")


def test_every_option_has_one_known_kind_and_a_unique_name():
    names = [name for name, _, _ in options.OPTIONS]
    assert len(names) == len(set(names))
    assert {kind for _, kind, _ in options.OPTIONS} <= set(KINDS)
    derived = set(options.LIVE) | set(options.CORE) | set(options.INERT) | {
        n for n, kind, _ in options.OPTIONS if kind == "meta"}
    assert derived == set(options.POLICY_ATTRIBUTES)


@pytest.mark.parametrize("tag, shape", [("fm", (1, 8, 1, 1)), ("wt", (8, 4, 3, 3))])
def test_a_built_layer_has_every_option_of_the_table(tag, shape):
    q = quantization(args=quant_cfg(**LSQ_2BIT), tag=tag, shape=shape)
    missing = [name for name in options.POLICY_ATTRIBUTES if not hasattr(q, name)]
    assert missing == []
    assert settable_attributes(q) == list(options.POLICY_ATTRIBUTES)
    for name, default in options.INERT.items():
        assert getattr(q, name) == default, name


def test_every_translated_method_is_a_registered_quantizer():
    import importlib
    for method in options.METHODS:
        importlib.import_module("model_quantization.quantizers." + method)
        assert method in QUANTIZERS


def test_an_unknown_method_names_the_known_ones():
    opts = {"num_levels": 4, "half_range": True, "stable": 0, "correlate": -1.0,
            "quant_group": 0, "adaptive": "none"}
    with pytest.raises(ValueError, match="method 'foo' is not one of lsq, pact, dorefa, lqnet"):
        options.core_kwargs("foo", opts, "fm", (1, 8, 1, 1), [])
