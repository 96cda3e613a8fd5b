"""The inference weight cache of ``Quantizer`` (see ``model_quantization.quantizers.base``;
the training side, autograd on, is tested in test_weight_cache_training.py).

With autograd off, a weight Parameter is fake-quantized once and the copy reused while nothing it
depends on changes. Every test compares against a fresh, uncached quantizer with the same state,
so a stale copy (a change the cache key misses) fails here.
"""
import copy
import pickle

import pytest
import torch
from torch import nn

from model_quantization.quantizers import QuantSpec, available_methods

W_SHAPE = [8, 4, 3, 3]
METHODS = [m for m in available_methods() if not m.startswith("toy")]


def _weight_cases():
    cases = []
    for method in METHODS:
        for levels in (3, 4, 256):
            try:
                QuantSpec(method, levels=levels).build("weight", W_SHAPE)
            except ValueError:
                continue  # a method without a weight path (pact)
            cases.append(pytest.param(method, levels, id="{}-L{}".format(method, levels)))
    return cases


CASES = _weight_cases()


def _quantizer(method, levels):
    return QuantSpec(method, levels=levels).build("weight", W_SHAPE).eval()


def _weight(seed=0):
    g = torch.Generator().manual_seed(seed)
    return nn.Parameter(torch.randn(W_SHAPE, generator=g) * 0.5)


def _plain_copy(q):
    """A copy of ``q`` with its cache off and without a counting wrapper (see ``_Counting``)."""
    ref = copy.deepcopy(q)
    ref.__dict__.pop("quantize", None)  # the wrapper would call the original's quantize
    ref.cache_weights = False
    return ref


def _uncached(q, w):
    """The same quantizer state, cache off, on a copy of the weight."""
    ref = _plain_copy(q)
    with torch.no_grad():
        return ref(nn.Parameter(w.detach().clone()))


class _Counting(object):
    """Counts calls to ``q.quantize`` (the real computation)."""

    def __init__(self, q):
        self.calls = 0
        inner = q.quantize

        def quantize(x):
            self.calls += 1
            return inner(x)
        q.quantize = quantize


@pytest.mark.parametrize("method,levels", CASES)
def test_repeated_no_grad_calls_quantize_once_and_count_as_passes(method, levels):
    q, w = _quantizer(method, levels), _weight()
    counter = _Counting(q)
    it0 = float(q.iteration.item())
    with torch.no_grad():
        outs = [q(w) for _ in range(5)]  # e.g. one head conv over five FPN levels
    assert counter.calls == 1
    assert all(o is outs[0] for o in outs)
    assert torch.equal(outs[0], _uncached(q, w))
    uncached = _plain_copy(q)
    it_ref = float(uncached.iteration.item())
    with torch.no_grad():
        for _ in range(5):
            uncached(w)
    # the cached passes leave the counters where five uncached passes leave them
    assert float(q.iteration.item()) - it0 == float(uncached.iteration.item()) - it_ref


@pytest.mark.parametrize("method,levels", CASES)
def test_in_place_weight_update_is_seen(method, levels):
    q, w = _quantizer(method, levels), _weight()
    with torch.no_grad():
        before = q(w).clone()
        w.mul_(-0.7).add_(0.05)  # what an optimizer step or load_state_dict does
        after = q(w)
    assert not torch.equal(before, after)
    assert torch.equal(after, _uncached(q, w))


@pytest.mark.parametrize("method,levels", CASES)
def test_level_count_changed_by_policy_is_seen(method, levels):
    q, w = _quantizer(method, levels), _weight()
    with torch.no_grad():
        q(w)
        q.level_num.fill_(16 if levels != 16 else 4)  # a policy line `level_num` acts like this
        out = q(w)
    assert torch.equal(out, _uncached(q, w))
    assert torch.unique(out).numel() > min(levels, 4) or levels == 256


def test_learned_clip_change_is_seen():
    q, w = _quantizer("lsq", 4), _weight()
    with torch.no_grad():
        before = q(w).clone()
        q.clip_val.mul_(0.5)
        after = q(w)
    assert not torch.equal(before, after)
    assert torch.equal(after, _uncached(q, w))


def test_replaced_clip_parameter_is_seen():
    """A new Parameter object under the same name (not an in-place change) is a new key too."""
    q, w = _quantizer("lsq", 4), _weight()
    with torch.no_grad():
        before = q(w).clone()
        q.clip_val = nn.Parameter(q.clip_val.detach() * 0.5)
        after = q(w)
    assert not torch.equal(before, after)
    assert torch.equal(after, _uncached(q, w))


