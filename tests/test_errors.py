"""model_quantization.errors: which errors the entry points print in one line, and how."""
import json

import pytest

from model_quantization import errors
from model_quantization.classification.config import load_config


def _raise(exc):
    raise exc


def _project_value_error():
    try:
        load_config(None, ["optimizer.lr=-1"])
    except ValueError as exc:
        return exc
    raise AssertionError("load_config accepted a negative learning rate")


def _library_value_error():
    try:
        json.loads("{not json")
    except ValueError as exc:
        return exc
    raise AssertionError("json accepted bad text")


def test_project_value_errors_are_anticipated_library_ones_are_not():
    assert errors.is_anticipated(_project_value_error())
    assert not errors.is_anticipated(_library_value_error())
    assert errors.is_anticipated(errors.ConfigError("x"))  # a UserError, wherever raised
    assert not errors.is_anticipated(KeyError("a bug"))
    assert not errors.is_anticipated(RuntimeError("CUDA error"))


def test_run_cli_prints_one_line_and_returns_2(capsys, monkeypatch):
    monkeypatch.delenv(errors.DEBUG_ENV, raising=False)
    exc = _project_value_error()
    assert errors.run_cli(lambda: _raise(exc), prog="tool") == errors.EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("tool: error: config optimizer.lr = -1 is out of range")


def test_run_cli_keeps_the_traceback_of_a_bug_and_under_debug(monkeypatch):
    monkeypatch.delenv(errors.DEBUG_ENV, raising=False)
    with pytest.raises(ZeroDivisionError):
        errors.run_cli(lambda: 1 / 0)
    with pytest.raises(ValueError):
        errors.run_cli(lambda: _raise(_library_value_error()))
    monkeypatch.setenv(errors.DEBUG_ENV, "1")
    with pytest.raises(ValueError, match="out of range"):
        errors.run_cli(lambda: _raise(_project_value_error()))


def test_run_cli_passes_the_exit_code_through():
    assert errors.run_cli(lambda: 3) == 3
    assert errors.run_cli(lambda: None) == 0


def test_one_line_joins_lines_and_keeps_file_names():
    assert errors.one_line(ValueError("a\n  b")) == "a b"
    err = FileNotFoundError(2, "No such file or directory", "/x/y.pth")
    assert errors.one_line(err) == "No such file or directory: '/x/y.pth'"
    assert errors.one_line(errors.UnknownKeyError("key 'A.B' unknown")) == "key 'A.B' unknown"


def test_did_you_mean():
    assert errors.did_you_mean("iinit", ["init", "norm"]) == " Did you mean 'init'?"
    assert errors.did_you_mean("zzz", ["init", "norm"]) == ""
