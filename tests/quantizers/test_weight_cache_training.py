"""The training-time weight cache of ``Quantizer`` (see ``model_quantization.quantizers.base``).

With autograd on, a weight Parameter used several times in one step (an FCOS-style head conv
shared across FPN levels) is fake-quantized once; every use gets the same tensor, i.e. the same
autograd node, and the quantizer's backward runs once on the summed gradient. Every test runs the
same model with the cache off (``cache_weights = False``) as the reference:

* forward outputs must be equal bit for bit (the quantized weight is the same value);
* parameter gradients may differ only by the order of a summation: uncached, each use runs its own
  quantizer backward and the weight gradients are added afterwards; cached, the uses' output
  gradients are added first and go through one backward (``sum(f(g_k))`` vs ``f(sum(g_k))`` for a
  linear ``f`` in floating point). They are compared with ``rtol=1e-6`` and a small ``atol``; a
  weight used once gets the identical computation and is compared bit for bit.

A stale copy (a change the cache misses), a copy from another autograd mode or a reused, already
backpropagated graph all fail one of these comparisons or raise.
"""
import copy
import inspect

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from model_quantization.nn import QuantConv2d
from model_quantization.quantizers import QuantSpec
from model_quantization.quantizers import dorefa as dorefa_module
from model_quantization.quantizers.base import Quantizer

LEVELS_PER_STEP = 5  # FPN levels: the shared tower and predictor run five times per forward
WEIGHT_SPECS = {
    "dorefa-L4": dict(method="dorefa", levels=4),
    "dorefa-binary": dict(method="dorefa", levels=2),
    "dorefa-varmean-L3": dict(method="dorefa", levels=3, adaptive="var-mean"),
    "lsq-L4": dict(method="lsq", levels=4),
    "lsq-varmean-L4": dict(method="lsq", levels=4, adaptive="var-mean", grad_scale=0.1),
    "lqnet-L4": dict(method="lqnet", levels=4),
}
RTOL, ATOL = 1e-6, 1e-7


def _spec(name):
    kw = dict(WEIGHT_SPECS[name])
    return QuantSpec(kw.pop("method"), levels=kw.pop("levels"), **kw)


