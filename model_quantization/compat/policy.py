"""QTool's ``policy`` module: ``read_policy``, ``deploy_on_init``, ``deploy_on_epoch/iteration``.

Built on :mod:`model_quantization.compat.policy_file` (grammar) and ``policy_apply`` (selection,
coercion, checks). Index rules (docs/forks.md, "What the forks import and call" and "Layer
indices"): every module with ``update_quantization_parameter`` gets the next index in
``model.modules()`` order, converted or not; the norm / eltwise (and shuffle / split / concat)
modules are indexed the same way within their kind.

Differences from QTool, all louder:

* a policy key that no selected object has, a ``by_tag`` that matches no tag, or an index beyond
  the model -> :class:`~model_quantization.compat.policy_file.PolicyError` naming ``file:line`` and
  the closest valid names (QTool ignored them);
* an ``init`` index that belongs to a layer left unconverted by the config's ``scope`` is
  tolerated with a warning: real fork configs rely on it (FixFPN-lsq-2bit keeps the fixpoint
  policy while stem and predictors stay in full precision);
* ``filename`` ``''``/``None`` applies nothing (logged); a non-empty name that is not a file
  raises ``FileNotFoundError`` instead of training without the policy.
"""
import torch

from .policy_apply import check_policy
from .policy_file import PolicyError, parse_policy
from .quant import quantization
from .update import settable_attributes

__all__ = ["read_policy", "deploy_on_init", "deploy_on_epoch", "deploy_on_iteration"]

# section -> method name the receiving modules expose
SECTIONS = (("norm", "update_norm_quantization_parameter"),
            ("eltwise", "update_eltwise_quantization_parameter"),
            ("shuffle", "update_shuffle_quantization_parameter"),
            ("split", "update_split_quantization_parameter"),
            ("concat", "update_concat_quantization_parameter"))
CONV_METHOD = "update_quantization_parameter"


def read_policy(filename, section="init", debug=False, verbose=print):
    """Policies of ``section`` in ``filename``: ``[{'trigger': [...]}, {...}, ...]``, or ``[]``."""
    policies = parse_policy(filename, section=section, warn=verbose)
    if debug:
        for policy in policies:
            verbose("policy {} [{}]: {}".format(section, getattr(policy, "source", filename),
                                                dict(policy)))
    return policies


def _public(obj):
    names = [k for k in vars(obj) if not k.startswith("_")]
    if isinstance(obj, torch.nn.Module):
        names += list(obj._parameters) + list(obj._buffers)
    return names


def _index(model, method):
    modules = [m for m in model.modules() if hasattr(m, method)]
    for i, m in enumerate(modules):
        getattr(m, method)(index=i)
    return modules


def _conv_targets(model, convs):
    """``(index, tag, quantization)`` for every compat quantizer, and the unconverted indices."""
    targets, unconverted = [], []
    for i, conv in enumerate(convs):
        found = [q for q in conv.modules() if isinstance(q, quantization)]
        targets += [(q.index, q.tag, q) for q in found]
        if not found:
            unconverted.append(i)
    return targets, unconverted


def deploy_on_init(model, filename, verbose=print):
    """Index the model's layers and apply sections ``init``, ``norm``, ``eltwise`` (and
    ``shuffle``, ``split``, ``concat``) of policy ``filename``."""
    if not hasattr(model, "modules"):
        return
    convs = _index(model, CONV_METHOD)
    targets, unconverted = _conv_targets(model, convs)
    n_converted = len(convs) - len(unconverted)
    verbose("deploy_on_init: {} layers indexed, {} quantized, {} left in full precision".format(
        len(convs), n_converted, len(unconverted)))
    if not filename:
        verbose("deploy_on_init: no policy file given, nothing applied")
        return

    def tolerate(policy, missing):
        real = [i for i in missing if i in unconverted]
        if real and len(real) == len(missing):
            verbose("warning: {}: by_index {} are layers the config's scope left unconverted; "
                    "the policy does nothing there".format(getattr(policy, "source", filename),
                                                           real))
            return True
        return False

    policies = read_policy(filename, "init", verbose=verbose)
    for policy in policies[1:]:
        check_policy(policy, targets, settable_attributes, special=("global_buffer",),
                     unmatched_ok=tolerate)
        verbose("policy init [{}]: {}".format(getattr(policy, "source", filename), dict(policy)))
        for conv in convs:
            getattr(conv, CONV_METHOD)(**policy)
    for section, method in SECTIONS:
        modules = _index(model, method)
        policies = read_policy(filename, section, verbose=verbose)
        if len(policies) > 1 and not modules:
            raise_no_modules(filename, section, method)
        found = [(getattr(m, "index", -1), getattr(m, "tag", section), m) for m in modules]
        for policy in policies[1:]:
            check_policy(policy, found, _public)
            verbose("policy {} [{}]: {}".format(section, getattr(policy, "source", filename),
                                                dict(policy)))
            for m in modules:
                getattr(m, method)(**policy)


def raise_no_modules(filename, section, method):
    """A section with policies but nothing to receive them is a mismatch, not a no-op."""
    raise PolicyError("{}: section '{}' has policies but the model has no module with {}(); "
                      "remove the section or build the model with those modules".format(
                          filename, section, method))


def _deploy(model, policies, step, optimizer, verbose, what):
    if not policies or not hasattr(model, "modules"):
        return
    if step not in policies[0].get("trigger", []):
        return
    if optimizer is not None and not isinstance(optimizer, torch.optim.SGD):
        raise TypeError("deploy_on_{} resets SGD momentum only; got {}".format(
            what, type(optimizer).__name__))
    convs = [m for m in model.modules() if hasattr(m, CONV_METHOD)]
    targets, _ = _conv_targets(model, convs)
    reset = []
    for policy in policies[1:]:
        check_policy(policy, targets, settable_attributes, special=("global_buffer",))
        verbose("policy on {} {}: {}".format(what, step, dict(policy)))
        for conv in convs:
            feedback = getattr(conv, CONV_METHOD)(**policy)
            if feedback:
                reset += list(feedback.get("reset_momentum_list", []))
    if optimizer is not None:
        for tensor in reset:
            state = optimizer.state.get(tensor, {})
            if "momentum_buffer" in state and state["momentum_buffer"] is not None:
                state["momentum_buffer"].zero_()


def deploy_on_epoch(model, policies, epoch, optimizer=None, verbose=print):
    """Apply ``policies`` (from ``read_policy(f, 'epoch')``) when ``epoch`` is a trigger."""
    _deploy(model, policies, epoch, optimizer, verbose, "epoch")


def deploy_on_iteration(model, policies, iteration, optimizer=None, verbose=print):
    """Apply ``policies`` (from ``read_policy(f, 'iteration')``) when ``iteration`` triggers."""
    _deploy(model, policies, iteration, optimizer, verbose, "iteration")
