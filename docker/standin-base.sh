#!/usr/bin/env bash
# Build a LOCAL stand-in for a Dockerfile base image when registry images cannot be pulled.
#
# For sites without registry access (air-gapped hosts, CI machines that only reach a Debian/PyPI
# package mirror): `docker build` needs its FROM image in the local image store, so this script makes
# one from a debootstrap'ed Debian rootfs and tags it with the name the Dockerfile expects, e.g.
#
#   docker/standin-base.sh --tag python:3.10.16-slim-bookworm --python-prefix ~/.pyenv/versions/3.10.13
#   docker/standin-base.sh --tag debian:bookworm-slim                  # no --python-prefix: rootfs only
#
# It is a STAND-IN, NOT the real image. What differs from the registry image of the same tag:
#   - no NVIDIA CUDA / cuDNN (a stand-in for nvidia/cuda:* is a plain Debian/Ubuntu rootfs: CPU only);
#   - Python is copied from --python-prefix (its version, build options and bundled pip/setuptools),
#     not the python.org build of the tag's version; PYTHON_VERSION is set to the copied version;
#   - no GPG_KEY/PYTHON_SHA256 env, apt sources list only SUITE main from MIRROR (no -security/-updates),
#     package versions are whatever MIRROR serves today;
#   - the image carries the label standin-base=1 so build-info tooling can tell it apart.
# The copied Python must be built for the same (or an older) glibc than SUITE's, e.g. a pyenv build on
# a bookworm host for --suite bookworm.
#
# Usage: docker/standin-base.sh --tag NAME:TAG [--python-prefix DIR] [--suite bookworm]
#                               [--mirror URL] [--docker docker] [--no-slim]
#   --tag            image name to create (required)
#   --python-prefix  root of a CPython install (has bin/python3.X); copied to /usr/local
#   --suite          debootstrap suite (default bookworm)
#   --mirror         debootstrap/apt mirror (default: debootstrap's, http://deb.debian.org/debian)
#   --docker         docker CLI to use (default docker)
#   --no-slim        keep docs/man pages/locales (default: dpkg excludes them, like debian:*-slim)
# Needs root (debootstrap, chroot), debootstrap, and a reachable docker daemon.
set -euo pipefail

prog=standin-base
die() { echo "${prog}: $*" >&2; exit 1; }
log() { echo "${prog}: $*"; }
usage() { sed -n 's/^# \{0,1\}//; /^Usage:/,/^Needs root/p' "${BASH_SOURCE[0]}" >&2; exit 2; }

tag=""
prefix=""
suite=bookworm
mirror=""
docker_cli=docker
slim=1
while [ "$#" -gt 0 ]; do
    case "$1" in
        --tag) [ "$#" -ge 2 ] || usage; tag="$2"; shift 2 ;;
        --python-prefix) [ "$#" -ge 2 ] || usage; prefix="$2"; shift 2 ;;
        --suite) [ "$#" -ge 2 ] || usage; suite="$2"; shift 2 ;;
        --mirror) [ "$#" -ge 2 ] || usage; mirror="$2"; shift 2 ;;
        --docker) [ "$#" -ge 2 ] || usage; docker_cli="$2"; shift 2 ;;
        --no-slim) slim=0; shift ;;
        -h | --help) usage ;;
        *) die "unknown argument: '$1'; fix: see $0 --help" ;;
    esac
done
[ -n "${tag}" ] || die "missing --tag: ''; fix: pass the FROM name, e.g. --tag python:3.10.16-slim-bookworm"

# ---- preflight: one line per problem, saying what, the value, and the fix ------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap/chroot): uid=$(id -u); fix: sudo $0 ..."
command -v debootstrap >/dev/null 2>&1 \
    || die "debootstrap not found: PATH=${PATH}; fix: apt-get install -y debootstrap"
command -v "${docker_cli}" >/dev/null 2>&1 \
    || die "docker CLI not found: --docker ${docker_cli}; fix: apt-get install -y docker.io (or pass --docker PATH)"
"${docker_cli}" info >/dev/null 2>&1 \
    || die "docker daemon unreachable: DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}; fix: start it (systemctl start docker, or dockerd --iptables=false --bridge=none &)"

