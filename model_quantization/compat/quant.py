"""QTool's ``quant.quantization`` module, as the detectron2 fork builds and drives it.

``quantization(args, tag, shape, logger=...)`` reads ``args`` (the fork's frozen
``MODEL.QUANTIZATION`` CfgNode, or an argparse namespace) once through
:mod:`.options` / :mod:`.keywords`, and builds a core quantizer with
:func:`model_quantization.quantizers.build_quantizer`. Disabled (``<tag>_enable`` False) it is an
identity with no state at all, like QTool's.

Design: the core quantizer is a child module ``quantizer``; its state is exposed under QTool's
flat names. ``state_dict()`` yields ``clip_val``, ``iteration``, ``level_num``, ``basis`` ...
directly under this module (a state-dict hook renames ``quantizer.x`` to ``x``) and
``load_state_dict`` accepts those names (a pre-hook maps them back), so QTool checkpoints load
and ours round-trip. ``named_parameters()`` yields the learnable clip as ``quantizer.clip_val``
(what optimizers need); ``self.clip_val`` is that same live Parameter.

Policies set QTool's attributes by name (:mod:`.update`); ``enable``, ``level_num``,
``num_levels`` and ``clip_val`` act on the live core; every other core-relevant attribute
rebuilds the core from the attributes, keeping its Parameter/buffer objects where shapes
allow (optimizer and ``global_buffer`` references stay valid).

DDP: warm-up (``stable``) is the core's (clip kept in the graph, statistics all-reduced); a
layer disabled by policy likewise keeps its learned clip in the graph with a zero gradient.
"""
import importlib
import logging

import torch
from torch import nn

from ..quantizers import QUANTIZERS, build_quantizer
from ..quantizers.registry import accepted_kwargs
from .keywords import check_keywords, normalize_keywords, select_method
from .options import (
    CORE,
    METHODS,
    OPTIONS,
    POLICY_ATTRIBUTES,
    core_kwargs,
    read_options,
    resolve_groups,
)
from .update import update_quantization

__all__ = ["quantization", "POLICY_ATTRIBUTES", "METHODS"]

_LOG = logging.getLogger(__name__)
_NOTED = set()
_INNER = "quantizer."
# what _build hands to core_kwargs: the level count and bit width, and every core option
BUILD_OPTIONS = ("num_levels", "bit") + tuple(name for name in CORE if name != "method")


def _note_once(logger, key, message):
    if key not in _NOTED:
        _NOTED.add(key)
        logger.warning(message)


