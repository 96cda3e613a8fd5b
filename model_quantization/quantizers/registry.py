"""Name -> quantizer class registry, filled by the ``@register_quantizer`` decorator."""
import inspect

from ..errors import UnknownKeyError, UserTypeError, did_you_mean

__all__ = ["QUANTIZERS", "register_quantizer", "build_quantizer", "available_methods",
           "accepted_kwargs"]

QUANTIZERS = {}


def register_quantizer(name):
    """Class decorator: make a ``Quantizer`` subclass buildable by ``build_quantizer(name)``."""

    def wrap(cls):
        if name in QUANTIZERS:
            raise KeyError("quantizer method {!r} is registered twice ({} and {})".format(
                name, QUANTIZERS[name].__name__, cls.__name__))
        cls.method = name
        QUANTIZERS[name] = cls
        return cls

    return wrap


def accepted_kwargs(cls):
    """Keyword arguments a quantizer class's constructor accepts (following ``**kwargs`` up the
    MRO, so a subclass that forwards them also accepts its base's)."""
    accepted = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        accepted.update(p for p, v in params.items() if p != "self" and v.kind not in (
            inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD))
        if not any(v.kind == inspect.Parameter.VAR_KEYWORD for v in params.values()):
            break
    return accepted


def available_methods():
    """Sorted names of every registered quantization method."""
    return sorted(QUANTIZERS)


def build_quantizer(method, **kwargs):
    """Build the quantizer registered as ``method`` from explicit keyword arguments.

    Raises ``KeyError`` for an unknown method and ``TypeError`` for a keyword the method does
    not take, each naming the bad value and the accepted ones.
    """
    if method not in QUANTIZERS:
        raise UnknownKeyError("unknown quantization method {!r}; known methods: {}.{}".format(
            method, ", ".join(available_methods()), did_you_mean(method, QUANTIZERS)))
    cls = QUANTIZERS[method]
    accepted = accepted_kwargs(cls)
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise UserTypeError("quantizer {!r} does not take {}; it takes: {}.{}".format(
            method, ", ".join(repr(k) for k in unknown), ", ".join(sorted(accepted)),
            did_you_mean(unknown[0], accepted)))
    return cls(**kwargs)
