"""Every shell script of the project passes shellcheck."""

import os
import shutil
import subprocess

import pytest
from static_helpers import ROOT

SKIP_DIRS = {".git", "forks", ".venv", ".venv-py38", "venv", "node_modules", "output",
             "outputs"}
CI_SCRIPTS = (".ci/run", ".ci/legacy-check")  # bash scripts without the .sh suffix


def _shell_scripts():
    found = []
    for directory, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        found.extend(os.path.relpath(os.path.join(directory, f), ROOT)
                     for f in files if f.endswith(".sh"))
    found.extend(p for p in CI_SCRIPTS if os.path.isfile(os.path.join(ROOT, p)))
    return sorted(found)


def test_shellcheck_finds_the_scripts_it_should_check():
    scripts = _shell_scripts()
    assert "docker/entrypoint.sh" in scripts and "docker/apply_patches.sh" in scripts
    assert ".ci/run" in scripts


@pytest.mark.parametrize("script", _shell_scripts())
def test_shellcheck_script_is_clean(script):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed: apt-get install -y shellcheck (CI installs it)")
    proc = subprocess.run(["shellcheck", "-x", script], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode == 0, proc.stdout
