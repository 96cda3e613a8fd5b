"""Test-suite set-up shared by every folder.

pytest runs in importlib mode (pyproject.toml), so same-named test files in different folders do
not clash; shared helper modules that sit beside the tests (``compat_fakes``, ``static_helpers``)
are made importable by putting their folders on ``sys.path`` here.
"""
import functools
import pathlib
import sys

import pytest

_HERE = pathlib.Path(__file__).resolve().parent
for _folder in sorted(p for p in _HERE.iterdir() if p.is_dir() and not p.name.startswith(".")):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


# Tests marked ``forks`` need the pinned forks importable. Where they are not, the test is skipped
# with the import error's last line ("not installed" and "installed but broken" read differently),
# or failed where the forks are required (MQ_REQUIRE_FORKS=1: the image, make test REQUIRE_FORKS=1).
@functools.lru_cache(maxsize=None)
def _fork_error():
    from model_quantization.detection import forks
    return forks.import_error()


def pytest_runtest_setup(item):
    if item.get_closest_marker("forks") is None:
        return
    error = _fork_error()
    if error is None:
        return
    import pytest

    from model_quantization.detection import forks
    if forks.required():
        pytest.fail("{} ({}=1: the forks are required here; make install-forks, or rebuild the "
                    "image)".format(forks.describe(error), forks.REQUIRE_ENV), pytrace=False)
    pytest.skip("needs the pinned forks, {}: run inside the image (make test) or after make "
                "install-forks".format(forks.describe(error)))



@pytest.fixture(scope="session")
def small_coco(tmp_path_factory):
    """A small COCO folder (images/, annotations/instances_{train,val}.json): the built-in smoke
    set of shapes (model_quantization.detection.shapes), generated once, in about a second."""
    from model_quantization.detection.shapes import make_shapes
    return make_shapes(str(tmp_path_factory.mktemp("shapes")), seed=0)
