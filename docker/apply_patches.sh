#!/usr/bin/env bash
# Apply this project's patches (docker/patches/<fork>/*.patch) to the pinned forks under a forks dir (default forks/, the submodules).
#
# Usage: docker/apply_patches.sh MODE [FORKS_DIR]
#   MODE  all   apply every patch (torch >= 1.11: the current and cpu images)
#         none  apply nothing (the legacy image: torch 1.10 builds the forks unpatched)
#         auto  all when the active python's torch is >= 1.11, else none (native installs)
#   FORKS_DIR defaults to forks (relative to the current directory).
#
# Idempotent: a patch already in place is skipped; a patch that neither applies nor is already applied
# stops the script with a message naming it (the fork is not at its pinned commit, or edited by hand).
set -euo pipefail

usage() { echo "usage: $0 all|none|auto [FORKS_DIR]" >&2; exit 2; }
[ "$#" -ge 1 ] || usage
mode="$1"
forks_dir="${2:-forks}"
patch_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/patches"

case "${mode}" in
    all | none) ;;
    auto)
        if "${PYTHON:-python}" -c 'import sys, torch; v = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]); sys.exit(0 if v >= (1, 11) else 1)'; then
            mode=all
        else
            mode=none
        fi
        echo "apply_patches: torch version -> mode ${mode}"
        ;;
    *) echo "apply_patches: unknown MODE '${mode}' (all|none|auto)" >&2; exit 2 ;;
esac
[ "${mode}" = all ] || { echo "apply_patches: mode none, forks left as pinned"; exit 0; }

for fork_patches in "${patch_root}"/*/; do
    fork="$(basename "${fork_patches}")"
    target="${forks_dir}/${fork}"
    [ -d "${target}" ] || { echo "apply_patches: ${target} not found; run: git submodule update --init --recursive" >&2; exit 1; }
    for p in "${fork_patches}"*.patch; do
        name="${fork}/$(basename "${p}")"
        if patch -p1 -R -s -f --dry-run -d "${target}" <"${p}" >/dev/null 2>&1; then
            echo "apply_patches: ${name} already applied"
        elif patch -p1 -N -s -f --dry-run -d "${target}" <"${p}" >/dev/null 2>&1; then
            patch -p1 -N -s -f -d "${target}" <"${p}"
            echo "apply_patches: ${name} applied"
        else
            echo "apply_patches: ${name} does not apply to ${target}; is it at its pinned commit? (make check)" >&2
            exit 1
        fi
    done
done
