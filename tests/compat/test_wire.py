"""compat.wire: the fork's third_party.quantization resolves to model_quantization.compat."""
import importlib
import subprocess
import sys

import pytest

import model_quantization.compat.dorefa as compat_dorefa
import model_quantization.compat.policy as compat_policy
import model_quantization.compat.quant as compat_quant
from model_quantization.compat import wire


@pytest.fixture
def fake_fork(tmp_path, monkeypatch):
    """A folder shaped like the detectron2 fork: a ``third_party`` package, its .gitignore."""
    (tmp_path / "third_party").mkdir()
    (tmp_path / "third_party" / "__init__.py").write_text("")
    (tmp_path / ".gitignore").write_text("# links\nthird_party/quantization\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n == "third_party" or n.startswith("third_party.")]:
        del sys.modules[name]


def test_wire_alias_gives_the_same_objects_both_ways(fake_fork):
    wire.wire(str(fake_fork))
    importlib.invalidate_caches()
    from third_party.quantization.dorefa import RoundSTE
    from third_party.quantization.policy import deploy_on_init
    from third_party.quantization.quant import quantization
    assert quantization is compat_quant.quantization
    assert deploy_on_init is compat_policy.deploy_on_init
    assert RoundSTE is compat_dorefa.RoundSTE
    assert sys.modules["third_party.quantization.quant"] is compat_quant


def test_wire_is_idempotent(fake_fork):
    path = wire.wire(str(fake_fork))
    first = open(path).read()
    wire.wire(str(fake_fork))
    assert open(path).read() == first == wire.ALIAS_SOURCE


def test_wire_check_reports_missing_and_stale(fake_fork):
    ok, message = wire.check(str(fake_fork))
    assert not ok and "missing" in message and "--detectron2" in message
    path = wire.wire(str(fake_fork))
    with open(path, "a") as f:
        f.write("# edited\n")
    ok, message = wire.check(str(fake_fork))
    assert not ok and "stale" in message


def test_wire_check_flags_path_not_git_ignored(fake_fork):
    subprocess.run(["git", "init", "-q", str(fake_fork)], check=True)
    wire.wire(str(fake_fork))
    assert wire.check(str(fake_fork))[0]
    (fake_fork / ".gitignore").write_text("")
    ok, message = wire.check(str(fake_fork))
    assert not ok and "not git-ignored" in message


def test_wire_main_check_exit_codes(fake_fork, capsys):
    assert wire.main(["--detectron2", str(fake_fork), "--check"]) == 1
    assert "missing" in capsys.readouterr().err
    assert wire.main(["--detectron2", str(fake_fork)]) == 0
    assert wire.main(["--detectron2", str(fake_fork), "--check"]) == 0


def test_wire_rejects_folder_without_third_party(tmp_path):
    with pytest.raises(FileNotFoundError, match="no third_party/ folder"):
        wire.wire(str(tmp_path))
