#!/usr/bin/env bash
# Build a LOCAL stand-in for a Dockerfile base image when registry images cannot be pulled.
#
# For sites without registry access (air-gapped hosts, CI machines that only reach a Debian/PyPI
# package mirror): `docker build` needs its FROM image in the local image store, so this script makes
# one from a debootstrap'ed Debian rootfs and tags it with the name the Dockerfile expects, e.g.
#
#   docker/standin-base.sh --tag python:3.10.16-slim-bookworm --python-prefix ~/.pyenv/versions/3.10.13
#   docker/standin-base.sh --tag debian:bookworm-slim                  # no --python-prefix: rootfs only
#   docker/standin-base.sh --tag nvidia/cuda:12.6.3-cudnn-devel-ubuntu22.04 --suite jammy \
#       --mirror http://archive.ubuntu.com/ubuntu --keyring ubuntu-archive-keyring.gpg --cuda   # `current`
#
# It is a STAND-IN, NOT the real image. What differs from the registry image of the same tag:
#   - no NVIDIA CUDA / cuDNN, unless --cuda: then a CUDA 12.5 compiler toolchain (NVIDIA's binaries as
#     Debian repackages them: nvcc, cicc, ptxas, fatbinary, nvlink, the CUDA headers, CCCL 2.5, cudart and
#     the driver stubs) laid out as /usr/local/cuda-12.5 (/usr/local/cuda links to it), with the ENV of
#     nvidia/cuda devel images. Enough to compile CUDA extensions without a GPU. Not there: cuDNN,
#     the math libraries' shared/static libraries (cuBLAS, cuFFT, ...: torch brings its own from PyPI),
#     profilers, samples; the version is 12.5.0, not the tag's (PyPI's CUDA 12 wheels have no nvcc, and
#     no 12.6 nvcc is published outside NVIDIA's own repositories);
#   - Python is copied from --python-prefix (its version, build options and bundled pip/setuptools),
#     not the python.org build of the tag's version; PYTHON_VERSION is set to the copied version;
#   - no GPG_KEY/PYTHON_SHA256 env, apt sources list only SUITE main from MIRROR (no -security/-updates),
#     package versions are whatever MIRROR serves today; an Ubuntu SUITE gets the sources list of the
#     ubuntu:* images instead (SUITE, -updates, -backports from MIRROR, -security from security.ubuntu.com;
#     main restricted universe multiverse), so that e.g. jammy's python3.10-venv (universe) installs;
#   - the image carries the label standin-base=1 so build-info tooling can tell it apart.
# The copied Python must be built for the same (or an older) glibc than SUITE's, e.g. a pyenv build on
# a bookworm host for --suite bookworm.
#
# Usage: docker/standin-base.sh --tag NAME:TAG [--python-prefix DIR] [--suite bookworm]
#                               [--mirror URL] [--keyring FILE] [--cuda] [--cuda-mirror URL]
#                               [--docker docker] [--no-slim]
#   --tag            image name to create (required)
#   --python-prefix  root of a CPython install (has bin/python3.X); copied to /usr/local
#   --suite          debootstrap suite (default bookworm; jammy for an Ubuntu 22.04 rootfs)
#   --mirror         debootstrap/apt mirror (default: debootstrap's, http://deb.debian.org/debian)
#   --keyring        keyring debootstrap checks SUITE's Release with (default: debootstrap's; for an
#                    Ubuntu suite on a Debian host: ubuntu-archive-keyring.gpg from Ubuntu's
#                    ubuntu-keyring package)
#   --cuda           add the CUDA toolchain above: the pinned packages of CUDA_DEBS below, fetched from
#                    --cuda-mirror, each checked against the archive's signed index (gpgv, the Debian
#                    archive keyring of this host)
#   --cuda-mirror    Debian mirror for --cuda (default http://deb.debian.org/debian; when a pin has left
#                    the archive: a snapshot, e.g. https://snapshot.debian.org/archive/debian/20250101T000000Z)
#   --docker         docker CLI to use (default docker)
#   --no-slim        keep docs/man pages/locales (default: dpkg excludes them, like debian:*-slim)
# --cuda also needs curl, gpgv, xz, dpkg-deb and debian-archive-keyring.
# Needs root (debootstrap, chroot), debootstrap, and a reachable docker daemon.
set -euo pipefail

