"""Reader for QTool's policy files (the ``policy_*.txt`` files the detection forks ship).

Grammar (line oriented; reproduces QTool's reader, with loud errors where QTool was silent):

* Blank lines are skipped; ``#`` starts a comment that runs to the end of the line.
* Every other line is ``left: right``, split at the first colon. A line without a colon ends
  parsing, as in QTool; the rest of the file is ignored and a warning names ``file:line``.
* Section header: the left side, split on whitespace, holds the word ``on`` and a section name
  (``on init:``, ``on norm:``, ``on eltwise:``, ``on epoch: 10 20``). The right side is a list of
  integers, the trigger. Reaching the requested section starts the result afresh as
  ``[{'trigger': [...]}]``; the lines of other sections are skipped.
* Inside the section, lines are ``key: value``. A block opens with one or more ``by_*`` keys
  (``by_index``, ``by_tag``) and closes when a ``by_*`` key follows a non-``by_*`` key; the last
  block closes at the end of the section. ``key: value`` lines before the first ``by_*`` key
  select nothing: they are dropped with a warning.
* Values are stripped. A value with a comma is a list split on commas, else one with blanks is
  a list split on blanks, else a string. List items ``True/true/False/false`` become booleans;
  all else stays text: the receiving module converts it to the type of the attribute it sets
  (see :mod:`model_quantization.compat.policy_apply`).
* Checked as read, each a :class:`PolicyError` naming ``file:line``: a header naming a section
  no receiver reads (``on iinit:`` would otherwise drop its policies silently); ``enable``
  that is not a boolean word (``True``/``False`` in any case, yes/no, on/off, 1/0: ``Flase``
  must not switch quantization on); ``bit`` outside 1..16 and ``level_num``/``num_levels``
  outside 2..65536 or not whole numbers.

Each policy is returned as a :class:`Policy` (a ``dict`` that also remembers ``source``,
``"file:line"`` of its first key), so errors found later while applying it can name the line.
A line that cannot be parsed (empty key, a key with blanks, a trigger or ``by_index`` that is not
made of integers) raises :class:`PolicyError` naming ``file:line``.

Decisions on QTool's quirks (docs/forks.md, "The policy file grammar"), applied by the receivers:

* ``bit: N`` without ``level_num``/``num_levels``: QTool changed only the ``bit`` attribute, so
  the layer kept ``2**<tag>_bit`` levels (the detectron2 r18/r34/r50 fixpoint policies rely on
  this). We reproduce it by default and log a warning naming the layer and the fix; the
  keyword ``strict-bit`` in ``MODEL.QUANTIZATION.keyword`` makes ``bit`` set ``2**N`` levels.
* A selection that matches nothing, or a key no selected object has, is a :class:`PolicyError`
  (QTool ignored both), except an index of a conv the config's scope left unconverted, which
  is a warning (fork configs keep a fixpoint policy with stem/predictors in full precision).
"""
import logging
import os
import re

from ..errors import closest_matches

__all__ = ["PolicyError", "Policy", "parse_policy", "parse_policy_text", "parse_index_selector",
           "policy_sections", "SECTIONS", "BOOL_WORDS", "bool_word", "parse_bool"]

_LOG = logging.getLogger(__name__)
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_BOOLS = {"True": True, "true": True, "False": False, "false": False}
# every section a receiver reads (compat.policy): a header naming anything else is a typo
SECTIONS = ("init", "norm", "eltwise", "shuffle", "split", "concat", "epoch", "iteration")
# boolean words a policy value may use (any case); anything else under a boolean key is an error
BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True,
              "false": False, "no": False, "off": False, "0": False}
# keys whose values are checked as the file is read: (kind, low, high)
VALUE_RULES = {"enable": ("bool", None, None), "bit": ("int", 1, 16),
               "level_num": ("int", 2, 2 ** 16), "num_levels": ("int", 2, 2 ** 16)}


class PolicyError(ValueError):
    """A policy file (or one of its entries) is malformed or does not fit the model."""


