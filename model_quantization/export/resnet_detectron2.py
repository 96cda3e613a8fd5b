"""Rename a torchvision-style ResNet state dict to detectron2's ResNet backbone names.

The classifier (torchvision ``resnet18/34/50/101/152``, possibly converted to quantized layers)
and detectron2's ``build_resnet_backbone`` share the architecture but not the names:

    conv1 / bn1                     -> stem.conv1 / stem.conv1.norm
    layer{N}.{i}.conv{K} / bn{K}    -> res{N+1}.{i}.conv{K} / res{N+1}.{i}.conv{K}.norm
    layer{N}.{i}.downsample.0 / .1  -> res{N+1}.{i}.shortcut / res{N+1}.{i}.shortcut.norm
    fc.*                            -> dropped (the detector has no classifier)

Everything under a renamed module moves with it: conv ``weight``/``bias``, BN ``weight``,
``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked`` (kept: detectron2's BN
expects it, FrozenBN ignores it) and quantizer state (``quant_weight.*``, ``quant_activation.*``:
``clip_val``, ``iteration``, ``level_num``, LQ-Net ``basis`` ...). A key that fits none of these
is an error, never dropped. Keys get the prefix ``backbone.bottom_up.`` so that detectron2's
``DetectionCheckpointer`` loads them into FCOS / RetinaNet without name-matching heuristics.

torchvision puts a bottleneck's stride on its 3x3 conv: load depth 50+ with
``MODEL.RESNETS.STRIDE_IN_1X1 False``, depth 18/34 with ``RES2_OUT_CHANNELS 64``.
"""
import collections

__all__ = ["RESNET_DEPTHS", "DETECTRON2_PREFIX", "resnet_module_map", "infer_resnet_depth",
           "export_resnet_to_detectron2", "detectron2_config_hints"]

# depth -> (block kind, blocks per stage layer1..layer4)
RESNET_DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
                 50: ("bottleneck", (3, 4, 6, 3)), 101: ("bottleneck", (3, 4, 23, 3)),
                 152: ("bottleneck", (3, 8, 36, 3))}
DETECTRON2_PREFIX = "backbone.bottom_up."
DROPPED_PREFIXES = ("fc.",)

_CONV_REQUIRED = ("weight",)
_BN_LEAVES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_BN_REQUIRED = ("weight", "bias", "running_mean", "running_var")
_QUANT_PREFIXES = ("quant_weight.", "quant_activation.")


def _check_depth(depth):
    if depth not in RESNET_DEPTHS:
        raise ValueError("unsupported ResNet depth {!r}; supported depths: {}".format(
            depth, ", ".join(str(d) for d in sorted(RESNET_DEPTHS))))
    return RESNET_DEPTHS[depth]


def resnet_module_map(depth):
    """Ordered ``{torchvision module: (detectron2 module, "conv" or "bn")}`` for ``depth``."""
    kind, blocks = _check_depth(depth)
    convs = 2 if kind == "basic" else 3
    m = collections.OrderedDict([("conv1", ("stem.conv1", "conv")),
                                 ("bn1", ("stem.conv1.norm", "bn"))])
    for stage, n in enumerate(blocks, start=1):
        for i in range(n):
            src, dst = "layer{}.{}".format(stage, i), "res{}.{}".format(stage + 1, i)
            for k in range(1, convs + 1):
                m["{}.conv{}".format(src, k)] = ("{}.conv{}".format(dst, k), "conv")
                m["{}.bn{}".format(src, k)] = ("{}.conv{}.norm".format(dst, k), "bn")
            # the first block of a stage changes width (and stride) except layer1 of a basic net
            if i == 0 and (stage > 1 or kind == "bottleneck"):
                m[src + ".downsample.0"] = (dst + ".shortcut", "conv")
                m[src + ".downsample.1"] = (dst + ".shortcut.norm", "bn")
    return m


def infer_resnet_depth(state_dict):
    """Guess the ResNet depth from torchvision-style keys, or None if it fits no known depth."""
    keys = list(state_dict)
    bottleneck = any(".conv3." in k for k in keys if k.startswith("layer"))
    counts = []
    for stage in range(1, 5):
        idx = {int(k.split(".")[1]) for k in keys
               if k.startswith("layer{}.".format(stage)) and k.split(".")[1].isdigit()}
        counts.append(max(idx) + 1 if idx else 0)
    for depth, (kind, blocks) in RESNET_DEPTHS.items():
        if (kind == "bottleneck") == bottleneck and tuple(counts) == blocks:
            return depth
    return None


