#!/usr/bin/env bash
# The one install procedure of this project's Python layer. The Dockerfile runs it to build an image,
# and `make setup` / `make install-forks` run it for a native setup, with the same lock files, in the
# same order, so that a native setup is the image's Python layer.
#
# Usage: docker/install.sh STEP...      (run from the project root)
#
#   deps     pip, setuptools and wheel from the lock first (so the rest is installed by the pinned pip),
#            then every line of the lock, then the developer tools (docker/requirements-dev.lock); pip check
#   apex     NVIDIA apex with its C++/CUDA extensions at MQ_APEX_COMMIT (GPU flavours; `none` skips it)
#   patches  our patches to the forks for the flavour's torch (idempotent; part of `forks`)
#   forks    the pinned forks (git submodules under forks/): our patches for the torch in use, then both
#            installed editable with their compiled extensions, without build isolation (they build
#            against the installed torch) and without dependencies (the lock has them)
#   project  this project, editable, without dependencies
#   wire     the detectron2 fork's third_party.quantization -> model_quantization.compat, then checked
#
# Settings (environment):
#   PYTHON          the target environment's interpreter (default: python)
#   MQ_TORCH_FROM   index (default: the lock's torch, from the PyTorch wheel index for cpu and legacy) or
#                   pypi (PyPI's torch: docker/requirements-cpu-pypi.lock for cpu; current is PyPI's anyway)
#   MQ_LOCK         the lock file for `deps` (default: docker/requirements-<MQ_FLAVOR>.lock, as MQ_TORCH_FROM says)
#   MQ_FLAVOR       legacy | current | cpu (default cpu): sets the two below; legacy also installs this
#                   project with the newer setuptools of docker/requirements-legacy-build.lock, then
#                   restores the lock's setuptools
#   MQ_FORK_PATCHES all | none | auto (legacy: none, the 2021 forks build unpatched on torch 1.10;
#                   current, cpu: all; auto: all when the installed torch is >= 1.11)
#   MQ_APEX_COMMIT  apex commit for `apex` (legacy: d06404f 2021-06, current: 4bdecd0 25.09, cpu: none)
#   MQ_SITE_CA      a CA bundle for pip and git (TLS-intercepting proxies); default: the BuildKit secret
#                   /run/secrets/site_ca when present. Used for this run only, never written anywhere
#   MAX_JOBS        parallel compile jobs for the extensions (default: the number of CPUs)
set -euo pipefail

PYTHON="${PYTHON:-python}"
FORKS_DIR="${MQ_FORKS_DIR:-forks}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { echo "install: $*"; }
die() { echo "install: $*" >&2; exit 1; }

# What each flavour builds (the Dockerfile's base stages set MQ_FLAVOR; a native setup passes it).
MQ_FLAVOR="${MQ_FLAVOR:-cpu}"
case "${MQ_FLAVOR}" in
    legacy) patches=none; apex=d06404fecab73f152c6cbb89ac2c2e9b7fc24124 ;;
    current) patches=all; apex=4bdecd06b3c4b2c0a8fb6603829a8f9f05a42b49 ;;
    cpu) patches=all; apex=none ;;
    *) die "MQ_FLAVOR=${MQ_FLAVOR} is not a flavour: use legacy, current or cpu" ;;
esac
MQ_FORK_PATCHES="${MQ_FORK_PATCHES:-${patches}}"
case "${MQ_TORCH_FROM:=index}:${MQ_FLAVOR}" in
    index:* | pypi:current) lock="${here}/requirements-${MQ_FLAVOR}.lock" ;;
    pypi:cpu) lock="${here}/requirements-cpu-pypi.lock" ;;
    pypi:legacy) die "MQ_TORCH_FROM=pypi with the legacy flavour: torch 1.10.2+cu113 exists only on the PyTorch index; use MQ_TORCH_FROM=index" ;;
    *) die "MQ_TORCH_FROM=${MQ_TORCH_FROM} is unknown: use index (the lock's torch) or pypi (PyPI's torch)" ;;
esac
MQ_LOCK="${MQ_LOCK:-${lock}}"
MQ_APEX_COMMIT="${MQ_APEX_COMMIT:-${apex}}"

site_ca="${MQ_SITE_CA:-}"
[ -n "${site_ca}" ] || { [ ! -s /run/secrets/site_ca ] || site_ca=/run/secrets/site_ca; }
if [ -n "${site_ca}" ]; then
    [ -s "${site_ca}" ] || die "MQ_SITE_CA=${site_ca} is not a readable CA bundle: give a PEM file"
    export PIP_CERT="${site_ca}" GIT_SSL_CAINFO="${site_ca}"
    say "pip and git trust ${site_ca} (site CA bundle, for this run only)"
fi
pip() { "${PYTHON}" -m pip "$@"; }