class Policy(dict):
    """One policy block: ``{key: value}`` plus ``source`` (``"file:line"``) for messages."""

    def __init__(self, *args, source="<policy>", **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source


def _split_value(text):
    text = text.strip()
    if "," in text:
        items = [t.strip() for t in text.split(",")]
    elif " " in text or "\t" in text:
        items = text.split()
    else:
        return text
    return [_BOOLS.get(t, t) for t in items]


def parse_index_selector(value, where="<policy>"):
    """``by_index`` value -> ``'all'`` or a list of ints (``'8'``, ``['36', '37']``, ``8``)."""
    if isinstance(value, str) and value.strip() == "all":
        return "all"
    items = value if isinstance(value, (list, tuple)) else (
        value.split() if isinstance(value, str) else [value])
    out = []
    for item in items:
        if isinstance(item, bool):
            item = str(item)
        try:
            out.append(int(item))
        except (TypeError, ValueError):
            raise PolicyError("{}: by_index {!r} is not 'all' or a list of integers (bad item "
                              "{!r}); write e.g. 'by_index: 8' or 'by_index: 36 37 38'"
                              .format(where, value, item)) from None
    return out


def bool_word(value):
    """``value`` as a boolean: a bool, or a word of :data:`BOOL_WORDS` (any case, quotes and
    blanks around it ignored); None for anything else."""
    if isinstance(value, bool):
        return value
    return BOOL_WORDS.get(str(value).strip().strip("'\"").strip().lower())


def parse_bool(value, key="value", where="<policy>"):
    """A policy boolean (:func:`bool_word`); anything else is a :class:`PolicyError`."""
    flag = bool_word(value)
    if flag is not None:
        return flag
    raise PolicyError("{}: {}: {!r} is not a boolean; write {}: True or {}: False".format(
        where, key, value, key, key))


def check_value(key, value, where="<policy>"):
    """Check the value of a key of :data:`VALUE_RULES` (others pass); raise ``PolicyError``."""
    rule = VALUE_RULES.get(key)
    if rule is None:
        return
    kind, low, high = rule
    if kind == "bool":
        parse_bool(value, key, where)
        return
    text = str(value).strip().strip("'\"")
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is None or number != int(number) or not low <= number <= high:
        hint = " (use 'enable: False' to keep a layer in full precision)" if key == "bit" else (
            " (4 for 2 bit, 3 for ternary, 256 for 8 bit)")
        raise PolicyError("{}: {}: {!r} is not a whole number from {} to {}{}".format(
            where, key, value, low, high, hint))


def _header(left):
    words = left.split()
    if "on" not in words:
        return None
    return [w for w in words if w != "on"]


def parse_policy_text(text, section="init", source="<string>", warn=None):
    """Parse policy ``text`` and return the list of policies of ``section`` (see module doc).

    Returns ``[]`` when the section is absent, else ``[{'trigger': [...]}, Policy, ...]``.
    ``warn`` receives warning strings (default: this module's logger).
    """
    warn = warn or _LOG.warning
    result = []
    active = False
    block = None       # Policy being filled, or None before the first by_* key
    in_selector = False  # True while the current block is still reading by_* keys
    dropped = []

    def close():
        if block is not None and active:
            result.append(block)

    for lineno, raw in enumerate(text.splitlines(), 1):
        where = "{}:{}".format(source, lineno)
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if ":" not in line:
            warn("{}: line {!r} has no ':'; parsing stops here as in QTool, the rest of the file "
                 "is ignored".format(where, line))
            break
        left, right = line.split(":", 1)
        left = left.strip()
        names = _header(left)
        if names is not None:
            close()
            block, in_selector = None, False
            if not names:
                raise PolicyError("{}: section header {!r} names no section; write e.g. "
                                  "'on init:'".format(where, line))
            unknown = [n for n in names if n not in SECTIONS]
            if unknown:
                close = closest_matches(unknown[0], SECTIONS, cutoff=0.5)
                raise PolicyError("{}: section header {!r} names unknown section {!r}{}; the "
                                  "sections are {} (a misspelt header would drop its policies "
                                  "without a word)".format(
                                      where, line, unknown[0],
                                      " (did you mean 'on {}:'?)".format(close[0]) if close
                                      else "", ", ".join(SECTIONS)))
            active = section in names
            if active:
                try:
                    trigger = [int(t) for t in right.split()]
                except ValueError:
                    raise PolicyError("{}: trigger {!r} of section {!r} must be integers, e.g. "
                                      "'on epoch: 10 20'".format(where, right.strip(), left)
                                      ) from None
                if result:
                    warn("{}: section {!r} appears again; the earlier one is discarded (as in "
                         "QTool)".format(where, section))
                result = [{"trigger": trigger}]
            continue
        if not _KEY.match(left):
            raise PolicyError("{}: cannot parse {!r}: expected 'key: value' with a single-word "
                              "key or a section header like 'on init:'".format(where, raw.strip()))
        if not active:
            continue
        value = _split_value(right)
        if left.startswith("by_"):
            if block is None or not in_selector:
                close()
                block, in_selector = Policy(source=where), True
            if left == "by_index":
                parse_index_selector(value, where)
        elif block is None:
            dropped.append(where)
            continue
        else:
            in_selector = False
        check_value(left, value, where)
        if left in block:
            warn("{}: key {!r} repeats in one block; the later value {!r} wins".format(
                where, left, value))
        block[left] = value
    close()
    if dropped:
        warn("{}: ignored, no by_index/by_tag opened a block before them: lines {}".format(
            source, ", ".join(d.rsplit(":", 1)[1] for d in dropped)))
    return result


def parse_policy(filename, section="init", warn=None):
    """Read policy file ``filename`` and return the policies of ``section``.

    Raises ``FileNotFoundError`` when the file does not exist, :class:`PolicyError` on a line it
    cannot parse.
    """
    if not os.path.isfile(filename):
        raise FileNotFoundError("policy file {!r} not found; give an existing file (relative paths "
                                "resolve from {!r})".format(filename, os.getcwd()))
    with open(filename) as f:
        text = f.read()
    return parse_policy_text(text, section=section, source=filename, warn=warn)


def policy_sections(text):
    """Names of the sections declared in policy ``text`` (order of appearance)."""
    names = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if ":" not in line:
            break
        words = _header(line.split(":", 1)[0])
        if words:
            names.extend(w for w in words if w not in names)
    return names
