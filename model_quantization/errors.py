"""Anticipated user errors and how the entry points report them.

A mistake a user can make (a bad config value, a missing file, a refused overwrite, a checkpoint
that does not fit) is reported by the entry points as one line on stderr::

    error: <what is wrong, the value, the fix>

with exit code 2, the code argparse uses for a bad command line. Everything else is a bug or a
failure outside this project and keeps its traceback. ``MQ_DEBUG=1`` shows the traceback of an
anticipated error too.

What counts as anticipated (:func:`is_anticipated`):

* an instance of :class:`UserError` (the project's own error classes derive from it), or
* a ``ValueError`` or a file-system error (missing file, existing file, folder where a file
  belongs, no permission) raised by this project's own code (``model_quantization/`` or
  ``scripts/``): every such ``raise`` in the project carries a message that names the value and
  the fix. The same exception raised inside torch, detectron2 or another library is not
  anticipated, so a real failure there keeps its traceback.

Standard library only; Python 3.8.
"""
import os
import sys

__all__ = ["UserError", "ConfigError", "UnknownKeyError", "UserTypeError", "ForksMissingError",
           "is_anticipated", "one_line", "run_cli", "did_you_mean", "closest_matches", "DEBUG_ENV",
           "EXIT_USER_ERROR"]

DEBUG_ENV = "MQ_DEBUG"
EXIT_USER_ERROR = 2

_PROJECT_DIRS = tuple(os.path.normcase(os.path.abspath(p)) + os.sep for p in (
    os.path.dirname(__file__),
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"),
))
_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
                PermissionError)


class UserError(Exception):
    """Marker base of the project's own errors about the user's input."""


class ConfigError(UserError, ValueError):
    """A config value, key or command-line value that cannot be used."""


class UnknownKeyError(ConfigError, KeyError):
    """A config key that does not exist (a ``KeyError`` too, for callers that catch those)."""

    def __str__(self):  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ForksMissingError(UserError, ImportError):
    """The pinned forks are not importable where a step needs them."""


class UserTypeError(UserError, TypeError):
    """A value of the wrong type in a config or policy (text where a number belongs, ...)."""


def closest_matches(word, choices, n=1, cutoff=0.6):
    """The up to ``n`` entries of ``choices`` closest to ``word`` (difflib's ratio >= cutoff)."""
    import difflib
    return difflib.get_close_matches(str(word), sorted({str(c) for c in choices if c != ""}),
                                     n=n, cutoff=cutoff)


def did_you_mean(word, choices, n=1, cutoff=0.6):
    """``" Did you mean 'x'?"`` (or ``'x' or 'y'``) for the closest of ``choices`` to ``word``,
    or ``""``: the one suggestion helper of every message in the project."""
    matches = closest_matches(word, choices, n=n, cutoff=cutoff)
    if not matches:
        return ""
    return " Did you mean {}?".format(" or ".join(repr(m) for m in matches))


def _raised_in_project(exc):
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    path = os.path.normcase(os.path.abspath(last.tb_frame.f_code.co_filename))
    return path.startswith(_PROJECT_DIRS)


def is_anticipated(exc):
    """True for a user error the entry points report in one line (see the module doc)."""
    if isinstance(exc, UserError):
        return True
    if isinstance(exc, (ValueError,) + _FILE_ERRORS):
        return _raised_in_project(exc)
    return False


def one_line(exc):
    """The message of ``exc`` on one line (a file-system error keeps its file name)."""
    text = str(exc)
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = "{}: {!r}".format(exc.strerror, exc.filename)
        if exc.filename2 is not None:
            text += " -> {!r}".format(exc.filename2)
    text = " ".join(text.split())
    return text or type(exc).__name__


def run_cli(main, argv=None, prog=None):
    """Run ``main(argv)`` and return its exit code; an anticipated error prints one line.

    Use as ``sys.exit(run_cli(main))`` in every entry point.
    """
    try:
        code = main(argv) if argv is not None else main()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - sorted below: ours -> one line, others re-raised
        if not is_anticipated(exc) or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        name = prog or os.path.basename(sys.argv[0] or "model_quantization")
        print("{}: error: {}".format(name, one_line(exc)), file=sys.stderr)
        return EXIT_USER_ERROR
    return 0 if code is None else code