def test_tensors_of_a_submodule_are_in_the_key():
    """A quantizer that holds a submodule (none of ours does): its tensors are walked too."""
    q, w = _quantizer("lsq", 4), _weight()
    q.extra = nn.Linear(1, 1)
    with torch.no_grad():
        first = q(w)
        q.extra.weight.add_(1.0)
        assert q._cache_key(w) != q._cache[0]
        assert q(w) is not first


def test_attribute_change_is_seen():
    q, w = _quantizer("dorefa", 4), _weight()
    with torch.no_grad():
        before = q(w).clone()
        q.adaptive = "var-mean"  # an attribute update from update_quantization / a policy
        after = q(w)
    assert torch.equal(after, _uncached(q, w))
    assert not torch.equal(before, after)


def test_output_modified_in_place_is_recomputed():
    q, w = _quantizer("lsq", 4), _weight()
    with torch.no_grad():
        out = q(w)
        expected = out.clone()
        out.zero_()
        again = q(w)
    assert again is not out
    assert torch.equal(again, expected)


def test_another_parameter_gets_its_own_result():
    q = _quantizer("dorefa", 4)
    with torch.no_grad():
        first = q(_weight(0))
        second_w = _weight(1)
        second = q(second_w)
    assert not torch.equal(first, second)
    assert torch.equal(second, _uncached(q, second_w))


def test_activations_are_never_cached():
    q = QuantSpec("lsq", levels=4).build("activation", [1, 4, 1, 1]).eval()
    counter = _Counting(q)
    with torch.no_grad():
        for seed in range(3):  # fresh tensors may reuse the same storage address
            x = torch.rand(2, 4, 5, 5, generator=torch.Generator().manual_seed(seed)) * 3
            q(x)
            del x
    assert counter.calls == 3


@pytest.mark.parametrize("method,levels", CASES)
def test_calls_with_autograd_get_a_graph_and_backward_drops_it(method, levels):
    q, w = _quantizer(method, levels), _weight()
    counter = _Counting(q)
    with torch.no_grad():
        cached = q(w)
    y = q(w)  # autograd on: a training-style pass must record its graph
    assert y.requires_grad and y is not cached
    y.sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all()
    assert q._cache is None  # the backward pass used that graph up
    with torch.no_grad():
        q(w)
    assert counter.calls == 3


def test_warmup_passes_are_not_cached():
    q = QuantSpec("lsq", levels=4, stable=3).build("weight", W_SHAPE)
    counter = _Counting(q)
    w = _weight()
    with torch.no_grad():
        for _ in range(5):
            q(w)
    # three warm-up passes (each moves the clip), then one real pass, then a cached one
    assert counter.calls == 4
    assert float(q.iteration.item()) == 5


def test_cache_can_be_turned_off():
    q, w = _quantizer("dorefa", 4), _weight()
    q.cache_weights = False
    counter = _Counting(q)
    with torch.no_grad():
        q(w)
        q(w)
    assert counter.calls == 2


def test_copies_and_pickles_carry_no_cached_tensor():
    q, w = _quantizer("dorefa", 4), _weight()
    with torch.no_grad():
        q(w)
    assert q._cache is not None
    assert copy.deepcopy(q)._cache is None
    assert pickle.loads(pickle.dumps(q))._cache is None
    assert set(q.state_dict()) == set(_quantizer("dorefa", 4).state_dict())


def test_conv_in_eval_reuses_weight_across_calls_and_matches_uncached():
    from model_quantization.nn import QuantConv2d

    def conv(cache):
        torch.manual_seed(0)
        m = QuantConv2d(4, 8, 3, padding=1,
                        weight_quantizer=QuantSpec("dorefa", levels=4).build("weight", W_SHAPE),
                        act_quantizer=QuantSpec("lsq", levels=4).build("activation", [1, 4, 1, 1]))
        m.quant_weight.cache_weights = cache
        return m.eval()

    cached, plain = conv(True), conv(False)
    counter = _Counting(cached.quant_weight)
    xs = [torch.rand(1, 4, s, s) for s in (16, 8, 4, 2, 1)]
    with torch.no_grad():
        for x in xs:
            assert torch.equal(cached(x), plain(x))
    assert counter.calls == 1


@pytest.mark.skipif(not hasattr(torch, "inference_mode"),
                    reason="torch < 1.9 has no inference_mode")
def test_inference_mode_works_without_caching_inference_tensors():
    q, w = _quantizer("lsq", 4), _weight()
    with torch.inference_mode():
        a = q(w)
        b = q(w)
    assert torch.equal(a, b)
    assert torch.equal(a, _uncached(q, w))


def test_quantizer_base_default_counts_a_cached_pass():
    q, w = _quantizer("dorefa", 4), _weight()
    with torch.no_grad():
        q(w)
        n = float(q.iteration.item())
        q(w)
    assert float(q.iteration.item()) == n + 1
