# syntax=docker/dockerfile:1
#
# One Dockerfile, three flavours (build argument FLAVOR, normally set by `make image FLAVOR=...`):
#
#   legacy   CUDA 11.3.1 + cuDNN 8, Ubuntu 20.04, Python 3.8, torch 1.10.2+cu113, apex d06404f (2021-06).
#            The forks' own era: their CUDA code builds unpatched. GPUs: Pascal to Ampere.
#   current  CUDA 12.6.3 + cuDNN 9, Ubuntu 22.04, Python 3.10, torch 2.7.1 (CUDA 12.6), apex 25.09.
#            Our patches (docker/patches/) make the forks build on torch 2.x. GPUs: Pascal to Hopper.
#   cpu      python:3.10 slim (Debian bookworm), torch 2.7.1+cpu; no CUDA. For CI and smoke runs.
#
# Base images are pinned to exact tags. They are not pinned by digest: the digests could not be read from
# the machine this file was written on (no registry access), and a digest we cannot check is worse than none.
# Python packages come only from docker/requirements-<flavor>.lock (every line `==`); the forks, apex and
# this project are installed with --no-deps, so nothing outside the lock files is pulled in.
# Requires BuildKit (the default builder since Docker 23): only the base stage of the chosen flavour is built.
#
# Build:  make image FLAVOR=current        (passes the build arguments below from git and `id`)
# Run:    docker run --rm --gpus all IMAGE:TAG help

ARG FLAVOR=current

# ---------------------------------------------------------------------------------------------------------
# Per-flavour bases: the OS, the Python interpreter and the settings the common stage reads.
FROM nvidia/cuda:11.3.1-cudnn8-devel-ubuntu20.04 AS base-legacy
ENV MQ_FLAVOR=legacy \
    MQ_PYTHON=python3.8 \
    MQ_APEX_COMMIT=d06404fecab73f152c6cbb89ac2c2e9b7fc24124 \
    MQ_FORK_PATCHES=none \
    FORCE_CUDA=1 \
    TORCH_CUDA_ARCH_LIST="6.0;6.1;7.0;7.5;8.0;8.6"
