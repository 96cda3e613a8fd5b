"""QuantSpec: validation at construction, role defaults, per_channel, serialisation."""
import pickle

import pytest
import yaml

from model_quantization.quantizers import LSQQuantizer, QuantSpec


def test_spec_str_is_short_form():
    assert str(QuantSpec("lsq", bits=2)) == "lsq/2b"
    assert str(QuantSpec("lqnet", levels=3)) == "lqnet/3L"
    assert str(QuantSpec("dorefa", levels=256)) == "dorefa/8b"


def test_spec_build_weight_defaults():
    q = QuantSpec("lsq", bits=2).build("weight", [16, 8, 3, 3])
    assert isinstance(q, LSQQuantizer)
    assert q.signed and q.channel_dim == 0 and q.num_levels == 4
    assert tuple(q.clip_val.shape) == (1, 1, 1, 1)


def test_spec_build_activation_defaults():
    q = QuantSpec("lsq", bits=2).build("activation", [1, 8, 1, 1])
    assert not q.signed and q.channel_dim == 1 and tuple(q.clip_val.shape) == (1,)


def test_spec_build_linear_weight_clip_is_2d():
    q = QuantSpec("lsq", bits=4, per_channel=True).build("weight", [10, 32])
    assert tuple(q.clip_val.shape) == (10, 1) and q.num_levels == 16


def test_spec_build_passes_fan_in_to_lqnet():
    q = QuantSpec("lqnet", bits=2).build("weight", [16, 8, 3, 3])
    assert q.fan_in == 8 * 3 * 3


def test_spec_per_channel_weight_groups_by_output_channel():
    q = QuantSpec("lsq", bits=2, per_channel=True).build("weight", [16, 8, 3, 3])
    assert q.num_groups == 16 and tuple(q.clip_val.shape) == (16, 1, 1, 1)


def test_spec_per_channel_activation_groups_by_channel():
    q = QuantSpec("pact", bits=2, per_channel=True).build("activation", [1, 8, 1, 1])
    assert q.num_groups == 8 and tuple(q.clip_val.shape) == (1, 8, 1, 1)


def test_spec_options_reach_the_quantizer():
    q = QuantSpec("lsq", bits=2, init_clip=3.0, adaptive="var-mean").build("weight", [4, 4, 1, 1])
    assert float(q.clip_val.detach().reshape(-1)[0]) == 3.0 and q.adaptive == "var-mean"


def test_spec_dict_round_trip_through_yaml():
    spec = QuantSpec("lqnet", levels=3, ternary="qtool", scale=0.4)
    d = yaml.safe_load(yaml.safe_dump(spec.to_dict()))
    assert d == {"method": "lqnet", "levels": 3, "ternary": "qtool", "scale": 0.4}
    again = QuantSpec.from_dict(d)
    assert again == spec and str(again) == "lqnet/3L"


def test_spec_from_dict_accepts_nested_options():
    spec = QuantSpec.from_dict({"method": "lsq", "bits": 2, "options": {"per_channel": True}})
    assert spec == QuantSpec("lsq", bits=2, per_channel=True)


def test_spec_is_picklable():
    spec = QuantSpec("pact", bits=4, init_clip=6.0)
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_spec_unknown_method_suggests_closest():
    with pytest.raises(KeyError, match="unknown quantization method 'lqs'.*Did you mean 'lsq'"):
        QuantSpec("lqs", bits=2)


def test_spec_unknown_option_lists_accepted():
    with pytest.raises(TypeError, match="unknown option 'init_clp'.*Did you mean 'init_clip'"):
        QuantSpec("lsq", bits=2, init_clp=2.0)


def test_spec_derived_keyword_is_not_an_option():
    with pytest.raises(TypeError, match="unknown option 'num_levels'"):
        QuantSpec("lsq", bits=2, num_levels=4)


@pytest.mark.parametrize("bits", [0, 1.5, -2])
def test_spec_bad_bit_width(bits):
    with pytest.raises(ValueError, match="bit width must be a whole number"):
        QuantSpec("lsq", bits=bits)


def test_spec_too_few_levels():
    with pytest.raises(ValueError, match="at least 2 levels, got 1"):
        QuantSpec("lsq", levels=1)


def test_spec_too_many_levels():
    with pytest.raises(ValueError, match="out of range 2..65536"):
        QuantSpec("dorefa", bits=17)


def test_spec_lqnet_unsupported_levels():
    with pytest.raises(ValueError, match="5 levels is not supported; lqnet supports levels"):
        QuantSpec("lqnet", levels=5)


def test_spec_pact_weight_role_names_the_fix():
    with pytest.raises(ValueError, match="use method 'lsq' or 'dorefa'"):
        QuantSpec("pact", bits=2).build("weight", [8, 4, 3, 3])


def test_spec_bad_role_suggests_closest():
    with pytest.raises(ValueError, match="role 'weights'.*Did you mean 'weight'"):
        QuantSpec("lsq", bits=2).build("weights", [8, 4, 3, 3])


def test_spec_per_channel_dorefa_activation_is_refused():
    spec = QuantSpec("dorefa", bits=2, per_channel=True)
    assert spec.build("weight", [8, 4, 3, 3]).num_groups == 8  # per-channel mean / var-mean
    with pytest.raises(ValueError, match="one fixed clip.*use method 'lsq' or 'pact'"):
        spec.build("activation", [1, 4, 1, 1])