# --cuda: SUITE COMPONENT PACKAGE VERSION, from the Debian archive. The CUDA 12.5.0 toolkit (NVIDIA's
# binaries, Debian's packaging: experimental non-free) and CCCL 2.5.0 (thrust, cub, libcu++: sid main).
CUDA_DEBS=(
    "experimental non-free nvidia-cuda-toolkit 12.5.40~12.5.0-2+b1"
    "experimental non-free nvidia-cuda-dev 12.5.39~12.5.0-2+b1"
    "experimental non-free libcudart12 12.5.39~12.5.0-2+b1"
    "sid main libthrust-dev 2.5.0-1"
    "sid main libcub-dev 2.5.0-1"
    "sid main libcu++-dev 2.5.0-1"
)
CUDA_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

prog=standin-base
die() { echo "${prog}: $*" >&2; exit 1; }
log() { echo "${prog}: $*"; }
usage() { sed -n 's/^# \{0,1\}//; /^Usage:/,/^Needs root/p' "${BASH_SOURCE[0]}" >&2; exit 2; }

tag=""
prefix=""
suite=bookworm
mirror=""
keyring=""
cuda=0
cuda_mirror=http://deb.debian.org/debian
docker_cli=docker
slim=1
while [ "$#" -gt 0 ]; do
    case "$1" in
        --tag) [ "$#" -ge 2 ] || usage; tag="$2"; shift 2 ;;
        --python-prefix) [ "$#" -ge 2 ] || usage; prefix="$2"; shift 2 ;;
        --suite) [ "$#" -ge 2 ] || usage; suite="$2"; shift 2 ;;
        --mirror) [ "$#" -ge 2 ] || usage; mirror="$2"; shift 2 ;;
        --keyring) [ "$#" -ge 2 ] || usage; keyring="$2"; shift 2 ;;
        --cuda) cuda=1; shift ;;
        --cuda-mirror) [ "$#" -ge 2 ] || usage; cuda_mirror="${2%/}"; shift 2 ;;
        --docker) [ "$#" -ge 2 ] || usage; docker_cli="$2"; shift 2 ;;
        --no-slim) slim=0; shift ;;
        -h | --help) usage ;;
        *) die "unknown argument: '$1'; fix: see $0 --help" ;;
    esac
done
[ -n "${tag}" ] || die "missing --tag: ''; fix: pass the FROM name, e.g. --tag python:3.10.16-slim-bookworm"

if [ -n "${keyring}" ]; then
    [ -s "${keyring}" ] || die "--keyring names no keyring file: ${keyring}; fix: pass the suite's archive keyring (e.g. ubuntu-archive-keyring.gpg for jammy)"
    keyring="$(cd "$(dirname "${keyring}")" && pwd -P)/$(basename "${keyring}")"
fi

# ---- preflight: one line per problem, saying what, the value, and the fix ------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap/chroot): uid=$(id -u); fix: sudo $0 ..."
command -v debootstrap >/dev/null 2>&1 \
    || die "debootstrap not found: PATH=${PATH}; fix: apt-get install -y debootstrap"
command -v "${docker_cli}" >/dev/null 2>&1 \
    || die "docker CLI not found: --docker ${docker_cli}; fix: apt-get install -y docker.io (or pass --docker PATH)"
"${docker_cli}" info >/dev/null 2>&1 \
    || die "docker daemon unreachable: DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}; fix: start it (systemctl start docker, or dockerd --iptables=false --bridge=none &)"

