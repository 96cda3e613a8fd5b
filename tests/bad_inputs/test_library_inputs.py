"""Bad values reaching the library directly (the forks' MODEL.QUANTIZATION options, QuantSpec,
policy text): refused where they are read, with the value and the fix, never defaulted."""
import types

import pytest

from model_quantization.compat.options import read_options
from model_quantization.compat.policy_file import PolicyError, parse_policy_text
from model_quantization.errors import is_anticipated
from model_quantization.quantizers.spec import QuantSpec


def _args(**kw):
    return types.SimpleNamespace(**kw)


@pytest.mark.parametrize("word", ["Flase", "ture", "maybe", "2"])
def test_fork_option_enable_must_be_a_boolean_word(word):
    with pytest.raises(ValueError, match="wt_enable: '{}' is not a boolean".format(word)) as exc:
        read_options(_args(wt_enable=word, wt_bit=2), "wt", (8, 4, 3, 3))
    assert is_anticipated(exc.value)


@pytest.mark.parametrize("word, expected", [("False", False), ("false", False), ("no", False),
                                            ("0", False), (0, False), ("True", True), (1, True)])
def test_fork_option_enable_words(word, expected):
    assert read_options(_args(wt_enable=word, wt_bit=2), "wt", (8, 4, 3, 3))["enable"] is expected


@pytest.mark.parametrize("bit", ["2.5", 2.5, "two"])
def test_fork_option_bit_must_be_whole(bit):
    with pytest.raises(ValueError, match="fm_bit: .* is not a whole number"):
        read_options(_args(fm_enable=True, fm_bit=bit), "fm", (1, 4, 1, 1))


@pytest.mark.parametrize("spec, phrase", [
    ({"method": "dorefa", "bits": 0}, "whole number >= 1"),
    ({"method": "lsq", "bits": -2}, "whole number >= 1"),
    ({"method": "lsq", "bits": 2.5}, "whole number >= 1"),
    ({"method": "lsq", "bits": 40}, "out of range 2..65536"),
    ({"method": "lsq", "levels": 1}, "at least 2 levels"),
    ({"method": "dorefaa", "bits": 2}, "Did you mean 'dorefa'"),
    ({"method": "lsq", "bits": 2, "bogus": 1}, "unknown option 'bogus'"),
])
def test_quantspec_refuses_values_no_quantizer_takes(spec, phrase):
    with pytest.raises((ValueError, TypeError, KeyError), match=phrase) as exc:
        QuantSpec.from_dict(spec)
    assert is_anticipated(exc.value)


@pytest.mark.parametrize("line, phrase", [
    ("enable: Flase", "'Flase' is not a boolean"),
    ("bit: 0", "bit: '0' is not a whole number from 1 to 16"),
    ("bit: -2", "bit: '-2' is not a whole number from 1 to 16"),
    ("bit: 40", "bit: '40'"),
    ("level_num: 1", "level_num: '1' is not a whole number from 2"),
    ("num_levels: 2.5", "num_levels: '2.5'"),
])
def test_policy_values_are_checked_when_read(line, phrase):
    with pytest.raises(PolicyError, match=phrase) as exc:
        parse_policy_text("on init:\n  by_index: 3\n  {}\n".format(line), source="p.txt")
    assert "p.txt:3" in str(exc.value)


def test_policy_section_typo_is_an_error_not_a_silent_drop():
    with pytest.raises(PolicyError, match="unknown section 'iinit' .*did you mean 'on init:'"):
        parse_policy_text("on iinit:\n  by_index: 3\n  enable: False\n", source="p.txt")
    # the sections the receivers read are all accepted
    for section in ("init", "norm", "eltwise", "epoch", "iteration"):
        parse_policy_text("on {}: 1\n".format(section), section=section)
