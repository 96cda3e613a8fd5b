"""The forks import from the project root: no folder of ours shadows one of their packages, and a
failed import is reported by its last line (not installed vs installed but broken)."""
import os
import subprocess
import sys

import pytest

from model_quantization.detection import forks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_no_project_folder_shadows_a_fork_package():
    # A folder named like a fork's package in the project root shadows it for every entry point
    # (the root is sys.path[0]); third_party/ did, and made `import detectron2` fail there.
    assert forks.colliding_names(ROOT) == []


def test_colliding_names_finds_folders_and_modules(tmp_path):
    (tmp_path / "third_party").mkdir()
    (tmp_path / "adet.py").write_text("")
    (tmp_path / "detectron2.txt").write_text("")
    (tmp_path / "scripts").mkdir()
    assert forks.colliding_names(str(tmp_path)) == ["adet.py", "third_party"]


def test_fork_packages_are_the_pinned_forks_top_level_packages():
    found = set()
    for fork in ("detectron2", "AdelaiDet"):
        root = os.path.join(ROOT, "forks", fork)
        if not os.path.isfile(os.path.join(root, "setup.py")):
            pytest.skip("needs the forks' sources checked out: git submodule update --init")
        found.update(name for name in os.listdir(root) if name != "tests"
                     and os.path.isfile(os.path.join(root, name, "__init__.py")))
    assert found == set(forks.FORK_PACKAGES)


def test_import_error_is_the_last_line_of_what_the_import_printed(tmp_path):
    # A broken package in the working directory stands in for an installed but broken fork.
    (tmp_path / "detectron2").mkdir()
    (tmp_path / "detectron2" / "__init__.py").write_text("raise RuntimeError('broken fork')\n")
    error = forks.import_error(cwd=str(tmp_path))
    assert error == "RuntimeError: broken fork"
    assert forks.describe(error) == "forks installed but not importable (RuntimeError: broken fork)"


def test_import_error_none_when_every_module_imports(tmp_path):
    for package in ("detectron2", "detectron2/layers", "third_party", "third_party/quantization",
                    "adet", "adet/modeling"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    assert forks.import_error(cwd=str(tmp_path)) is None


def test_describe_not_installed():
    assert forks.describe("ModuleNotFoundError: No module named 'detectron2'").startswith(
        "forks not installed")


@pytest.mark.parametrize("value, expected", [("1", True), ("0", False), ("", False), (None, False)])
def test_required_reads_the_environment(value, expected):
    environ = {} if value is None else {forks.REQUIRE_ENV: value}
    assert forks.required(environ) is expected


def test_required_rejects_other_values():
    with pytest.raises(ValueError, match="MQ_REQUIRE_FORKS='yes' is not 0 or 1"):
        forks.required({forks.REQUIRE_ENV: "yes"})


def test_marked_fork_test_fails_where_the_forks_are_required(tmp_path):
    # The suite's own hook (tests/conftest.py): skip with the import error natively, fail where
    # the forks are required. Run on a copy of the hook, where the forks are not installed.
    conftest = open(os.path.join(ROOT, "tests", "conftest.py")).read()
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_needs_forks.py").write_text(
        "import pytest\n\n@pytest.mark.forks\ndef test_x():\n    pass\n")
    env = dict(os.environ, PYTHONPATH=ROOT)

    def run(require):
        env[forks.REQUIRE_ENV] = require
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
             "-o", "markers=forks: x", str(tmp_path)], cwd=str(tmp_path), env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)

    skipped = run("0")
    if forks.import_error() is None:
        pytest.skip("the forks are installed here: the hook has nothing to skip")
    assert skipped.returncode == 0 and "needs the pinned forks, forks" in skipped.stdout
    failed = run("1")
    assert failed.returncode == 1 and "MQ_REQUIRE_FORKS=1" in failed.stdout
