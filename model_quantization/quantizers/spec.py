"""``QuantSpec``: a validated, serialisable description of a quantizer ("lsq/2b").

A spec names a method, a level count (from ``bits`` or ``levels``) and method options; it is
checked when constructed (unknown method or option, bad bit width -> a clear error then, not at
the first forward) and becomes a quantizer for a concrete tensor with ``.build(role, shape)``.
The role sets the defaults: ``"weight"`` -> ``signed=True``, ``channel_dim=0``,
``fan_in=prod(shape[1:])``; ``"activation"`` -> ``signed=False``, ``channel_dim=1``. The option
``per_channel: True`` gives one clip/basis per channel (``num_groups = shape[0]`` for weights,
``shape[1]`` for activations).
"""

from ..errors import UserTypeError, did_you_mean
from .base import levels_from_bits
from .registry import QUANTIZERS, accepted_kwargs, build_quantizer

__all__ = ["QuantSpec", "ROLES"]

ROLES = ("weight", "activation")
# Set by the spec itself (from bits/levels, the role and the shape), never as options.
_DERIVED = ("num_levels", "channel_dim", "fan_in", "ndim")


class QuantSpec(object):
    """Method + level count + options; ``build(role, shape)`` makes the ``Quantizer``.

    Args:
        method: a registered method name (``available_methods()``).
        bits: bit width (``levels = 2**bits``); or
        levels: explicit level count (e.g. 3 for ternary); wins over ``bits``.
        **options: method keyword arguments (e.g. ``init_clip``, ``adaptive``, ``ternary``)
            and ``per_channel`` (bool).
    """

    def __init__(self, method, bits=None, levels=None, **options):
        if method not in QUANTIZERS:
            build_quantizer(method)  # raises the registry's KeyError with "Did you mean"
        self.method = method
        self.bits = bits
        self.levels = None if levels is None else int(levels)
        self.num_levels = levels_from_bits(bits, levels)
        if self.levels is None:
            self.bits = int(float(bits))
        cls = QUANTIZERS[method]
        allowed = (accepted_kwargs(cls) - set(_DERIVED)) | {"per_channel"}
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise UserTypeError("QuantSpec({!r}): unknown option {}; {!r} takes: {}.{}".format(
                method, ", ".join(repr(k) for k in unknown), method,
                ", ".join(sorted(allowed)), did_you_mean(unknown[0], allowed)))
        if options.get("per_channel") and "num_groups" in options:
            raise ValueError("QuantSpec({!r}): give per_channel or num_groups, not both".format(
                method))
        if options.get("per_channel") and "num_groups" not in accepted_kwargs(cls):
            raise ValueError("QuantSpec({!r}): per_channel needs a method with per-group "
                             "parameters (lsq, pact, lqnet)".format(method))
        supported = getattr(cls, "supported_levels", None)
        if supported is not None and self.num_levels not in supported:
            raise ValueError("QuantSpec({!r}): {} levels is not supported; {} supports levels {} "
                             "(bits {})".format(method, self.num_levels, method,
                                                list(supported), _as_bits(supported)))
        if not 2 <= self.num_levels <= cls.max_levels:
            raise ValueError("QuantSpec({!r}): {} levels is out of range 2..{}".format(
                method, self.num_levels, cls.max_levels))
        self.options = dict(options)

    # -- building --------------------------------------------------------------------------------
    def build(self, role, shape):
        """Quantizer for a tensor of nominal ``shape`` in ``role`` ("weight" / "activation")."""
        if role not in ROLES:
            raise ValueError("QuantSpec.build: role {!r} is not one of {}.{}".format(
                role, ROLES, did_you_mean(role, ROLES)))
        shape = [int(s) for s in shape]
        if len(shape) < 2:
            raise ValueError("QuantSpec.build: shape {} needs at least 2 dims ([C_out, C_in, ...] "
                             "for weights, [1, C_in, ...] for activations)".format(shape))
        accepted = accepted_kwargs(QUANTIZERS[self.method])
        weight = role == "weight"
        kwargs = {"num_levels": self.num_levels, "signed": weight}
        derived = {"channel_dim": 0 if weight else 1, "ndim": len(shape)}
        if weight:
            fan = 1
            for s in shape[1:]:
                fan *= s
            derived["fan_in"] = fan
        kwargs.update({k: v for k, v in derived.items() if k in accepted})
        options = dict(self.options)
        if options.pop("per_channel", False):
            options["num_groups"] = shape[0] if weight else shape[1]
        kwargs.update(options)
        return build_quantizer(self.method, **kwargs)

    # -- serialisation ---------------------------------------------------------------------------
    def to_dict(self):
        """Flat, yaml-friendly dict: ``{"method": ..., "bits"|"levels": ..., **options}``."""
        d = {"method": self.method}
        if self.levels is not None:
            d["levels"] = self.levels
        else:
            d["bits"] = self.bits
        d.update(self.options)
        return d

    @classmethod
    def from_dict(cls, d):
        """Inverse of ``to_dict`` (also accepts options nested under ``"options"``)."""
        if not isinstance(d, dict) or "method" not in d:
            raise ValueError("QuantSpec.from_dict needs a dict with a 'method' key, got {!r}"
                             .format(d))
        d = dict(d)
        d.update(d.pop("options", None) or {})
        return cls(**d)

    def __str__(self):
        n = self.num_levels
        return "{}/{}".format(self.method, "{}b".format(n.bit_length() - 1) if n & (n - 1) == 0
                              else "{}L".format(n))

    def __repr__(self):
        args = ", ".join("{}={!r}".format(k, v) for k, v in self.to_dict().items()
                         if k != "method")
        return "QuantSpec({!r}, {})".format(self.method, args)

    def __eq__(self, other):
        return isinstance(other, QuantSpec) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(repr(self))


def _as_bits(levels):
    return ", ".join(str(n.bit_length() - 1) if n & (n - 1) == 0 else "{} levels".format(n)
                     for n in levels)
