"""docker/requirements-*.lock: == pins only, per-flavour torch, the forks' runtime bounds."""

import glob
import os
import re

import pytest
from static_helpers import FLAVORS, ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][^\s;#]*)$")
OPTION = re.compile(r"^--(extra-index-url|index-url) https://\S+$")


def _version(text):
    return tuple(int(p) for p in re.findall(r"\d+", text.split("+")[0])[:3])


def _pins(path):
    pins = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#") or OPTION.match(line):
            continue
        match = PIN.match(line)
        assert match, "%s: %r is not pinned with ==" % (os.path.basename(path), line)
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def _lock(flavor):
    return _pins(os.path.join(ROOT, "docker", "requirements-%s.lock" % flavor))


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "docker", "*.lock"))),
                         ids=os.path.basename)
def test_lockfile_every_line_is_pinned(path):
    assert _pins(path)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "docker", "*.lock"))),
                         ids=os.path.basename)
def test_lockfile_header_says_how_it_was_resolved(path):
    head = open(path).read(600)
    assert "Resolved by" in head and "--python-version" in head


def test_lockfile_legacy_has_torch_110_cu113():
    pins = _lock("legacy")
    assert _version(pins["torch"])[:2] == (1, 10) and pins["torch"].endswith("+cu113")
    assert _version(pins["torchvision"])[:2] == (0, 11) and pins["torchvision"].endswith("+cu113")
    assert "Python 3.8" in open(os.path.join(ROOT, "docker", "requirements-legacy.lock")).read(300)


def test_lockfile_current_has_torch_2_cuda_build():
    pins = _lock("current")
    assert _version(pins["torch"])[0] == 2 and "+cpu" not in pins["torch"]
    assert any(name.startswith("nvidia-cudnn-cu12") for name in pins)


def test_lockfile_cpu_has_torch_2_cpu_build_without_cuda_wheels():
    pins = _lock("cpu")
    assert _version(pins["torch"])[0] == 2 and pins["torch"].endswith("+cpu")
    assert pins["torchvision"].endswith("+cpu")
    assert not [name for name in pins if name.startswith("nvidia-") or name == "triton"]


def test_lockfile_torchvision_matches_torch_in_current_and_cpu():
    assert _lock("current")["torch"].split("+")[0] == _lock("cpu")["torch"].split("+")[0]
    current, cpu = _lock("current"), _lock("cpu")
    assert current["torchvision"].split("+")[0] == cpu["torchvision"].split("+")[0]


@pytest.mark.parametrize("flavor", FLAVORS + ("cpu-pypi",))
def test_lockfile_respects_the_forks_runtime_bounds(flavor):
    pins = _lock(flavor)
    if flavor == "legacy":
        # the unpatched 2021 forks: np.int & co. (gone in numpy 1.24), Image.LINEAR (Pillow 10)
        assert _version(pins["numpy"]) < (1, 24)
        assert _version(pins["pillow"]) < (10,)
        assert _version(pins["opencv-python-headless"]) < (4, 9)
        assert pins["black"] == "21.4b2"
    else:
        # patched forks (docker/patches/detectron2/0002-0004): current numpy, Pillow, black
        assert _version(pins["numpy"]) >= (2,)
        assert _version(pins["pillow"]) >= (11,)
        assert (4, 10) <= _version(pins["opencv-python-headless"]) < (5,)
        assert _version(pins["black"]) >= (24, 3)  # CVE-2024-21503 is fixed in 24.3.0
    assert _version(pins["rapidfuzz"]) < (3,)
    assert pins["gpuinfo"] == "1.0.0a7"
    assert _version(pins["fvcore"])[:3] == (0, 1, 5)
    assert (0, 1, 7) <= _version(pins["iopath"]) < (0, 1, 9)
    for needed in ("pycocotools", "pytest", "pyyaml", "yacs", "shapely", "polygon3"):
        assert needed in pins, "%s missing from the %s lock" % (needed, flavor)


def test_lockfile_legacy_keeps_setuptools_that_torch_110_imports_with():
    # torch 1.10's tensorboard import breaks on setuptools >= 59.6 (distutils.version)
    assert _version(_lock("legacy")["setuptools"]) < (59, 6)


def test_gpu_check_wheel_list_takes_its_pins_from_the_cpu_pypi_lock():
    # docker/gpu-check-requirements.txt: what a bare Python 3.12 + torch GPU machine lacks for
    # make gpu-check (make gpu-wheels downloads it); the same versions as the tested lock
    wanted = {}
    for line in open(os.path.join(ROOT, "docker", "gpu-check-requirements.txt")):
        line = re.sub(r"\s+#.*", "", line).strip()
        if line and not line.startswith("#"):
            match = PIN.match(line)
            assert match, "%r is not pinned with ==" % line
            wanted[match.group(1).lower()] = match.group(2)
    lock = _lock("cpu-pypi")
    assert {name: lock.get(name) for name in wanted} == wanted
    assert not [n for n in wanted if n in ("torch", "torchvision", "triton")
                or n.startswith(("nvidia-", "cuda-"))], "the GPU machine brings its own torch"
    for needed in ("numpy", "pillow", "fvcore", "iopath", "pycocotools", "yacs", "termcolor",
                   "tabulate", "opencv-python-headless", "pytest", "ninja", "setuptools"):
        assert needed in wanted, needed
