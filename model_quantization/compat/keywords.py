"""QTool's ``keyword`` list: which quantization method each tag gets, and which words are known.

Method selection (QTool's order: the LQ-Net block, then the DoReFa family, then XNOR):

* ``dorefa`` opens the DoReFa family. Inside it ``lsq`` (or ``fm_lsq`` / ``wt_lsq`` for one
  tag) selects LSQ, ``pact`` selects PACT for activations and DoReFa for weights, and with
  neither the tag gets plain DoReFa-Net (weights quantized too: QTool-2020 behaviour).
  ``pact`` alone also opens the family; ``lsq`` alone opens nothing (QTool then fails on
  an enabled layer with no method, and so do we, with the fix in the message).
* ``lq`` selects LQ-Net. Our LQ-Net is real ternary at 3 levels; the keyword
  ``lq-qtool-ternary`` asks for QTool's degenerate two-valued "ternary" instead.

Where QTool let a later block silently override an earlier one (``lq`` with ``dorefa``, ``lsq``
with ``pact``), we raise: the run would not be what the config says. Keywords naming methods we
do not implement (``xnor``, ``non-uniform``, ...) raise too. Behaviour and structure keywords
found in real configs are accepted; those with no effect here are logged once.
"""

from ..errors import did_you_mean

__all__ = ["select_method", "check_keywords", "IGNORED_KEYWORDS", "UNSUPPORTED_KEYWORDS",
           "OUR_KEYWORDS"]

METHOD_KEYWORDS = ("dorefa", "lsq", "fm_lsq", "wt_lsq", "ot_lsq", "pact", "lq", "wt_dorefa")
UNSUPPORTED_KEYWORDS = ("xnor", "non-uniform", "fm_non-uniform", "wt_non-uniform", "closed_form",
                        "fm_closed_form", "wt_bin", "gamma", "wt_gamma", "ot_gamma", "wt_gamma_in",
                        "wt_gamma_out", "wt_gamma_learnable", "alq", "popcount", "native",
                        "fm_native", "wt_native", "ot_native", "symmetry", "independent_norm",
                        "grain", "eval", "print")
# keyword -> why it changes nothing in this library (logged once per process)
IGNORED_KEYWORDS = {
    "": "empty default entry",
    "probe": "QTool's tensor dumps are not reproduced",
    "adaptive-restore": "no QTool code reacts to it",
    "nop-conv": "no QTool code reacts to it",
    "linear-quant": "no QTool code reacts to it",
    "real_skip": "a model-level option of QTool's own ResNets; the forks only warn about it",
    "proxquant": "ProxQuant blending is not implemented; layers are fully quantized",
    "custom-update": "only LQ-Net reads it (running-mean basis update)",
    "padding_after_quant": "read from the option of that name, not from keyword",
}
STRUCTURE_KEYWORDS = ("PReLU", "NReLU", "ReLU6", "LReLU", "QReLU", "group-norm", "static-bn",
                      "freeze-bn", "reverse-bn", "sync-bn", "quant-bn", "instance-norm")
OUR_KEYWORDS = {
    "strict-bit": "a policy's 'bit: N' also sets the level count to 2^N",
    "lq-qtool-ternary": "LQ-Net at 3 levels behaves like QTool (two distinct values)",
}
BEHAVIOUR_KEYWORDS = ("debug",)  # implemented: debug logs each quantizer as it is built
_KNOWN = (set(METHOD_KEYWORDS) | set(BEHAVIOUR_KEYWORDS) | set(UNSUPPORTED_KEYWORDS)
          | set(IGNORED_KEYWORDS) | set(STRUCTURE_KEYWORDS) | set(OUR_KEYWORDS))


def normalize_keywords(keyword):
    """``args.keyword`` (list, tuple, string or None) -> list of stripped strings."""
    if keyword is None:
        return []
    if isinstance(keyword, str):
        keyword = keyword.replace(",", " ").split()
    return [str(k).strip() for k in keyword]


def check_keywords(keywords):
    """Raise for unknown or unsupported keywords; return ``(word, reason)`` pairs to log once."""
    notes = []
    for word in keywords:
        if word in UNSUPPORTED_KEYWORDS:
            raise ValueError("keyword {!r} selects a QTool feature this library does not "
                             "implement (supported methods: 'dorefa', 'dorefa'+'lsq', 'pact', "
                             "'lq'); remove it from MODEL.QUANTIZATION.keyword".format(word))
        if word not in _KNOWN:
            raise ValueError("unknown quantization keyword {!r}; known keywords: {}.{}".format(
                word, ", ".join(sorted(w for w in _KNOWN if w)), did_you_mean(word, _KNOWN)))
        if word == "custom-update" and "lq" in keywords:
            continue
        if word in IGNORED_KEYWORDS and word:
            notes.append((word, IGNORED_KEYWORDS[word]))
    return notes


def select_method(keywords, tag):
    """Method registered name (``'lsq'``, ``'dorefa'``, ``'pact'``, ``'lqnet'``) for ``tag``, or
    ``None`` when the keywords select none."""
    words = set(keywords)
    lq = "lq" in words
    family = "dorefa" in words or "pact" in words
    if lq and family:
        raise ValueError("keywords select two methods: 'lq' (LQ-Net) and {} (DoReFa family); QTool "
                         "silently let the DoReFa family win. Keep only one".format(
                             sorted(words & {"dorefa", "pact"})))
    if lq:
        return "lqnet"
    if not family:
        return None
    lsq = "lsq" in words or "{}_lsq".format(tag) in words
    if lsq and "pact" in words:
        raise ValueError("keywords select both LSQ ('lsq') and PACT ('pact') for tag {!r}; keep "
                         "one of them".format(tag))
    if lsq:
        return "lsq"
    if "pact" in words and tag == "fm":
        return "pact"
    return "dorefa"