pyver=""
pyfull=""
if [ -n "${prefix}" ]; then
    [ -d "${prefix}" ] || die "--python-prefix is not a directory: ${prefix}; fix: pass a CPython install root (e.g. ~/.pyenv/versions/3.10.13)"
    prefix="$(cd "${prefix}" && pwd -P)"
    for exe in "${prefix}"/bin/python3.*; do
        case "${exe##*/}" in
            python3.[0-9] | python3.[0-9][0-9]) [ -x "${exe}" ] && pyver="${exe##*/python}" && break ;;
        esac
    done
    [ -n "${pyver}" ] || die "no bin/python3.X in --python-prefix: ${prefix}; fix: pass a CPython install root (e.g. ~/.pyenv/versions/3.10.13)"
    [ -d "${prefix}/lib/python${pyver}" ] || die "no lib/python${pyver} in --python-prefix: ${prefix}; fix: pass the install root, not a venv"
fi

# ---- scratch rootfs, always cleaned up (unmount first, never cross into mounts) ------------------
work="$(mktemp -d "${TMPDIR:-/var/tmp}/${prog}.XXXXXX")"
rootfs="${work}/rootfs"
cleanup() {
    local m
    for m in "${rootfs}/proc" "${rootfs}/dev/pts"; do
        if mountpoint -q "${m}" 2>/dev/null; then umount -l "${m}" || true; fi
    done
    rm -rf --one-file-system "${work}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=${SECONDS}
log "debootstrap --variant=minbase ${suite} ${mirror:-(default mirror)} -> ${rootfs}"
debootstrap_args=(--variant=minbase "${suite}" "${rootfs}")
[ -z "${mirror}" ] || debootstrap_args+=("${mirror}")
debootstrap "${debootstrap_args[@]}" >"${work}/debootstrap.log" 2>&1 || {
    tail -n 20 "${work}/debootstrap.log" >&2
    die "debootstrap failed: suite=${suite} mirror=${mirror:-default}; fix: check the suite name and that the mirror is reachable (log above)"
}
t_debootstrap=$((SECONDS - t0))
log "debootstrap done in ${t_debootstrap}s"

in_root() { chroot "${rootfs}" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

if [ "${slim}" -eq 1 ]; then
    # the debian:*-slim dpkg filter: later apt installs (also in the Dockerfile) skip docs/man/locales
    cat >"${rootfs}/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    find "${rootfs}/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "${rootfs}/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "${rootfs}"/usr/share/{man,groff,info,lintian,linda,locale}/*
fi

if [ -n "${prefix}" ]; then
    mount -t proc proc "${rootfs}/proc"
    printf '#!/bin/sh\nexit 101\n' >"${rootfs}/usr/sbin/policy-rc.d"
    chmod 755 "${rootfs}/usr/sbin/policy-rc.d"
    cp -L /etc/resolv.conf "${rootfs}/etc/resolv.conf" 2>/dev/null || true

    # runtime libraries CPython's extension modules link against; first of each a|b that SUITE has
    wanted=(ca-certificates netbase tzdata "libssl3|libssl1.1" "libffi8|libffi7" libsqlite3-0 libbz2-1.0
        liblzma5 zlib1g "libreadline8|libreadline7" libncursesw6 libexpat1 libuuid1 libgdbm6 libnsl2
        libtirpc3 libcrypt1 libdb5.3)
    in_root apt-get update -qq >/dev/null
    pkgs=()
    for alt in "${wanted[@]}"; do
        IFS='|' read -r -a choices <<<"${alt}"
        for p in "${choices[@]}"; do
            if in_root apt-cache show "${p}" >/dev/null 2>&1; then pkgs+=("${p}"); break; fi
        done
    done
    log "apt-get install ${pkgs[*]}"
    in_root apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >"${work}/apt.log" 2>&1 || {
        tail -n 20 "${work}/apt.log" >&2
        die "apt-get install in the rootfs failed: suite=${suite}; fix: check the mirror (log above)"
    }

    # copy the CPython install into /usr/local, then prune it like the official image does
    log "copying Python ${pyver} from ${prefix} to /usr/local"
    tar -C "${prefix}" -cf - . | tar -C "${rootfs}/usr/local" -xf - --no-same-owner
    find "${rootfs}/usr/local" -depth \
        \( \( -type d -a \( -name test -o -name tests -o -name idle_test \) \) \
        -o \( -type f -a \( -name '*.pyc' -o -name '*.pyo' -o -name 'libpython*.a' \) \) \) \
        -exec rm -rf '{}' +
    # .pth files no installed distribution owns are host-local hooks (e.g. a site CA injector): drop them
    site="${rootfs}/usr/local/lib/python${pyver}/site-packages"
    for pth in "${site}"/*.pth; do
        [ -e "${pth}" ] || continue
        if ! grep -qsF "${pth##*/}" "${site}"/*.dist-info/RECORD "${site}"/*.egg-info/installed-files.txt; then
            log "dropping host-local ${pth##*/} (not owned by any installed distribution)"
            rm -f "${pth}"
        fi
    done
    # the old prefix is baked into shebangs, sysconfig data, python-config, pkg-config files
    prefix_re="$(printf '%s' "${prefix}" | sed 's/[][\.*^$|]/\\&/g')"
    grep -rlIZF "${prefix}" "${rootfs}/usr/local" | xargs -0r sed -i "s|${prefix_re}|/usr/local|g"
    bin="${rootfs}/usr/local/bin"
    [ -e "${bin}/python3" ] || ln -s "python${pyver}" "${bin}/python3"
    [ -e "${bin}/python" ] || ln -s python3 "${bin}/python"
    if [ ! -e "${bin}/pip" ] && [ -e "${bin}/pip3" ]; then ln -s pip3 "${bin}/pip"; fi
    in_root /sbin/ldconfig

    # smoke test inside the rootfs: the modules a build and pip need
    in_root /usr/local/bin/python3 -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, venv, ensurepip, readline, uuid' \
        || die "copied Python does not run in the ${suite} rootfs: prefix=${prefix}; fix: use a CPython built for ${suite} (same or older glibc)"
    # shellcheck disable=SC2016  # expanded by the sh inside the rootfs
    missing="$(in_root sh -c 'for f in /usr/local/lib/libpython*.so* /usr/local/lib/python*/lib-dynload/*.so; do
        ldd "$f" 2>/dev/null | grep -q "not found" && echo "${f##*/}"; done' | tr '\n' ' ')" || true
    [ -z "${missing}" ] || log "note: modules with unresolved libraries (not importable): ${missing}"
    pyfull="$(in_root /usr/local/bin/python3 -c 'import platform; print(platform.python_version())')"
    case "${tag}" in
        python:"${pyfull}"* | *:*"${pyfull}"*) ;;
        python:*) log "note: tag ${tag} names another Python version than the copied one (${pyfull})" ;;
    esac

    in_root apt-get clean
    umount -l "${rootfs}/proc"
    rm -f "${rootfs}/usr/sbin/policy-rc.d"
