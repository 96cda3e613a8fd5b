"""compat.policy_apply: selection, coercion and checks of parsed policies (docs/forks.md,
"The policy file grammar")."""
import pytest
import torch

from model_quantization.compat.policy_apply import (
    assign_attribute,
    check_policy,
    coerce_value,
    policy_selects,
)
from model_quantization.compat.policy_file import Policy, PolicyError


class Target:
    def __init__(self, index, tag):
        self.index, self.tag = index, tag
        self.enable, self.stable, self.correlate, self.adaptive = True, 0, -1.0, "var-mean"
        self.level_num = torch.tensor([4.0])
        self.x_index = []


def attrs(obj):
    return [k for k in vars(obj) if k not in ("index", "tag")]


@pytest.mark.parametrize("policy, index, tag, selected", [
    ({"by_index": "all"}, 5, "wt", True),
    ({"by_index": "5"}, 5, "wt", True),
    ({"by_index": ["4", "5"]}, 5, "fm", True),
    ({"by_index": "4 6"}, 5, "fm", False),
    ({"by_index": "5", "by_tag": "fm"}, 5, "wt", False),
    ({"by_index": "5", "by_tag": ["fm", "wt"]}, 5, "wt", True),
    ({"enable": "False"}, 5, "wt", False),
])
def test_policy_selects_by_index_and_tag(policy, index, tag, selected):
    assert policy_selects(policy, index, tag) is selected


@pytest.mark.parametrize("current, value, expected", [
    (True, "False", False), (True, "false", False), (False, "True", True), (False, "yes", True),
    (0, "10", 10), (0.0, "0.8", 0.8), ("none", "'none'", "none"), ("", '"clip_val-same"',
                                                                   "clip_val-same"),
    ([], "a,b", ["a", "b"]), ([], ["a", "b"], ["a", "b"]),
])
def test_coerce_value_to_current_type(current, value, expected):
    out = coerce_value(current, value)
    assert out == expected and type(out) is type(expected)


def test_coerce_value_bad_int_raises():
    with pytest.raises(PolicyError, match="'ten' cannot be read as int"):
        coerce_value(0, "ten", "stable")


def test_assign_attribute_fills_tensor_in_place():
    t = Target(1, "wt")
    buf = t.level_num
    assign_attribute(t, "level_num", "256")
    assert t.level_num is buf and buf.item() == 256.0


def test_assign_attribute_fills_parameter_without_autograd_error():
    t = Target(1, "wt")
    t.level_num = torch.nn.Parameter(torch.ones(1))
    assign_attribute(t, "level_num", "0.5")
    assert t.level_num.item() == 0.5


def test_check_policy_returns_selected_targets():
    targets = [(i, tag, Target(i, tag)) for i in range(3) for tag in ("fm", "wt")]
    policy = Policy({"by_index": "1", "by_tag": "wt", "stable": "10"}, source="f.txt:4")
    assert [t[:2] for t in check_policy(policy, targets, attrs)] == [(1, "wt")]


def test_check_policy_unknown_key_names_line_and_closest():
    targets = [(0, "wt", Target(0, "wt"))]
    policy = Policy({"by_index": "0", "corelate": "0.8"}, source="f.txt:7")
    with pytest.raises(PolicyError, match="f.txt:7: 'corelate'.*Did you mean 'correlate'"):
        check_policy(policy, targets, attrs)


def test_check_policy_missing_index_raises_unless_tolerated():
    targets = [(0, "wt", Target(0, "wt"))]
    policy = Policy({"by_index": "0 5", "stable": "1"}, source="f.txt:2")
    with pytest.raises(PolicyError, match=r"f.txt:2: by_index \[5\] selects no layer"):
        check_policy(policy, targets, attrs)
    seen = []
    check_policy(policy, targets, attrs, unmatched_ok=lambda p, m: seen.append(m) or True)
    assert seen == [[5]]


def test_check_policy_without_by_index_raises():
    with pytest.raises(PolicyError, match="has no by_index"):
        check_policy(Policy({"by_tag": "fm", "enable": "False"}), [(0, "fm", Target(0, "fm"))],
                     attrs)


def test_check_policy_special_key_is_accepted():
    targets = [(0, "wt", Target(0, "wt"))]
    policy = Policy({"by_index": "all", "global_buffer": "clip_val"})
    assert len(check_policy(policy, targets, attrs, special=("global_buffer",))) == 1