# Lines of a lock file whose package is one of the given names (lower case, exact).
lock_lines() {
    local lock="$1"; shift
    local names; names="$(printf '%s|' "$@")"
    grep -iE "^(${names%|})==" "${lock}" || true
}

step_deps() {
    local lock="${MQ_LOCK}"
    [ -f "${lock}" ] || die "lock file '${lock}' not found: use one of docker/requirements-{legacy,current,cpu,cpu-pypi}.lock"
    local tmp; tmp="$(mktemp)"
    # shellcheck disable=SC2064  # expand now: the file name is fixed
    trap "rm -f '${tmp}'" RETURN
    local lock_py this_py
    lock_py="$(sed -nE '1s/.*\(Python ([0-9]+\.[0-9]+).*/\1/p' "${lock}")"
    this_py="$("${PYTHON}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [ -n "${lock_py}" ] && [ "${lock_py}" != "${this_py}" ]; then
        say "note: ${lock} was resolved for Python ${lock_py}, this is Python ${this_py}: the same pins, in their Python ${this_py} wheels (or built from source where a pin has none)"
    fi
    lock_lines "${lock}" pip setuptools wheel >"${tmp}"
    grep -q '^pip==' "${tmp}" || die "${lock} pins no pip: regenerate it with scripts/resolve_locks.sh"
    say "build tools from ${lock}: $(tr '\n' ' ' <"${tmp}")"
    pip install -r "${tmp}"
    say "every pin of ${lock}"
    pip install -r "${lock}"
    if [ -f "${here}/requirements-dev.lock" ]; then
        say "developer tools from docker/requirements-dev.lock"
        pip install -r "${here}/requirements-dev.lock"
    fi
    pip check
}

step_apex() {
    local commit="${MQ_APEX_COMMIT:-none}"
    if [ "${commit}" = none ]; then say "apex: skipped (MQ_APEX_COMMIT=none; the ${MQ_FLAVOR} flavour's pin is ${apex})"; return 0; fi
    local src; src="$(mktemp -d)"
    git init -q "${src}"
    git -C "${src}" fetch -q --depth 1 https://github.com/NVIDIA/apex.git "${commit}"
    git -C "${src}" checkout -q FETCH_HEAD
    [ "$(git -C "${src}" rev-parse HEAD)" = "${commit}" ] || die "apex: fetched $(git -C "${src}" rev-parse HEAD), expected ${commit}"
    if [ "${MQ_FLAVOR:-}" = legacy ]; then
        (cd "${src}" && "${PYTHON}" setup.py install --cpp_ext --cuda_ext)
    else
        (cd "${src}" && APEX_CPP_EXT=1 APEX_CUDA_EXT=1 APEX_PARALLEL_BUILD="${MAX_JOBS:-$(nproc)}" \
            "${PYTHON}" -m pip install -v --no-deps --no-build-isolation .)
    fi
    rm -rf "${src}"
}

step_forks() {
    local fork
    for fork in detectron2 AdelaiDet; do
        [ -f "${FORKS_DIR}/${fork}/setup.py" ] \
            || die "${FORKS_DIR}/${fork} is empty: check the submodules out (git submodule update --init)"
    done
    step_patches
    export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
    for fork in detectron2 AdelaiDet; do
        say "${FORKS_DIR}/${fork} (editable, extensions built in place; FORCE_CUDA=${FORCE_CUDA:-unset})"
        pip install --no-deps --no-build-isolation -e "${FORKS_DIR}/${fork}"
    done
}

step_patches() {
    PYTHON="${PYTHON}" "${here}/apply_patches.sh" "${MQ_FORK_PATCHES}" "${FORKS_DIR}"
}

step_project() {
    if [ "${MQ_FLAVOR:-}" = legacy ]; then
        # setuptools 59 (the legacy forks' build tool) cannot install a pyproject.toml project editable:
        # a newer one for this step, then the lock's pin back.
        pip install -r "${here}/requirements-legacy-build.lock"
        pip install --no-deps --no-build-isolation -e .
        pip install -r <(lock_lines "${MQ_LOCK}" setuptools)
    else
        pip install --no-deps --no-build-isolation -e .
    fi
}

step_wire() {
    "${PYTHON}" -m model_quantization.compat.wire --detectron2 "${FORKS_DIR}/detectron2"
    "${PYTHON}" -m model_quantization.compat.wire --detectron2 "${FORKS_DIR}/detectron2" --check
    pip check
}

[ "$#" -ge 1 ] || { sed -n '2,33s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }
for step in "$@"; do
    case "${step}" in
        deps | apex | patches | forks | project | wire) ;;
        *) die "unknown step '${step}': use deps, apex, patches, forks, project or wire (docker/install.sh lists them)" ;;
    esac
done
for step in "$@"; do
    start=${SECONDS}
    "step_${step}"
    say "${step}: done in $((SECONDS - start)) s"
done