# CUDA is already in the base image; its NVIDIA apt source is dropped because images of this age may
# carry the repository key NVIDIA rotated in 2022 (apt-get update would fail with NO_PUBKEY).
RUN rm -f /etc/apt/sources.list.d/cuda*.list /etc/apt/sources.list.d/nvidia-ml*.list \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3.8 python3.8-dev python3.8-venv git patch ca-certificates build-essential \
    && rm -rf /var/lib/apt/lists/*

FROM nvidia/cuda:12.6.3-cudnn-devel-ubuntu22.04 AS base-current
ENV MQ_FLAVOR=current \
    MQ_PYTHON=python3.10 \
    MQ_APEX_COMMIT=4bdecd06b3c4b2c0a8fb6603829a8f9f05a42b49 \
    MQ_FORK_PATCHES=all \
    FORCE_CUDA=1 \
    TORCH_CUDA_ARCH_LIST="6.0;6.1;7.0;7.5;8.0;8.6;8.9;9.0"
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3.10 python3.10-dev python3.10-venv git patch ca-certificates build-essential \
    && rm -rf /var/lib/apt/lists/*

FROM python:3.10.16-slim-bookworm AS base-cpu
ENV MQ_FLAVOR=cpu \
    MQ_PYTHON=python3.10 \
    MQ_APEX_COMMIT=none \
    MQ_FORK_PATCHES=all \
    FORCE_CUDA=0
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        git patch build-essential \
    && rm -rf /var/lib/apt/lists/*

# ---------------------------------------------------------------------------------------------------------
# The image: everything below is shared by the flavours.
# hadolint ignore=DL3006
FROM base-${FLAVOR} AS image

ARG FLAVOR
ARG IMAGE_TAG=unknown
ARG PROJECT_COMMIT=unknown
ARG DETECTRON2_COMMIT=073a8ad0f22178d1452df3c449f0e45b1ff50f8a
ARG ADELAIDET_COMMIT=5acafcc38a03b097cafd2b5a78bf9607c3c3cfaa
ARG BUILT_AT=
ARG USER_UID=1000
ARG USER_GID=1000
ARG MAX_JOBS=8

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV MQ_HOME=/opt/mq \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:${PATH} \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MAX_JOBS=${MAX_JOBS}
WORKDIR /opt/mq

# Python: a virtual environment holding exactly the flavour's lock file (pip itself is pinned there too:
# it is upgraded first, from the same lock, so that manylinux_2_28 wheels are understood).
COPY docker/requirements-${FLAVOR}.lock docker/requirements-legacy-build.lock docker/
RUN "${MQ_PYTHON}" -m venv /opt/venv \
    && grep -E '^pip==' "docker/requirements-${FLAVOR}.lock" > /tmp/pip.lock \
    && python -m pip install -r /tmp/pip.lock \
    && python -m pip install -r "docker/requirements-${FLAVOR}.lock" \
    && python -m pip check

# NVIDIA apex with its C++/CUDA extensions, from the pinned commit (GPU flavours only).
RUN if [ "${MQ_APEX_COMMIT}" != none ]; then \
        git init -q /tmp/apex \
        && git -C /tmp/apex fetch -q --depth 1 https://github.com/NVIDIA/apex.git "${MQ_APEX_COMMIT}" \
        && git -C /tmp/apex checkout -q FETCH_HEAD \
        && test "$(git -C /tmp/apex rev-parse HEAD)" = "${MQ_APEX_COMMIT}" \
        && cd /tmp/apex \
        && if [ "${MQ_FLAVOR}" = legacy ]; then \
               python setup.py install --cpp_ext --cuda_ext; \
           else \
               APEX_CPP_EXT=1 APEX_CUDA_EXT=1 APEX_PARALLEL_BUILD="${MAX_JOBS}" \
               python -m pip install -v --no-deps --no-build-isolation . ; \
           fi \
        && cd / && rm -rf /tmp/apex; \
    fi

# The pinned forks (git submodules; `make image` checks they are checked out at their pins first),
# patched for the flavour's torch, then built in place (editable) so that their compiled extensions sit
# next to their sources. FORCE_CUDA=1 and TORCH_CUDA_ARCH_LIST build the CUDA kernels without a GPU.
COPY third_party/ third_party/
COPY docker/patches/ docker/patches/
COPY docker/apply_patches.sh docker/
RUN docker/apply_patches.sh "${MQ_FORK_PATCHES}" third_party \
    && python -m pip install --no-deps --no-build-isolation -e third_party/detectron2 \
    && python -m pip install --no-deps --no-build-isolation -e third_party/AdelaiDet

# This project. The COPY brings the forks' pristine sources back over the patched ones, so the patches
# are applied again (the script skips patches already in place).
COPY . /opt/mq
RUN docker/apply_patches.sh "${MQ_FORK_PATCHES}" third_party \
    && if [ "${MQ_FLAVOR}" = legacy ]; then \
           python -m pip install -r docker/requirements-legacy-build.lock \
           && python -m pip install --no-deps --no-build-isolation -e . \
           && grep -E '^setuptools==' docker/requirements-legacy.lock > /tmp/setuptools.lock \
           && python -m pip install -r /tmp/setuptools.lock; \
       else \
           python -m pip install --no-deps --no-build-isolation -e . ; \
       fi \
    && python -m pip check \
    && python -m model_quantization.compat.wire --detectron2 third_party/detectron2 \
    && python -m model_quantization.compat.wire --detectron2 third_party/detectron2 --check

# Build record read by model_quantization.runrecord (env MQ_BUILD_INFO), and the run-time settings:
# no package index, no downloads.
RUN python docker/write_build_info.py --out /etc/mq-build-info.json \
        --image-tag "${IMAGE_TAG}" --flavor "${MQ_FLAVOR}" --project-commit "${PROJECT_COMMIT}" \
        --submodule "third_party/detectron2=${DETECTRON2_COMMIT}" \
        --submodule "third_party/AdelaiDet=${ADELAIDET_COMMIT}" \
        --built-at "${BUILT_AT}"
ENV MQ_IMAGE_TAG=${IMAGE_TAG} \
    MQ_BUILD_INFO=/etc/mq-build-info.json \
    PIP_NO_INDEX=1 \
    HF_HUB_OFFLINE=1 \
    TORCH_HOME=/weights/torch \
    DETECTRON2_DATASETS=/data \
    DATA_DIR=/data \
    MPLCONFIGDIR=/tmp/matplotlib

# A non-root user whose uid/gid can match the host's (make image passes USER_UID/USER_GID = id -u/-g;
# -o allows ids that already exist in the base image). The configs' relative output/ folder is the
# /outputs mount, so a config's own MODEL.WEIGHTS / OUTPUT_DIR paths land on the host too.
RUN groupadd -o -g "${USER_GID}" mq \
    && useradd -o -m -u "${USER_UID}" -g "${USER_GID}" -s /bin/bash mq \
    && mkdir -p /data /weights /outputs \
    && chown mq:mq /outputs \
    && ln -sfn /outputs /opt/mq/output
USER mq
ENTRYPOINT ["/opt/mq/docker/entrypoint.sh"]
CMD ["help"]