fi
rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/*.bin "${rootfs}"/var/cache/apt/archives/*.deb \
    "${rootfs}"/var/log/*.log "${rootfs}"/var/log/apt/* "${rootfs}"/tmp/* "${rootfs}"/root/.cache
: >"${rootfs}/etc/resolv.conf"

# ---- import: ENV/CMD as the official images set them ---------------------------------------------
changes=(--change "LABEL standin-base=1")
if [ -n "${prefix}" ]; then
    changes+=(--change "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        --change "ENV LANG=C.UTF-8"
        --change "ENV PYTHON_VERSION=${pyfull}"
        --change 'CMD ["python3"]')
else
    changes+=(--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        --change 'CMD ["bash"]')
fi
t0=${SECONDS}
log "docker import -> ${tag}"
tar -C "${rootfs}" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -cf - . \
    | "${docker_cli}" import "${changes[@]}" \
        --message "${prog}: debootstrap ${suite}${prefix:+ + python ${pyfull} from ${prefix}}" - "${tag}" >/dev/null
t_import=$((SECONDS - t0))
size="$("${docker_cli}" image inspect --format '{{.Size}}' "${tag}")"
log "import done in ${t_import}s"
echo "${tag}"
echo "size: $((size / 1024 / 1024)) MiB (${size} bytes); debootstrap ${t_debootstrap}s, import ${t_import}s"
