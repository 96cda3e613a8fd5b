"""docker/standin-base.sh, the local stand-in for a base image: its argument checks and the
pieces of its --cuda toolchain that run without root, Docker or network (the pins, the
Packages-index lookup)."""
import os
import re
import subprocess

from static_helpers import ROOT

SCRIPT = os.path.join(ROOT, "docker", "standin-base.sh")


def _text():
    with open(SCRIPT) as handle:
        return handle.read()


def _cuda_debs():
    block = re.search(r"^CUDA_DEBS=\(\n(.*?)^\)", _text(), re.M | re.S).group(1)
    return [line.strip().strip('"').split() for line in block.splitlines() if line.strip()]


def _function(name):
    """The text of a top-level shell function of the script (from `name() {` to its closing `}`)."""
    match = re.search(r"^%s\(\) \{\n.*?^\}\n" % re.escape(name), _text(), re.M | re.S)
    assert match, "no function %s in docker/standin-base.sh" % name
    return match.group(0)


def _bash(code, *args):
    return subprocess.run(["bash", "-c", code, "bash"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)


def test_a_missing_keyring_is_refused_before_anything_runs(tmp_path):
    proc = subprocess.run([SCRIPT, "--tag", "x:1", "--keyring", str(tmp_path / "none.gpg")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 1
    assert "--keyring names no keyring file" in proc.stderr, proc.stderr
    assert not os.listdir(str(tmp_path))


def test_usage_lists_the_cuda_options():
    proc = subprocess.run([SCRIPT, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert proc.returncode == 2
    for option in ("--keyring FILE", "--cuda", "--cuda-mirror URL"):
        assert option in proc.stderr, option


def test_cuda_pins_are_exact_and_name_the_toolkit_first():
    debs = _cuda_debs()
    assert all(len(fields) == 4 for fields in debs), debs
    names = [fields[2] for fields in debs]
    assert names[0] == "nvidia-cuda-toolkit"
    assert {"nvidia-cuda-dev", "libcudart12", "libthrust-dev", "libcub-dev",
            "libcu++-dev"} <= set(names)
    # one toolkit release: the nvidia-cuda-toolkit source's packages share the version after "~"
    releases = {fields[3].split("~")[1].split("-")[0] for fields in debs if "~" in fields[3]}
    assert len(releases) == 1, releases


def test_cuda_toolkit_major_is_the_current_locks_torch_cuda_major():
    # torch's extension builder refuses an nvcc of another CUDA major version than torch's own
    proc = _bash(_function("cuda_version_of") + 'cuda_version_of "$1"', _cuda_debs()[0][3])
    stand_in = proc.stdout.strip()
    with open(os.path.join(ROOT, "docker", "requirements-current.lock")) as handle:
        runtime = re.search(r"^nvidia-cuda-runtime-cu(\d+)==(\d+)\.", handle.read(), re.M)
    assert re.match(r"^\d+\.\d+\.\d+$", stand_in), stand_in
    assert stand_in.split(".")[0] == runtime.group(1) == runtime.group(2)


def test_deb_of_finds_exactly_the_pinned_version(tmp_path):
    index = tmp_path / "Packages"
    index.write_text(
        "Package: libcub-dev\nVersion: 2.4.0-1\n"
        "Filename: pool/main/c/cccl/libcub-dev_2.4.0-1_all.deb\nSHA256: aaaa\n\n"
        "Package: libcub-dev-extra\nVersion: 2.5.0-1\nFilename: pool/x.deb\nSHA256: bbbb\n\n"
        "Package: libcub-dev\nVersion: 2.5.0-1\nSize: 1\n"
        "Filename: pool/main/c/cccl/libcub-dev_2.5.0-1_all.deb\nSHA256: cccc\n")
    lookup = _function("deb_of") + 'deb_of "$@"'
    assert _bash(lookup, str(index), "libcub-dev", "2.5.0-1").stdout.split() == [
        "pool/main/c/cccl/libcub-dev_2.5.0-1_all.deb", "cccc"]
    assert _bash(lookup, str(index), "libcub-dev", "2.6.0-1").stdout == ""
