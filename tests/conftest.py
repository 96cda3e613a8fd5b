"""Test-suite set-up shared by every folder.

pytest runs in importlib mode (pyproject.toml), so same-named test files in different folders do
not clash; shared helper modules that sit beside the tests (``compat_fakes``, ``static_helpers``)
are made importable by putting their folders on ``sys.path`` here.
"""
import functools
import pathlib
import random
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


CLASSES = ("blue", "green", "red")
_COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def _make_split(root, split, per_class, rng):
    from PIL import Image

    for name in CLASSES:
        folder = root / split / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            base = _COLOURS[name]
            pixels = [tuple(min(255, max(0, c + rng.randint(-40, 40))) for c in base)
                      for _ in range(24 * 24)]
            img = Image.new("RGB", (24, 24))
            img.putdata(pixels)
            img.save(folder / "{}_{}.png".format(name, i))


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """``<root>/train/<class>/*.png`` (8 per class) and ``<root>/val/...`` (3 per class)."""
    root = tmp_path_factory.mktemp("tiny_imagefolder")
    rng = random.Random(0)
    _make_split(root, "train", 8, rng)
    _make_split(root, "val", 3, rng)
    return root


def _free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def torchrun():
    """The argv that starts ``nproc`` local processes: ``torchrun(2) + [script, ...]``.

    It uses torchrun's static rendezvous on a free loopback port rather than ``--standalone``:
    on torch 1.10 the standalone (c10d) agent's keep-alive thread and its exit barrier share one
    TCPStore client, and the exit barrier now and then fails with ``MemoryError: std::bad_alloc``
    and hangs until its 300 s timeout (pytorch/pytorch#62029, #69520). The workers, the gloo group
    and the environment they see (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_*) are the same either way.
    """
    def argv(nproc):
        return [sys.executable, "-m", "torch.distributed.run", "--nnodes=1",
                "--nproc_per_node={}".format(nproc), "--master_addr=127.0.0.1",
                "--master_port={}".format(_free_port())]
    return argv