class SharedHead(nn.Module):
    """A stem conv used once, then a tower conv and a predictor conv shared by five 'FPN levels'
    (FCOS's head layout), all with quantized weights; the shared ones also quantize activations."""

    def __init__(self, name):
        super().__init__()
        spec = _spec(name)

        def conv(cin, cout, k, act):
            w = spec.build("weight", [cout, cin, k, k])
            a = QuantSpec("lsq", levels=4).build("activation", [1, cin, 1, 1]) if act else None
            return QuantConv2d(cin, cout, k, padding=k // 2, weight_quantizer=w, act_quantizer=a)

        self.stem = conv(3, 8, 3, act=False)
        self.tower = conv(8, 8, 3, act=True)
        self.pred = conv(8, 2, 1, act=True)

    def forward(self, x):
        f = F.relu(self.stem(x))
        feats = [f] + [F.avg_pool2d(f, 2 ** k) for k in range(1, LEVELS_PER_STEP)]
        return [self.pred(F.relu(self.tower(p))) for p in feats]


def weight_quantizers(model):
    return [m.quant_weight for m in model.modules()
            if isinstance(m, QuantConv2d) and m.quant_weight is not None]


def _models(name):
    torch.manual_seed(0)
    cached = SharedHead(name).train()
    plain = copy.deepcopy(cached)
    for q in weight_quantizers(plain):
        q.cache_weights = False
    return cached, plain


def _uncached_copy(model):
    """A copy of ``model`` in its current state with the cache off (and no counting wrapper)."""
    ref = copy.deepcopy(model)
    for q in weight_quantizers(ref):
        q.__dict__.pop("quantize", None)  # a Counting wrapper would call the original's
        q.cache_weights = False
    return ref


def _batch(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    targets = [torch.randn(2, 2, 32 >> k, 32 >> k, generator=g) for k in range(LEVELS_PER_STEP)]
    return x, targets


def _loss(outs, targets):
    return sum((o * t).mean() + o.square().mean() for o, t in zip(outs, targets))


class Counting(object):
    """Counts calls to each weight quantizer's ``quantize`` (the real computation)."""

    def __init__(self, model):
        self.calls = {}
        for q in weight_quantizers(model):
            self._wrap(q)

    def _wrap(self, q):
        inner = q.quantize
        self.calls[q] = 0

        def quantize(x):
            self.calls[q] += 1
            return inner(x)
        q.quantize = quantize

    def total(self):
        return sum(self.calls.values())

    def reset(self):
        for q in self.calls:
            self.calls[q] = 0


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _assert_grads_match(cached, plain, stem_used_once=True):
    gc, gp = _grads(cached), _grads(plain)
    assert set(gc) == set(gp) and gc
    for n in gp:
        if stem_used_once and n.startswith("stem.") and "quant_activation" not in n:
            # used once: the same operations in the same order
            assert torch.equal(gc[n], gp[n]), n
        else:
            assert torch.allclose(gc[n], gp[n], rtol=RTOL, atol=ATOL), (
                n, (gc[n] - gp[n]).abs().max())


def _assert_outputs_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def _step(model, batch):
    outs = model(batch[0])
    loss = _loss(outs, batch[1])
    loss.backward()
    return outs


@pytest.mark.parametrize("name", sorted(WEIGHT_SPECS))
def test_one_step_equal_outputs_close_gradients(name):
    cached, plain = _models(name)
    batch = _batch(0)
    _assert_outputs_equal(_step(cached, batch), _step(plain, batch))
    _assert_grads_match(cached, plain)
    # the side effects of the uncached pass: same buffers (iteration, basis, ...) afterwards
    for (k, a), (_, b) in zip(cached.state_dict().items(), plain.state_dict().items()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("name", [n for n in sorted(WEIGHT_SPECS) if not n.startswith("lqnet")])
def test_quantization_runs_once_per_weight_per_step(name):
    cached, plain = _models(name)
    count_c, count_p = Counting(cached), Counting(plain)
    _step(cached, _batch(0))
    _step(plain, _batch(0))
    assert count_c.calls == {q: 1 for q in weight_quantizers(cached)}
    assert count_p.calls[plain.tower.quant_weight] == LEVELS_PER_STEP
    # every use still counts as a pass, as uncached
    for qc, qp in zip(weight_quantizers(cached), weight_quantizers(plain)):
        assert torch.equal(qc.iteration, qp.iteration)
    assert float(cached.tower.quant_weight.iteration) == LEVELS_PER_STEP


def test_dorefa_weight_math_runs_once_per_weight(monkeypatch):
    """Counts the DoReFa weight function itself (tanh, normalise, round) rather than the method
    around it."""
    cached, _ = _models("dorefa-L4")
    calls = []
    inner = dorefa_module.tanh_weight_quant
    monkeypatch.setattr(dorefa_module, "tanh_weight_quant",
                        lambda w, levels: calls.append(tuple(w.shape)) or inner(w, levels))
    _step(cached, _batch(0))
    assert sorted(calls) == sorted(tuple(q_w.shape) for q_w in
                                   (cached.stem.weight, cached.tower.weight, cached.pred.weight))


def test_lqnet_training_passes_refit_the_basis_each_use_and_are_not_cached():
    """LQ-Net refits its basis on every training pass, so each use quantizes with another basis:
    nothing may be reused (outputs and gradients then equal the uncached ones bit for bit)."""
    cached, plain = _models("lqnet-L4")
    count = Counting(cached)
    batch = _batch(0)
    _assert_outputs_equal(_step(cached, batch), _step(plain, batch))
    assert count.calls[cached.tower.quant_weight] == LEVELS_PER_STEP
    for k, v in _grads(plain).items():
        assert torch.equal(_grads(cached)[k], v), k


@pytest.mark.parametrize("name", ["dorefa-L4", "lsq-varmean-L4"])
def test_training_loop_sees_each_optimizer_step(name):
    """Three SGD steps; before each, the reference is a cache-off copy of the cached model's
    current state, so a stale quantized weight (from before the step) shows as unequal output."""
    cached, _ = _models(name)
    count = Counting(cached)
    opt = torch.optim.SGD(cached.parameters(), lr=0.5, momentum=0.9)
    for step in range(3):
        ref = _uncached_copy(cached)
        batch = _batch(step)
        opt.zero_grad()
        count.reset()
        _assert_outputs_equal(_step(cached, batch), _step(ref, batch))
        _assert_grads_match(cached, ref)
        assert count.total() == 3
        before = cached.tower.weight.detach().clone()
        opt.step()
        assert not torch.equal(before, cached.tower.weight)


def test_in_place_weight_update_without_backward_is_seen():
    """No backward in between (so the backward hook does not drop the copy): the optimizer's
    in-place update must be seen through the weight's version alone."""
    cached, plain = _models("dorefa-L4")
    x = _batch(0)[0]
    first = cached(x)
    with torch.no_grad():
        for m in (cached, plain):
            for p in m.parameters():
                p.mul_(-0.8).add_(0.01)
    second = cached(x)
    assert not torch.equal(first[0], second[0])
    _assert_outputs_equal(second, plain(x))


def test_quantizer_parameter_update_without_backward_is_seen():
    cached, plain = _models("lsq-L4")
    x = _batch(0)[0]
    first = cached(x)
    with torch.no_grad():
        for m in (cached, plain):
            m.tower.quant_weight.clip_val.mul_(0.25)
    second = cached(x)
    assert not torch.equal(first[0], second[0])
    _assert_outputs_equal(second, plain(x))


@pytest.mark.parametrize("name", ["dorefa-L4", "lsq-L4"])
def test_gradient_accumulation_two_micro_batches(name):
    """forward, backward, forward, backward, one optimizer step: the second forward must build a
    new graph (the first was used up by its backward), never 'backward a second time'."""
    cached, plain = _models(name)
    count = Counting(cached)
    for m in (cached, plain):
        _step(m, _batch(0))
        _step(m, _batch(1))
    assert count.calls[cached.tower.quant_weight] == 2
    _assert_grads_match(cached, plain)
    torch.optim.SGD(cached.parameters(), lr=0.1).step()
    x = _batch(2)[0]  # after the step: equal to an uncached model in the same state
    _assert_outputs_equal(cached(x), _uncached_copy(cached)(x))


def test_two_forwards_then_one_backward_of_the_summed_loss():
    cached, plain = _models("dorefa-L4")
    count = Counting(cached)
    for m in (cached, plain):
        b0, b1 = _batch(0), _batch(1)
        (_loss(m(b0[0]), b0[1]) + _loss(m(b1[0]), b1[1])).backward()
    assert count.calls == {q: 1 for q in weight_quantizers(cached)}  # shared by both batches
    _assert_grads_match(cached, plain, stem_used_once=False)


def test_backward_drops_the_copy_and_retained_graphs_still_work():
    cached, plain = _models("lsq-L4")
    q = cached.tower.quant_weight
    for m in (cached, plain):
        x, targets = _batch(0)
        loss = _loss(m(x), targets)
        if m is cached:
            kept = q._cache[2]
        loss.backward(retain_graph=True)
        if m is cached:
            assert q._cache is None
        loss.backward()  # the retained graph, backpropagated again: gradients add up
    _assert_grads_match(cached, plain)
    assert cached.tower.quant_weight(cached.tower.weight) is not kept


def test_no_grad_call_does_not_return_the_training_copy_and_vice_versa():
    cached, _ = _models("lsq-L4")
    q, w = cached.tower.quant_weight, cached.tower.weight
    y = q(w)
    assert y.requires_grad
    with torch.no_grad():
        z = q(w)
    assert z is not y and not z.requires_grad
    assert torch.equal(z, y)
    y2 = q(w)
    assert y2 is not z and y2.requires_grad
    y2.sum().backward()
    assert w.grad is not None and q.clip_val.grad is not None


def test_train_eval_switch_recomputes():
    cached, plain = _models("lsq-L4")
    q, w = cached.tower.quant_weight, cached.tower.weight
    y = q(w)
    cached.eval()
    plain.eval()
    assert q(w) is not y
    x = _batch(0)[0]
    _assert_outputs_equal(cached(x), plain(x))  # eval with autograd on
    with torch.no_grad():
        _assert_outputs_equal(cached(x), plain(x))


def test_eval_after_training_caches_once_and_matches():
    cached, _ = _models("dorefa-L4")
    _step(cached, _batch(0))
    torch.optim.SGD(cached.parameters(), lr=0.1).step()
    cached.eval()
    plain = _uncached_copy(cached)
    count = Counting(cached)
    with torch.no_grad():
        for seed in range(3):
            x = _batch(seed)[0]
            _assert_outputs_equal(cached(x), plain(x))
    assert count.calls == {q: 1 for q in weight_quantizers(cached)}  # across images too


def test_frozen_weight_is_not_given_a_graph_to_it():
    """``requires_grad`` is part of the key: freezing a weight between two forwards must not hand
    back the copy whose graph leads to the weight."""
    cached, _ = _models("lsq-L4")
    q, w = cached.tower.quant_weight, cached.tower.weight
    y = q(w)
    w.requires_grad_(False)
    y2 = q(w)
    assert y2 is not y
    y2.sum().backward()
    assert w.grad is None and q.clip_val.grad is not None


def test_cache_off_runs_every_use():
    cached, _ = _models("dorefa-L4")
    for q in weight_quantizers(cached):
        q.cache_weights = False
    count = Counting(cached)
    _step(cached, _batch(0))
    assert count.calls[cached.tower.quant_weight] == LEVELS_PER_STEP
    assert all(q._cache is None for q in weight_quantizers(cached))


def test_class_level_opt_out():
    class NoCache(Quantizer):
        cache_weights = False

        def quantize(self, x):
            self.step()
            return x * 2

    q, w = NoCache(4, True), nn.Parameter(torch.ones(3))
    a, b = q(w), q(w)
    assert a is not b and q._cache is None


def test_copies_after_a_training_forward_carry_no_graph():
    """A model deep-copied between forward and backward (EMA, checkpointing) must not carry the
    cached non-leaf tensor (deepcopy of a non-leaf raises)."""
    cached, _ = _models("lsq-L4")
    cached(_batch(0)[0])
    assert cached.tower.quant_weight._cache is not None
    twin = copy.deepcopy(cached)
    assert all(q._cache is None for q in weight_quantizers(twin))


def _checkpointed_step(m, order, reentrant):
    from torch.utils.checkpoint import checkpoint

    x, _ = _batch(0)
    f = F.relu(m.stem(x))

    def region(z):  # the shared convs, three times
        return torch.cat([m.pred(F.relu(m.tower(F.avg_pool2d(z, 2 ** k)))).flatten()
                          for k in range(3)])

    def inside():
        return checkpoint(region, f, use_reentrant=reentrant).square().mean()

    def outside():
        return m.pred(F.relu(m.tower(f))).mean()

    losses = [inside(), outside()] if order == "inside-first" else [outside(), inside()]
    sum(losses).backward()


@pytest.mark.parametrize("order", ["inside-first", "outside-first"])
@pytest.mark.parametrize("reentrant", [False, True], ids=["non-reentrant", "reentrant"])
def test_activation_checkpointing_around_shared_convs(reentrant, order):
    """Non-reentrant checkpoint recomputes under saved-tensor hooks and must save the same
    tensors as its forward did (a shared copy would save fewer: CheckpointError); reentrant
    checkpoint recomputes inside backward, where a copy from the outer graph must not be
    backpropagated on its own. Both bypass the cache there; the result equals the uncached run."""
    from torch.utils.checkpoint import checkpoint

    if "use_reentrant" not in inspect.signature(checkpoint).parameters:
        pytest.skip("torch < 1.11: checkpoint has no use_reentrant")
    cached, plain = _models("dorefa-L4")
    for m in (cached, plain):
        _checkpointed_step(m, order, reentrant)
    _assert_grads_match(cached, plain)


@pytest.mark.skipif(not hasattr(torch._C, "_current_graph_task_id"),
                    reason="torch < 2.0 cannot tell a call from inside backward")
def test_call_from_inside_backward_gets_no_shared_copy():
    """What a reentrant checkpoint's recomputation does: a forward with autograd on, run from a
    backward pass while the cached copy's graph is still waiting to be backpropagated."""
    cached, _ = _models("lsq-L4")
    q, w = cached.tower.quant_weight, cached.tower.weight
    y = q(w)
    seen = []
    probe = torch.ones(1, requires_grad=True)

    def hook(grad):
        with torch.enable_grad():
            seen.append(q(w))
        return grad

    z = probe * 2
    z.register_hook(hook)
    (z.sum() + y.sum()).backward()  # probe's branch holds no part of y's graph
    assert len(seen) == 1 and seen[0] is not y
    assert torch.equal(seen[0], y)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch >= 2.9 deprecates torch.jit
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_jit_trace_records_the_quantization_not_a_cached_constant():
    cached, _ = _models("dorefa-L4")
    cached.eval()
    x = _batch(0)[0]
    with torch.no_grad():
        cached(x)  # a cached copy exists before tracing
        traced = torch.jit.trace(cached.tower, (torch.rand(1, 8, 8, 8),), check_trace=False)
        cached.tower.weight.mul_(-1.0)
        probe = torch.rand(1, 8, 8, 8)
        assert torch.equal(traced(probe), cached.tower(probe))