if [ "${cuda}" -eq 1 ]; then
    for tool in curl gpgv xz dpkg-deb sha256sum; do
        command -v "${tool}" >/dev/null 2>&1 || die "--cuda needs ${tool}: not on PATH=${PATH}; fix: apt-get install -y curl gpgv xz-utils dpkg"
    done
    [ -s "${CUDA_KEYRING}" ] || die "--cuda needs the Debian archive keyring: ${CUDA_KEYRING} missing; fix: apt-get install -y debian-archive-keyring"
fi

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
debootstrap_args=(--variant=minbase)
[ -z "${keyring}" ] || debootstrap_args+=("--keyring=${keyring}")
debootstrap_args+=("${suite}" "${rootfs}")
[ -z "${mirror}" ] || debootstrap_args+=("${mirror}")
debootstrap "${debootstrap_args[@]}" >"${work}/debootstrap.log" 2>&1 || {
    tail -n 20 "${work}/debootstrap.log" >&2
    die "debootstrap failed: suite=${suite} mirror=${mirror:-default}; fix: check the suite name and that the mirror is reachable (log above)"
}
t_debootstrap=$((SECONDS - t0))
log "debootstrap done in ${t_debootstrap}s"

if grep -qs '^ID=ubuntu$' "${rootfs}/etc/os-release"; then
    # the sources list of the ubuntu:* images (the nvidia/cuda:*-ubuntu* bases inherit it)
    ubuntu_mirror="${mirror:-http://archive.ubuntu.com/ubuntu}"
    all_components="main restricted universe multiverse"
    cat >"${rootfs}/etc/apt/sources.list" <<EOF
deb ${ubuntu_mirror%/}/ ${suite} ${all_components}
deb ${ubuntu_mirror%/}/ ${suite}-updates ${all_components}
deb ${ubuntu_mirror%/}/ ${suite}-backports ${all_components}
deb http://security.ubuntu.com/ubuntu/ ${suite}-security ${all_components}
EOF
    log "apt sources: ${suite}, -updates, -backports, -security (${all_components}), as in ubuntu:* images"
