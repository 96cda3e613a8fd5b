#!/usr/bin/env bash
# Re-resolve the image lock files docker/requirements-<flavor>.lock from docker/requirements-common.in.
#
# Maintainer tool (not run by the build): needs `uv` (pip install uv) and PyPI. Resolution happens for each
# flavour's Python and platform without that Python installed (uv pip compile --python-version), so the pins
# are known to exist as wheels or sdists for it. torch/torchvision builds that live only on the PyTorch wheel
# index (+cu113 for legacy, +cpu for cpu) are resolved from their PyPI twin of the same version (same
# dependency metadata) and then renamed; the cpu lock drops the CUDA runtime wheels (nvidia-*, triton) that
# only the PyPI (CUDA) build of torch pulls in.
#
# Usage: scripts/resolve_locks.sh [legacy|current|cpu|cpu-pypi|dev ...]   (default: all of them)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
docker_dir="${here}/docker"
uv_bin="${UV:-uv}"
command -v "${uv_bin}" >/dev/null 2>&1 || {
    echo "resolve_locks.sh: '${uv_bin}' not found; install it with 'pip install uv' or set UV=/path/to/uv" >&2
    exit 2
}

# flavour -> python version, torch pins (PyPI twin), torch index, setuptools bound
flavor_python() { case "$1" in legacy) echo 3.8 ;; current | cpu | cpu-pypi) echo 3.10 ;; esac; }
flavor_torch() {
    case "$1" in
        legacy) printf 'torch==1.10.2\ntorchvision==0.11.3\nsetuptools==59.5.0\n' ;;
        current | cpu) printf 'torch==%s\ntorchvision==0.22.1\nsetuptools\n' "${torch_current}" ;;
        cpu-pypi) printf 'torch==%s\ntorchvision==%s\nsetuptools\n' "${torch_pypi}" "${torchvision_pypi}" ;;
    esac
}
flavor_index() {
    case "$1" in
        legacy) echo "https://download.pytorch.org/whl/cu113" ;;
        cpu) echo "https://download.pytorch.org/whl/cpu" ;;
        current | cpu-pypi) echo "" ;;
    esac
}
torch_current="2.7.1"
# cpu-pypi: the cpu image's lock with PyPI's torch instead of the PyTorch CPU index's (TORCH_FROM=pypi), for
# machines and build hosts that reach PyPI only. PyPI's Linux torch is a CUDA build that also runs on the CPU.
torch_pypi="2.14.1"
torchvision_pypi="0.29.1"
flavor_local() { case "$1" in legacy) echo "+cu113" ;; cpu) echo "+cpu" ;; current | cpu-pypi) echo "" ;; esac; }

resolve() {
    local flavor="$1" py tmp out index local_tag
    py="$(flavor_python "${flavor}")"
    [ -n "${py}" ] || { echo "resolve_locks.sh: unknown flavour '${flavor}' (legacy|current|cpu|cpu-pypi|dev)" >&2; exit 2; }
    index="$(flavor_index "${flavor}")"
    local_tag="$(flavor_local "${flavor}")"
    tmp="$(mktemp -d)"
    out="${docker_dir}/requirements-${flavor}.lock"
    { flavor_torch "${flavor}"; printf 'wheel\npip\n'; } >"${tmp}/flavor.in"
    "${uv_bin}" pip compile "${docker_dir}/requirements-common.in" "${tmp}/flavor.in" \
        --python-version "${py}" --python-platform x86_64-manylinux_2_28 \
        --no-header --no-annotate --quiet -o "${tmp}/raw.lock"
    {
        echo "# Lock file for the '${flavor}' image (Python ${py}, linux x86_64). Generated; do not edit by hand."
        echo "# Resolved by scripts/resolve_locks.sh: $("${uv_bin}" --version) pip compile of"
        echo "# docker/requirements-common.in + the flavour's torch pins, --python-version ${py}"
        echo "# --python-platform x86_64-manylinux_2_28, against PyPI on $(date -u +%Y-%m-%d)."
        if [ -n "${local_tag}" ]; then
            echo "# torch/torchvision carry the local tag ${local_tag}: they come from ${index}"
            echo "# (resolved via their PyPI twin of the same version, same dependency metadata)."
            echo "--extra-index-url ${index}"
        fi
        if [ "${flavor}" = cpu-pypi ]; then
            echo "# The cpu flavour with torch ${torch_pypi} from PyPI (a CUDA 13 build, run on the CPU; the nvidia-* wheels"
            echo "# below are its runtime): for hosts that reach PyPI but not the PyTorch CPU index (TORCH_FROM=pypi)."
        fi
        if [ "${flavor}" = current ]; then
            echo "# torch ${torch_current} from PyPI is the CUDA 12.6 build (matches the nvcc of the 12.6.3 base image)."
        fi
        if [ "${flavor}" = cpu ]; then
            grep -v -E '^(nvidia-|triton==)' "${tmp}/raw.lock"
        else
            cat "${tmp}/raw.lock"
        fi
    } | sed -E "s/^(torch|torchvision)==([0-9.]+)\$/\\1==\\2${local_tag}/" >"${out}"
    rm -rf "${tmp}"
    echo "wrote ${out}"
}

# A lock of tools for Python 3.8 (the oldest flavour's), so that the pins install in every flavour.
# resolve_py38 OUT REQUIREMENTS FIRST_HEADER_LINE [HEADER_TAIL]
resolve_py38() {
    local out="${docker_dir}/$1" tmp
    tmp="$(mktemp -d)"
    printf '%s' "$2" >"${tmp}/tools.in"
    "${uv_bin}" pip compile "${tmp}/tools.in" --python-version 3.8 \
        --python-platform x86_64-manylinux_2_28 --no-header --no-annotate --quiet -o "${tmp}/raw.lock"
    {
        echo "# $3"
        echo "# Resolved by scripts/resolve_locks.sh: $("${uv_bin}" --version) pip compile, --python-version 3.8,"
        echo "# against PyPI on $(date -u +%Y-%m-%d).${4:+ $4}"
        cat "${tmp}/raw.lock"
    } >"${out}"
    rm -rf "${tmp}"
    echo "wrote ${out}"
}

# legacy only: the runtime keeps setuptools 59.5.0 (torch 1.10's tensorboard import breaks on later ones), but
# building this project (a PEP 621 pyproject) needs setuptools >= 64; docker/install.sh installs this one for
# that step and then restores the runtime pin.
resolve_legacy_build() {
    resolve_py38 requirements-legacy-build.lock $'setuptools>=64\nwheel\n' \
        "Build-only tools for installing this project in the 'legacy' image (Python 3.8). Generated." \
        "The runtime pin (setuptools==59.5.0) is restored afterwards."
}

# Developer tools (lint and static checks), the same in every flavour and a native setup.
resolve_dev() {
    resolve_py38 requirements-dev.lock $'ruff>=0.6\nvermin>=1.6\ndockerfile-parse>=2.0\n' \
        "Developer tools (ruff, vermin, dockerfile-parse) for every flavour and native setups. Generated."
}

flavors=("$@")
[ "${#flavors[@]}" -gt 0 ] || flavors=(legacy current cpu cpu-pypi dev)
for f in "${flavors[@]}"; do
    if [ "${f}" = dev ]; then resolve_dev; continue; fi
    resolve "${f}"
    [ "${f}" != legacy ] || resolve_legacy_build
done
