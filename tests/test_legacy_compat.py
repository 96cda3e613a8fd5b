"""The library must stay importable in the legacy image: Python 3.8 and torch 1.10.

Python: checked with vermin (a real minimum-version analyser), not by eye.
torch: an AST scan for APIs that torch 1.10 lacks; such a call is allowed only on a line (or the
line after an ``if``/``try``) that carries a ``# torch-version-guard`` comment explaining the guard.
"""
import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "model_quantization"

# Public torch APIs added after 1.10 that a quick edit might reach for.
NEWER_TORCH_APIS = {
    "torch.compile", "torch.func", "torch.export", "torch.vmap", "torch.library.custom_op",
    "torch.nn.functional.scaled_dot_product_attention", "torch.Tensor.untyped_storage",
    "torch.amp.GradScaler", "torch.amp.custom_fwd", "torch.amp.custom_bwd",
    "torch.nn.utils.parametrizations.weight_norm", "torch.set_default_device",
    "torch.distributed.checkpoint", "torch.utils._pytree.tree_map_only",
    "torch.nn.Module.register_load_state_dict_post_hook", "torch.serialization.add_safe_globals",
}
GUARD = "torch-version-guard"


def _vermin():
    exe = shutil.which("vermin") or str(pathlib.Path(sys.executable).with_name("vermin"))
    return exe if pathlib.Path(exe).exists() else None


def test_library_needs_at_most_python_3_8():
    exe = _vermin()
    if exe is None:
        pytest.skip("vermin is not installed: pip install -e '.[lint]' (CI installs it)")
    proc = subprocess.run([exe, "-t=3.8-", "--no-tips", "--violations", "--eval-annotations",
                           "--no-parse-comments", str(PACKAGE)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode == 0, "vermin found code that needs Python > 3.8:\n" + proc.stdout


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _newer_api_uses(path):
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            name = _dotted(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mod = getattr(node, "module", None) or ""
            name = None
            for alias in node.names:
                full = (mod + "." + alias.name) if mod else alias.name
                if any(full == api or full.startswith(api + ".") for api in NEWER_TORCH_APIS):
                    name = full
        else:
            continue
        if not name or not any(name == api or name.startswith(api + ".")
                               for api in NEWER_TORCH_APIS):
            continue
        near = lines[max(0, node.lineno - 2):node.lineno]
        if not any(GUARD in line for line in near):
            found.append("{}:{}: {}".format(path, node.lineno, name))
    return found


def test_newer_api_scan_catches_an_unguarded_call(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nf = torch.compile(lambda x: x)\n")
    good = tmp_path / "good.py"
    good.write_text("import torch\nif hasattr(torch, 'compile'):  # torch-version-guard: >= 2.0\n"
                    "    f = torch.compile(lambda x: x)\n")
    assert _newer_api_uses(bad) == ["{}:2: torch.compile".format(bad)]
    assert _newer_api_uses(good) == []


def test_library_uses_no_unguarded_torch_api_newer_than_1_10():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found.extend(_newer_api_uses(path))
    assert not found, "torch > 1.10 APIs without a '# {}' comment:\n{}".format(
        GUARD, "\n".join(found))