def _leaf_ok(kind, leaf):
    if kind == "bn":
        return leaf in _BN_LEAVES
    return leaf in ("weight", "bias") or leaf.startswith(_QUANT_PREFIXES)


def _split(key, module_map):
    parts = key.split(".")
    for j in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:j])
        if module in module_map:
            return module, ".".join(parts[j:])
    return None, None


def _depth_hint(state_dict, depth):
    guess = infer_resnet_depth(state_dict)
    if guess is not None and guess != depth:
        return " The checkpoint looks like a ResNet-{}: pass depth {} (--arch resnet{}).".format(
            guess, guess, guess)
    return ""


def _listing(keys, limit=12):
    keys = sorted(keys)
    more = " ... and {} more".format(len(keys) - limit) if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def export_resnet_to_detectron2(state_dict, depth, prefix=DETECTRON2_PREFIX):
    """Rename a torchvision-style ResNet ``state_dict`` to detectron2 backbone names.

    Args:
        state_dict: ``{key: tensor}`` with torchvision names (no ``module.`` prefix).
        depth: 18, 34, 50, 101 or 152.
        prefix: put in front of every new key (default ``backbone.bottom_up.``; ``""`` for
            names relative to the backbone).

    Returns:
        ``(new_state_dict, report)``: an ``OrderedDict`` holding the same tensor objects under
        new names, and a dict with ``depth``, ``renamed`` (list of ``(old, new)``), ``dropped``
        (the ``fc.*`` keys) and ``num_quantizer_tensors``.

    Raises ``ValueError`` listing the keys that fit no rule (unexpected) or the required ones
    that are absent (missing), which usually means a wrong ``depth``.
    """
    module_map = resnet_module_map(depth)
    out, renamed, dropped, leftover = collections.OrderedDict(), [], [], []
    found = collections.defaultdict(set)
    for key, value in state_dict.items():
        if key.startswith(DROPPED_PREFIXES):
            dropped.append(key)
            continue
        module, leaf = _split(key, module_map)
        if module is None or not _leaf_ok(module_map[module][1], leaf):
            leftover.append(key)
            continue
        new = prefix + module_map[module][0] + "." + leaf
        assert new not in out, new  # the map is injective, so two keys cannot collide
        out[new] = value
        renamed.append((key, new))
        found[module].add(leaf)
    if leftover:
        raise ValueError("{} key(s) of the checkpoint fit no ResNet-{} rule and would be lost: {}."
                         "{} Only conv/bn/downsample weights, BN statistics, quant_weight.* / "
                         "quant_activation.* and fc.* are expected.".format(
                             len(leftover), depth, _listing(leftover),
                             _depth_hint(state_dict, depth)))
    missing = []
    for module, (_, kind) in module_map.items():
        for leaf in (_BN_REQUIRED if kind == "bn" else _CONV_REQUIRED):
            if leaf not in found[module]:
                missing.append(module + "." + leaf)
    if missing:
        raise ValueError("{} key(s) a ResNet-{} needs are missing from the checkpoint: {}.{}"
                         .format(len(missing), depth, _listing(missing),
                                 _depth_hint(state_dict, depth)))
    report = {"depth": depth, "prefix": prefix, "renamed": renamed, "dropped": dropped,
              "num_quantizer_tensors": sum(1 for k, _ in renamed
                                           if ".quant_weight." in k or ".quant_activation." in k),
              "detectron2_config": detectron2_config_hints(depth)}
    return out, report


def detectron2_config_hints(depth):
    """The detectron2 config values under which the exported weights mean the same network."""
    hints = collections.OrderedDict([("MODEL.RESNETS.DEPTH", depth)])
    if RESNET_DEPTHS[depth][0] == "basic":
        hints["MODEL.RESNETS.RES2_OUT_CHANNELS"] = 64
    else:
        hints["MODEL.RESNETS.STRIDE_IN_1X1"] = False
    # torchvision models take RGB scaled to [0, 1] and normalised with the ImageNet statistics
    hints["INPUT.FORMAT"] = "RGB"
    hints["MODEL.PIXEL_MEAN"] = [123.675, 116.28, 103.53]
    hints["MODEL.PIXEL_STD"] = [58.395, 57.12, 57.375]
    return hints
