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
# Requires BuildKit (the default builder since Docker 23; `make image` sets DOCKER_BUILDKIT=1 for older
# engines): only the base stage of the chosen flavour is built, and RUN --mount passes the site CA secret.
# There is deliberately no `# syntax=` line: it would make BuildKit pull a frontend image from Docker Hub,
# which fails offline (air-gapped clusters, registry mirrors); the built-in frontend handles this file.
# Nothing in the build reaches anything but the package registries (and GitHub for apex on GPU flavours,
# unless APEX_COMMIT=none).
#
# Build:  make image FLAVOR=current        (passes the build arguments below from git and `id`)
# Run:    docker run --rm --gpus all IMAGE:TAG help

ARG FLAVOR=current
# Base images, selectable so that a site mirror or a local stand-in (docker/standin-base.sh) builds the same
# file unchanged: make image BUILD_ARGS="--build-arg BASE_CPU=..."; defaults are the pinned tags.
ARG BASE_LEGACY=nvidia/cuda:11.3.1-cudnn8-devel-ubuntu20.04
ARG BASE_CURRENT=nvidia/cuda:12.6.3-cudnn-devel-ubuntu22.04
ARG BASE_CPU=python:3.10.16-slim-bookworm

# ---------------------------------------------------------------------------------------------------------
# Per-flavour bases: the OS, the Python interpreter and the settings the common stage reads.
FROM ${BASE_LEGACY} AS base-legacy
ENV MQ_FLAVOR=legacy \
    MQ_PYTHON=python3.8 \
    FORCE_CUDA=1 \
    TORCH_CUDA_ARCH_LIST="6.0;6.1;7.0;7.5;8.0;8.6"
# CUDA is already in the base image; its NVIDIA apt source is dropped because images of this age may
# carry the repository key NVIDIA rotated in 2022 (apt-get update would fail with NO_PUBKEY).
RUN rm -f /etc/apt/sources.list.d/cuda*.list /etc/apt/sources.list.d/nvidia-ml*.list \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3.8 python3.8-dev python3.8-venv git patch ca-certificates build-essential \
    && rm -rf /var/lib/apt/lists/*

FROM ${BASE_CURRENT} AS base-current
ENV MQ_FLAVOR=current \
    MQ_PYTHON=python3.10 \
    FORCE_CUDA=1 \
    TORCH_CUDA_ARCH_LIST="6.0;6.1;7.0;7.5;8.0;8.6;8.9;9.0"
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3.10 python3.10-dev python3.10-venv git patch ca-certificates build-essential \
    && rm -rf /var/lib/apt/lists/*

FROM ${BASE_CPU} AS base-cpu
ENV MQ_FLAVOR=cpu \
    MQ_PYTHON=python3.10 \
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

# The Python layer: docker/install.sh, the same procedure `make setup` and `make install-forks` run natively,
# step by step so that each step is its own cached layer. The flavour's lock (pip, setuptools and wheel from
# it first), apex on the GPU flavours, the forks (patched for the flavour's torch, built in place, editable),
# this project, the wiring. TORCH_FROM=pypi takes torch from PyPI where the PyTorch wheel index is not
# reachable (cpu: docker/requirements-cpu-pypi.lock). A site CA bundle for TLS-intercepting proxies comes in
# as the build secret `site_ca` (make image SITE_CA=...): used by pip and git during the build, never stored.
ARG TORCH_FROM=index
ENV MQ_TORCH_FROM=${TORCH_FROM}
# Two build options for sites and stand-ins; empty (the default) keeps the flavour's own setting.
# APEX_COMMIT: build apex at another commit, or `none` to build without it (apex comes from GitHub: a build
# that cannot reach GitHub needs `none`, and the image then has no apex). CUDA_ARCH_LIST: compile the CUDA
# kernels (apex, the forks) for these architectures instead of the flavour's TORCH_CUDA_ARCH_LIST, e.g. 9.0
# for Hopper only (a faster build; the image's TORCH_CUDA_ARCH_LIST still names the flavour's list).
ARG APEX_COMMIT=
ARG CUDA_ARCH_LIST=
COPY docker/install.sh docker/apply_patches.sh docker/requirements-*.lock docker/
RUN --mount=type=secret,id=site_ca,required=false \
    "${MQ_PYTHON}" -m venv /opt/venv \
    && docker/install.sh deps

RUN --mount=type=secret,id=site_ca,required=false \
    MQ_APEX_COMMIT="${APEX_COMMIT}" TORCH_CUDA_ARCH_LIST="${CUDA_ARCH_LIST:-${TORCH_CUDA_ARCH_LIST:-}}" \
    docker/install.sh apex

# The pinned forks (git submodules; `make image` checks they are checked out at their pins first).
# FORCE_CUDA=1 and TORCH_CUDA_ARCH_LIST build the CUDA kernels without a GPU.
COPY forks/ forks/
COPY docker/patches/ docker/patches/
RUN TORCH_CUDA_ARCH_LIST="${CUDA_ARCH_LIST:-${TORCH_CUDA_ARCH_LIST:-}}" docker/install.sh forks

# This project. The COPY brings the forks' pristine sources back over the patched ones (the compiled
# extensions stay: .dockerignore keeps them out of the context), so the patches are applied again.
COPY . /opt/mq
RUN --mount=type=secret,id=site_ca,required=false \
    docker/install.sh patches project wire

# Build record read by model_quantization.runrecord (env MQ_BUILD_INFO), and the run-time settings:
# no package index, no downloads; the step graph's folders (the `recipe` verb) are the mounts.
RUN python docker/write_build_info.py --out /etc/mq-build-info.json \
        --image-tag "${IMAGE_TAG}" --flavor "${MQ_FLAVOR}" --project-commit "${PROJECT_COMMIT}" \
        --submodule "forks/detectron2=${DETECTRON2_COMMIT}" \
        --submodule "forks/AdelaiDet=${ADELAIDET_COMMIT}" \
        --built-at "${BUILT_AT}"
ENV MQ_IMAGE_TAG=${IMAGE_TAG} \
    MQ_BUILD_INFO=/etc/mq-build-info.json \
    MQ_REQUIRE_FORKS=1 \
    PIP_NO_INDEX=1 \
    HF_HUB_OFFLINE=1 \
    TORCH_HOME=/weights/torch \
    DETECTRON2_DATASETS=/data \
    DATA_DIR=/data \
    MQ_DATA_DIR=/data \
    MQ_WEIGHTS_DIR=/weights \
    MQ_OUTPUT_DIR=/outputs \
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