class quantization(nn.Module):  # noqa: N801 - QTool's class name, imported by the forks
    """QTool-shaped quantizer for tag ``'fm'`` (activations), ``'wt'`` (weights) or ``'ot'``."""

    def __init__(self, args=None, tag="fm", shape=(), feature_stride=None, logger=None, groups=1):
        super().__init__()
        if tag not in ("fm", "wt", "ot"):
            raise ValueError("tag {!r} is not one of 'fm', 'wt', 'ot'".format(tag))
        self.args = args
        self.tag = tag
        self.shape = [int(s) for s in shape]
        self.feature_stride = feature_stride
        self.groups = int(groups)
        self.logger = logger or getattr(args, "logger", None) or _LOG
        self.verbose = self.logger.info
        self.index = -1
        self.keywords = normalize_keywords(getattr(args, "keyword", None))
        opts = read_options(args, tag, self.shape)
        self.enable = opts.pop("enable")
        self._built_enabled = self.enable
        for name, value in opts.items():
            setattr(self, name, value)
        # QTool attributes a policy may set that change nothing here (logged when set), and the
        # bookkeeping ones: the table's defaults, where the config did not give them
        for name, kind, default in OPTIONS:
            if kind in ("inert", "meta") and name not in opts:
                setattr(self, name, default)
        self.method = "none"
        self.quantizer = None
        if not self.enable:
            return
        for word, reason in check_keywords(self.keywords):
            _note_once(self.logger, word, "quantization keyword {!r} accepted but has no effect "
                       "here: {}".format(word, reason))
        method = select_method(self.keywords, tag)
        if method is None:
            raise ValueError("{}_enable is True but keyword {} selects no quantization method; use "
                             "e.g. ['dorefa', 'lsq'] (LSQ), ['dorefa'] (DoReFa-Net), ['pact'] or "
                             "['lq'] (LQ-Net)".format(tag, self.keywords))
        self.method = method
        groups, fell_back = resolve_groups(self.quant_group, tag, self.shape)
        if fell_back:
            self.logger.warning("{}_quant_group={} does not divide shape {}; using {} group(s) "
                                "as QTool does".format(tag, self.quant_group, self.shape, groups))
        self.quantizer = self._build()
        self._register_state_dict_hook(_flatten_state)
        self._register_load_state_dict_pre_hook(self._nest_state)
        if "debug" in self.keywords:
            self.verbose("quantization {} built: {}".format(tag, self.describe()))

    # -- core ------------------------------------------------------------------------------
    def _build(self):
        if self.method not in QUANTIZERS:  # registered on import of its module
            importlib.import_module("model_quantization.quantizers." + self.method)
        opts = {k: getattr(self, k) for k in BUILD_OPTIONS}
        kwargs = core_kwargs(self.method, opts, self.tag, self.shape, self.keywords)
        if "ndim" in accepted_kwargs(QUANTIZERS[self.method]):
            kwargs["ndim"] = len(self.shape) if self.shape else 4
        return build_quantizer(self.method, **kwargs)

    def rebuild(self, changed=()):
        """Rebuild the core from the current attributes after ``changed`` keys were set,
        keeping tensors whose shape still fits (same objects: optimizers keep working)."""
        if self.method not in METHODS:
            raise ValueError("method {!r} is not one of {}; fix the policy's 'method' value"
                             .format(self.method, ", ".join(METHODS)))
        old, new = self.quantizer, self._build()
        for store in ("_parameters", "_buffers"):
            for name, tensor in getattr(old, store).items():
                target = getattr(new, store)
                if tensor is not None and name in target and target[name] is not None and \
                        target[name].shape == tensor.shape:
                    fresh = target[name]
                    target[name] = tensor
                    if name == "clip_val" and "boundary" in changed:
                        with torch.no_grad():
                            tensor.copy_(fresh)
        with torch.no_grad():
            new.level_num.fill_(float(self.num_levels))
        new.enabled = bool(self.enable)
        new.train(self.training)
        self.quantizer = new

    @property
    def level_num(self):
        if self.quantizer is None:
            raise AttributeError("level_num: quantization {} is disabled".format(self.tag))
        return self.quantizer.level_num

    @property
    def clip_val(self):
        if self.quantizer is None or not hasattr(self.quantizer, "clip_val"):
            raise AttributeError("clip_val: no learned clip (method {!r})".format(self.method))
        return self.quantizer.clip_val

    @property
    def iteration(self):
        if self.quantizer is None:
            raise AttributeError("iteration: quantization {} is disabled".format(self.tag))
        return self.quantizer.iteration

    def __getattr__(self, name):
        # QTool's other state names (basis, codec_vector, ...) read through to the core
        try:
            return super().__getattr__(name)
        except AttributeError:
            core = self.__dict__.get("_modules", {}).get("quantizer")
            if core is not None and name in dict(core.named_buffers(recurse=False)):
                return getattr(core, name)
            raise

    # -- QTool API -----------------------------------------------------------------------------
    def update_quantization(self, **parameters):
        """Apply one policy (or ``index=i``); see :func:`.update.update_quantization`."""
        return update_quantization(self, parameters)

    def forward(self, x):
        if self.quantizer is None:
            return x
        if not self.enable:
            # disabled by policy: keep learnable clips in the graph with zero gradient, so DDP
            # (find_unused_parameters=False, detectron2's default) sees no unused parameter
            learned = [p for p in self.quantizer.parameters() if p.requires_grad]
            if learned and torch.is_grad_enabled():
                return self.quantizer.warmup_passthrough(x, *learned)
            return x
        return self.quantizer(x)

    def commutes_with_zero_padding(self):
        """Whether the detectron2 ``Conv2d`` may zero-pad after this activation quantizer
        instead of before it (see ``Quantizer.commutes_with_zero_padding``): always when it is
        an identity (disabled: at most ``x + 0 * clip``), else as the core says."""
        if self.quantizer is None or not self.enable or not self.quantizer.enabled:
            return True
        return bool(self.quantizer.commutes_with_zero_padding())

    def describe(self):
        """Dict for reports: tag, index, method, levels, bits, enabled."""
        row = {"tag": self.tag, "index": self.index, "enabled": bool(self.enable),
               "method": self.method if self.quantizer is not None else None}
        if self.quantizer is not None:
            row.update({k: v for k, v in self.quantizer.describe().items() if k != "enabled"})
        return row

    def extra_repr(self):
        if self.quantizer is None:
            return "tag={}, index={}, disabled".format(self.tag, self.index)
        return "tag={}, index={}, method={}, levels={}, enable={}".format(
            self.tag, self.index, self.method, self.quantizer.num_levels, self.enable)

    def _nest_state(self, state_dict, prefix, *args):
        if self.quantizer is None:
            return
        names = [n for n, _ in self.quantizer.named_parameters()] + \
                [n for n, _ in self.quantizer.named_buffers()]
        for name in names:
            flat = prefix + name
            if flat in state_dict and prefix + _INNER + name not in state_dict:
                state_dict[prefix + _INNER + name] = state_dict.pop(flat)


def _flatten_state(module, state_dict, prefix, local_metadata):
    inner = prefix + _INNER
    for key in [k for k in state_dict if k.startswith(inner)]:
        state_dict[prefix + key[len(inner):]] = state_dict.pop(key)
    return state_dict