fi

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
# ---- --cuda: the pinned CUDA packages, verified, unpacked, laid out like NVIDIA's /usr/local/cuda-X.Y ----
cuda_ver=""
fetch() { curl -fsSL --retry 3 -o "$2" "$1" || die "download failed: $1; fix: check that --cuda-mirror ${cuda_mirror} is reachable and still has it"; }
check_sha256() {
    if [ -z "$2" ] || [ "$(sha256sum "$1" | cut -d' ' -f1)" != "$2" ]; then
        die "checksum mismatch: ${1##*/} (expected '${2}'); fix: retry, or use another --cuda-mirror"
    fi
}
# "Filename SHA256" of PACKAGE at VERSION in a Packages index
deb_of() {
    awk -v P="$2" -v V="$3" 'BEGIN { RS = ""; FS = "\n" }
        { p = v = f = h = ""
          for (i = 1; i <= NF; i++) {
              if ($i ~ /^Package: /) p = substr($i, 10); else if ($i ~ /^Version: /) v = substr($i, 10)
              else if ($i ~ /^Filename: /) f = substr($i, 11); else if ($i ~ /^SHA256: /) h = substr($i, 9) }
          if (p == P && v == V) { print f, h; exit } }' "$1"
}
cuda_fetch() {
    local dl="${work}/cuda-debs" x="$1" spec suite comp pkg ver idx sum path deb
    mkdir -p "${dl}" "${x}"
    for spec in "${CUDA_DEBS[@]}"; do
        read -r suite comp pkg ver <<<"${spec}"
        idx="${dl}/${suite}_${comp}_Packages"
        if [ ! -s "${idx}" ]; then
            if [ ! -s "${dl}/${suite}.Release" ]; then
                fetch "${cuda_mirror}/dists/${suite}/InRelease" "${dl}/${suite}.InRelease"
                gpgv --keyring "${CUDA_KEYRING}" --output "${dl}/${suite}.Release" "${dl}/${suite}.InRelease" \
                    >"${dl}/gpgv.log" 2>&1 || { cat "${dl}/gpgv.log" >&2
                    die "bad signature on ${cuda_mirror}/dists/${suite}/InRelease; fix: update debian-archive-keyring, or use another --cuda-mirror"; }
            fi
            fetch "${cuda_mirror}/dists/${suite}/${comp}/binary-amd64/Packages.xz" "${idx}.xz"
            sum="$(awk -v F="${comp}/binary-amd64/Packages.xz" '/^SHA256:/ { s = 1; next } /^[^ ]/ { s = 0 }
                s && $3 == F { print $1 }' "${dl}/${suite}.Release")"
            check_sha256 "${idx}.xz" "${sum}"
            xz -dc "${idx}.xz" >"${idx}"
        fi
        path=""
        read -r path sum < <(deb_of "${idx}" "${pkg}" "${ver}") || true
        [ -n "${path}" ] || die "${pkg} ${ver} is not in ${suite}/${comp} of ${cuda_mirror}; fix: --cuda-mirror https://snapshot.debian.org/archive/debian/<date>, or update CUDA_DEBS in $0"
        deb="${dl}/${path##*/}"
        log "cuda: ${pkg} ${ver} (${suite} ${comp})"
        fetch "${cuda_mirror}/${path}" "${deb}"
        check_sha256 "${deb}" "${sum}"
        dpkg-deb -x "${deb}" "${x}"
        rm -f "${deb}"
    done
}
# the CUDA version of the toolkit pin: 12.5.40~12.5.0-2+b1 -> 12.5.0
cuda_version_of() {
    local v="${1#*~}"
    echo "${v%%-*}"
}
cuda_layout() {
    local x="$1" dest tk lib f spec
    spec="${CUDA_DEBS[0]}"
    cuda_ver="$(cuda_version_of "${spec##* }")"
    dest="${rootfs}/usr/local/cuda-${cuda_ver%.*}"
    tk="${x}/usr/lib/nvidia-cuda-toolkit"
    lib="${x}/usr/lib/x86_64-linux-gnu"
    mkdir -p "${dest}"/bin/crt "${dest}"/nvvm/bin "${dest}"/nvvm/libdevice "${dest}"/include "${dest}"/lib64/stubs
    # the real nvcc driver and cicc (Debian's /usr/bin/nvcc is a wrapper script), the other tools as they are
    cp -a "${tk}/bin/nvcc" "${dest}/bin/"
    cp -a "${tk}"/bin/crt/. "${dest}/bin/crt/"
    cp -a "${tk}/bin/cicc" "${dest}/nvvm/bin/"
    cp -a "${tk}"/libdevice/. "${dest}/nvvm/libdevice/"
    for f in cudafe++ fatbinary nvlink ptxas bin2c cuobjdump nvdisasm nvprune cu++filt; do
        cp -a "${x}/usr/bin/${f}" "${dest}/bin/"
    done
    cp -a "${x}"/usr/include/. "${dest}/include/"
    cp -a "${lib}"/libcudart.so* "${lib}"/libcudart_static.a "${lib}"/libcudadevrt.a "${lib}"/libculibos.a "${dest}/lib64/"
    cp -a "${lib}"/stubs/. "${dest}/lib64/stubs/"
    # NVIDIA's profile, with this layout's include and library folders (no targets/x86_64-linux level)
    cat >"${dest}/bin/nvcc.profile" <<'EOF'

TOP              = $(_HERE_)/..

CICC_PATH        = $(TOP)/nvvm/bin
NVVMIR_LIBRARY_DIR = $(TOP)/nvvm/libdevice

LD_LIBRARY_PATH += $(TOP)/lib64:
PATH            += $(CICC_PATH):$(_HERE_):

INCLUDES        +=  "-I$(TOP)/include" $(_SPACE_)

LIBRARIES        =+ $(_SPACE_) "-L$(TOP)/lib64/stubs" "-L$(TOP)/lib64"

CUDAFE_FLAGS    +=
PTXAS_FLAGS     +=
EOF
    ln -sfn "cuda-${cuda_ver%.*}" "${rootfs}/usr/local/cuda"
    echo "/usr/local/cuda/lib64" >"${rootfs}/etc/ld.so.conf.d/000_cuda.conf"
    # the toolchain runs (NVIDIA's own builds: any glibc >= 2.34) and, with this host's g++, targets sm_90
    "${dest}/bin/nvcc" --version | grep -q "release ${cuda_ver%.*}" \
        || die "cuda: ${dest}/bin/nvcc does not report release ${cuda_ver%.*}; fix: check CUDA_DEBS in $0"
    if command -v g++ >/dev/null 2>&1; then
        printf '__global__ void k(float *x) { x[threadIdx.x] *= 2.f; }\n' >"${work}/k.cu"
        { "${dest}/bin/nvcc" -arch=sm_90 -c "${work}/k.cu" -o "${work}/k.o" \
            && "${dest}/bin/cuobjdump" --list-elf "${work}/k.o" | grep -q sm_90; } \
            || die "cuda: the assembled nvcc cannot compile for sm_90 (host g++ $(g++ -dumpversion)); fix: check CUDA_DEBS in $0"
        log "cuda: nvcc ${cuda_ver} compiles sm_90 code (checked with this host's g++ $(g++ -dumpversion))"
    fi
    rm -rf "${x}"
}
if [ "${cuda}" -eq 1 ]; then
    t0=${SECONDS}
    cuda_fetch "${work}/cuda-x"
    cuda_layout "${work}/cuda-x"
    log "cuda: /usr/local/cuda-${cuda_ver%.*} (CUDA ${cuda_ver}) in $((SECONDS - t0))s"
fi

rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/*.bin "${rootfs}"/var/cache/apt/archives/*.deb \
    "${rootfs}"/var/log/*.log "${rootfs}"/var/log/apt/* "${rootfs}"/tmp/* "${rootfs}"/root/.cache
: >"${rootfs}/etc/resolv.conf"

# ---- import: ENV/CMD as the official images set them ---------------------------------------------
changes=(--change "LABEL standin-base=1")
cuda_path=""
if [ "${cuda}" -eq 1 ]; then
    # the ENV of nvidia/cuda devel images, with this toolkit's version
    cuda_path=/usr/local/nvidia/bin:/usr/local/cuda/bin:
    changes+=(--change "LABEL standin-base.cuda=${cuda_ver}"
        --change "ENV CUDA_VERSION=${cuda_ver}"
        --change "ENV NVIDIA_REQUIRE_CUDA=cuda>=${cuda_ver%.*}"
        --change "ENV NVIDIA_VISIBLE_DEVICES=all"
        --change "ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility"
        --change "ENV LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64"
        --change "ENV LIBRARY_PATH=/usr/local/cuda/lib64/stubs")
fi
if [ -n "${prefix}" ]; then
    changes+=(--change "ENV PATH=${cuda_path}/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        --change "ENV LANG=C.UTF-8"
        --change "ENV PYTHON_VERSION=${pyfull}"
        --change 'CMD ["python3"]')
else
    changes+=(--change "ENV PATH=${cuda_path}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        --change 'CMD ["bash"]')
fi
t0=${SECONDS}
log "docker import -> ${tag}"
tar -C "${rootfs}" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -cf - . \
    | "${docker_cli}" import "${changes[@]}" \
        --message "${prog}: debootstrap ${suite}${prefix:+ + python ${pyfull} from ${prefix}}${cuda_ver:+ + cuda ${cuda_ver}}" - "${tag}" >/dev/null
t_import=$((SECONDS - t0))
size="$("${docker_cli}" image inspect --format '{{.Size}}' "${tag}")"
log "import done in ${t_import}s"
echo "${tag}"
echo "size: $((size / 1024 / 1024)) MiB (${size} bytes); debootstrap ${t_debootstrap}s, import ${t_import}s"
