# Every step of the recipe as a make target, run inside the image (RUNNER=docker, the default) or natively
# (RUNNER=local) with exactly the same command: one shared RUN prefix is either the `docker run ...` line or
# nothing. Commands are echoed before they run; `make -n <target>` shows them without running anything.
# `make help` (the default) lists targets and variables.

SHELL := /bin/bash
# make -n? (read before MAKEFLAGS is changed below: its first word holds the one-letter flags)
DRY_RUN := $(findstring n,$(firstword -$(MAKEFLAGS)))
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:
# Every file of the recipe is kept: no checkpoint is ever deleted as an "intermediate" file.
.SECONDARY:
.SECONDEXPANSION:

empty :=
space := $(empty) $(empty)
comma := ,

# ---------------------------------------------------------------------------------------------------------
# User variables (each documented in HELP_<name>, printed by `make help`)
FLAVORS := legacy current cpu
FLAVOR ?= current
HELP_FLAVOR = image flavour: legacy (CUDA 11.3, torch 1.10) | current (CUDA 12.6, torch 2.7) | cpu
RUNNER ?= docker
HELP_RUNNER = docker: run each command in the image | local: run the same command natively
IMAGE ?= qat-detection
HELP_IMAGE = image name
GIT_SHORT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo nogit)
TAG ?= $(FLAVOR)-$(GIT_SHORT)
HELP_TAG = image tag (default: flavour-commit)
# default: none for the cpu image, and for RUNNER=local on a machine without nvidia-smi; else all
ifeq ($(origin GPUS),undefined)
GPUS := $(if $(filter cpu,$(FLAVOR)),none,$(if $(and $(filter local,$(RUNNER)),$(if $(shell command -v nvidia-smi 2>/dev/null),,nogpu)),none,all))
endif
HELP_GPUS = GPUs for docker run --gpus: all | "device=0,1" | a count | none (local: CUDA_VISIBLE_DEVICES)
# "device=0,1" with its docker quotes or without (the shell usually eats them)
override GPUS := $(subst ",,$(GPUS))
# NUM_GPUS follows GPUS: none -> 0 (CPU), a count -> it, device=0,1 -> 2, all -> every GPU nvidia-smi lists
# (RUNNER=local: those of a CUDA_VISIBLE_DEVICES you set), or auto where this machine has no nvidia-smi:
# the step counts the GPUs it sees when it starts (torch.cuda.device_count(), inside the container).
# Recursive (=), so nvidia-smi runs only when a command uses the count.
gpu_list_len = $(words $(subst $(comma),$(space),$(1)))
ALL_GPUS = $(if $(and $(filter local,$(RUNNER)),$(filter environment,$(origin CUDA_VISIBLE_DEVICES))),$\
	$(call gpu_list_len,$(CUDA_VISIBLE_DEVICES)),$(or $(filter-out 0,$(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU ')),auto))
NUM_GPUS ?= $(if $(filter none,$(GPUS)),0,$(if $(filter device=%,$(GPUS)),$(call gpu_list_len,$(patsubst device=%,%,$(GPUS))),$(if $(filter all,$(GPUS)),$(ALL_GPUS),$(GPUS))))
HELP_NUM_GPUS = training processes per machine; default from GPUS (all: every GPU, counted); 0 = CPU; auto: counted when the step starts
NUM_MACHINES ?= 1
HELP_NUM_MACHINES = machines in the job; each runs the same make command with its own MACHINE_RANK
MACHINE_RANK ?= 0
HELP_MACHINE_RANK = this machine's rank, 0 .. NUM_MACHINES-1 (0 hosts the rendezvous, runs the single-process steps)
DIST_URL ?=
HELP_DIST_URL = rendezvous host:port on machine 0, reachable from every machine (needed when NUM_MACHINES > 1)
MACHINE_WAIT ?= 3600
HELP_MACHINE_WAIT = seconds machines other than 0 wait for a single-process step's file (OUTPUT_DIR shared)
DATA_DIR ?= data
HELP_DATA_DIR = datasets: DATA_DIR/coco/{train2017,val2017,annotations} and DATA_DIR/imagenet/{train,val}
WEIGHTS_DIR ?= weights
HELP_WEIGHTS_DIR = pretrained weights (torchvision resnet18-f37072fd.pth ..., R-50.pkl)
OUTPUT_DIR ?= output
HELP_OUTPUT_DIR = runs, checkpoints and reports (the configs' output/ folder)
CONFIG ?=
HELP_CONFIG = config file for train-det, eval (detector) or backbone-low, export (classifier)
OPTS ?=
HELP_OPTS = detector config overrides, detectron2 style KEY VALUE ... (every detector step)
CLS_OPTS ?=
HELP_CLS_OPTS = classifier config overrides KEY=VALUE ... (backbone-low)
CHECKPOINT ?=
HELP_CHECKPOINT = checkpoint for eval (a file under OUTPUT_DIR or WEIGHTS_DIR)
ARCH ?= resnet18
HELP_ARCH = backbone for backbone-full / export without CONFIG: resnet18 | resnet34 | resnet50
TINY_COCO ?=
HELP_TINY_COCO = small COCO folder (images/, annotations/instances_*.json) for smoke (default: the built-in set); output of tiny-coco
IDS ?=
HELP_IDS = image ids for tiny-coco, e.g. IDS="139 285 632"
COCO_SPLIT ?= val2017
HELP_COCO_SPLIT = COCO split tiny-coco cuts from
PYTHON ?= python
HELP_PYTHON = interpreter for RUNNER=local, wire, install-forks (RUNNER=local default: VENV/bin/python)
VENV ?= $(or $(MQ_VENV),.venv)
HELP_VENV = virtual environment make setup creates for RUNNER=local
VENV_ARGS ?=
HELP_VENV_ARGS = extra arguments for python -m venv in make setup (e.g. --system-site-packages to reuse an installed torch)
HOST_PYTHON ?= python3
HELP_HOST_PYTHON = host interpreter for the standard-library helpers (check, tiny-coco, setup)
TORCH_FROM ?= index
HELP_TORCH_FROM = where torch comes from: index (the lock's: the PyTorch CPU index for cpu) | pypi (PyPI's torch, docker/requirements-cpu-pypi.lock)
REQUIRE_FORKS ?= 0
HELP_REQUIRE_FORKS = 1: missing or broken forks fail smoke and the fork tests (the image always sets it)
SITE_CA ?=
HELP_SITE_CA = CA bundle for pip/git during make image (TLS-intercepting proxy); a build secret, not kept in the image
BUILD_NETWORK ?=
HELP_BUILD_NETWORK = docker build --network (e.g. host where the build must use the host's network)
BUILD_ARGS ?=
HELP_BUILD_ARGS = extra docker build arguments, e.g. --build-arg BASE_CPU=mirror/python:3.10.16-slim-bookworm
PYTEST_ARGS ?= -q
HELP_PYTEST_ARGS = arguments for pytest (make test)
SMOKE_ARGS ?=
HELP_SMOKE_ARGS = extra arguments for scripts/smoke.py
USER_UID ?= $(or $(filter-out 0,$(shell id -u 2>/dev/null)),1000)
HELP_USER_UID = uid of the image user (default: yours; 1000 when you are root)
USER_GID ?= $(or $(filter-out 0,$(shell id -g 2>/dev/null)),1000)
HELP_USER_GID = gid of the image user
SHM_SIZE ?= 8g
HELP_SHM_SIZE = shared memory of the container (data loader workers)
DOCKER ?= docker
HELP_DOCKER = docker client binary
DOCKER_ARGS ?=
HELP_DOCKER_ARGS = extra docker run arguments, e.g. --device /dev/infiniband --ulimit memlock=-1 (InfiniBand)
DOCKER_NETWORK ?= $(if $(filter-out 1,$(NUM_MACHINES)),host)
HELP_DOCKER_NETWORK = docker run --network; default: host when NUM_MACHINES > 1 (NCCL/Gloo between machines), else docker's
EXPERIMENTS ?= configs/experiments.yaml
HELP_EXPERIMENTS = the experiment table: one row per result, make train-<name> (configs/experiments.yaml)
WHEELS ?=
HELP_WHEELS = gpu-check: folder of wheels to install first, offline (make gpu-wheels fills it)
GPU_CHECK_ARGS ?=
HELP_GPU_CHECK_ARGS = extra scripts/gpu_check.py arguments: --rehearse, --dry-run, --venv DIR, --steps, --iters
GPU_PYTHON ?= 3.12
HELP_GPU_PYTHON = Python version of the GPU machine that make gpu-wheels downloads wheels for

# "./x" and "x/" name the same folder as "x" (make compares target names as strings)
norm_dir = $(patsubst %/,%,$(patsubst ./%,%,$(1)))
override DATA_DIR := $(call norm_dir,$(DATA_DIR))
override WEIGHTS_DIR := $(call norm_dir,$(WEIGHTS_DIR))
override OUTPUT_DIR := $(call norm_dir,$(OUTPUT_DIR))

HELP_VARS := RUNNER FLAVOR IMAGE TAG GPUS NUM_GPUS NUM_MACHINES MACHINE_RANK DIST_URL MACHINE_WAIT DATA_DIR WEIGHTS_DIR OUTPUT_DIR CONFIG OPTS CLS_OPTS CHECKPOINT \
	ARCH TINY_COCO IDS COCO_SPLIT PYTHON VENV VENV_ARGS HOST_PYTHON TORCH_FROM REQUIRE_FORKS SITE_CA BUILD_NETWORK \
	BUILD_ARGS PYTEST_ARGS SMOKE_ARGS USER_UID USER_GID SHM_SIZE DOCKER DOCKER_ARGS DOCKER_NETWORK EXPERIMENTS \
	WHEELS GPU_CHECK_ARGS GPU_PYTHON

# ---------------------------------------------------------------------------------------------------------
# Input validation (one line each, naming the variable that fixes it)
ifeq ($(filter $(FLAVOR),$(FLAVORS)),)
$(error FLAVOR=$(FLAVOR) is not an image flavour; use FLAVOR=legacy, FLAVOR=current or FLAVOR=cpu)
endif
ifneq ($(words $(FLAVOR)),1)
$(error FLAVOR=$(FLAVOR) is not an image flavour; use FLAVOR=legacy, FLAVOR=current or FLAVOR=cpu)
endif
ifeq ($(filter $(RUNNER),docker local),)
$(error RUNNER=$(RUNNER) is unknown; use RUNNER=docker (in the image) or RUNNER=local (native))
endif
ifeq ($(filter all none device=% 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16,$(GPUS)),)
$(error GPUS=$(GPUS) is not understood; use GPUS=all, GPUS=none, GPUS=2 or GPUS=device=0,1)
endif
# NUM_GPUS, NUM_MACHINES, MACHINE_RANK and DIST_URL are checked by the step graph (model_quantization/recipe.py)
ifneq ($(filter cpu,$(FLAVOR)),)
ifneq ($(GPUS),none)
ifeq ($(RUNNER),docker)
$(error GPUS=$(GPUS) with FLAVOR=cpu: the cpu image has no CUDA; use GPUS=none or FLAVOR=current)
endif
endif
endif

ifeq ($(filter $(TORCH_FROM),index pypi),)
$(error TORCH_FROM=$(TORCH_FROM) is unknown; use TORCH_FROM=index (the lock's torch) or TORCH_FROM=pypi (PyPI's torch))
endif
ifneq ($(filter 0 1,$(REQUIRE_FORKS)),$(REQUIRE_FORKS))
$(error REQUIRE_FORKS=$(REQUIRE_FORKS) is not 0 or 1; use REQUIRE_FORKS=1 to fail where the forks are missing)
endif
ifeq ($(REQUIRE_FORKS),1)
export MQ_REQUIRE_FORKS := 1
endif

# Native installs (setup, install-forks) run docker/install.sh, the image's own procedure, with the lock of
# NATIVE_FLAVOR: FLAVOR where this machine has a GPU (nvidia-smi) or FLAVOR is given, else cpu.
NATIVE_FLAVOR := $(if $(or $(filter command line,$(origin FLAVOR)),$(shell command -v nvidia-smi 2>/dev/null)),$(FLAVOR),cpu)
INSTALL = PYTHON=$(PYTHON) MQ_FLAVOR=$(NATIVE_FLAVOR) MQ_TORCH_FROM=$(TORCH_FROM) docker/install.sh
setup $(VENV)/.mq-setup-done: PYTHON = $(VENV)/bin/python

PROJECT_COMMIT := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet --ignore-submodules HEAD -- 2>/dev/null || echo -dirty)
pin_of = $(or $(shell git ls-files -s -- $(1) 2>/dev/null | awk '$$1 == "160000" {print $$2}'),unknown)
BUILT_AT := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)

# ---------------------------------------------------------------------------------------------------------
# The shared RUN prefix and the paths commands see (the container's mount points, or the host paths)
GPU_FLAG = $(if $(filter none,$(GPUS)),,--gpus $(if $(findstring $(comma),$(GPUS)),'"$(GPUS)"',$(GPUS)))
mount_ro = $(if $(wildcard $(1)),-v $(abspath $(1)):$(2):ro)
# the NCCL/Gloo settings of the caller (environment or make command line), passed by name into the container
DIST_ENV = $(sort $(foreach v,$(filter NCCL_% GLOO_% TORCH_NCCL_%,$(.VARIABLES)),$(if $(filter environment command line,$(origin $(v))),$(v))))
DOCKER_RUN_ARGS = --rm $(GPU_FLAG)$(if $(DOCKER_NETWORK), --network $(DOCKER_NETWORK)) --shm-size=$(SHM_SIZE) --user $(USER_UID):$(USER_GID) \
	$(addprefix -e ,$(DIST_ENV)) \
	$(call mount_ro,$(DATA_DIR),/data) $(call mount_ro,$(WEIGHTS_DIR),/weights) \
	-v $(abspath $(OUTPUT_DIR)):/outputs $(call mount_ro,$(TINY_COCO),/tiny_coco) \
	$(if $(wildcard $(TINY_COCO)),-e TINY_COCO=/tiny_coco) \
	-v $(CURDIR)/configs:/opt/mq/configs:ro $(DOCKER_ARGS) $(IMAGE):$(TAG)

ifeq ($(RUNNER),docker)
RUN = $(DOCKER) run $(strip $(DOCKER_RUN_ARGS))$(space)
RUN_IT = $(DOCKER) run -it $(strip $(DOCKER_RUN_ARGS))$(space)
PY := python
C_DATA := /data
C_WEIGHTS := /weights
C_OUT := /outputs
C_TINY := /tiny_coco
PREFLIGHT_CHECKS = $(if $(shell command -v $(DOCKER) 2>/dev/null),,$(call fail,'$(DOCKER)' not found (RUNNER=docker): install Docker$(comma) or run natively with RUNNER=local))$\
	$(if $(shell $(DOCKER) version --format '{{.Server.Version}}' 2>/dev/null),,$(call fail,cannot reach the Docker daemon ($(DOCKER) version): start it or join the docker group$(comma) or use RUNNER=local))$\
	$(if $(filter none,$(GPUS)),,$(if $(shell $(DOCKER) info 2>/dev/null | grep -i nvidia),,$(call fail,GPUS=$(GPUS) but Docker has no NVIDIA runtime (docker info): install nvidia-container-toolkit$(comma) or use GPUS=none)))$\
	$(if $(shell $(DOCKER) image inspect --format ok $(IMAGE):$(TAG) 2>/dev/null),,$(call fail,image $(IMAGE):$(TAG) not found: build it with make image FLAVOR=$(FLAVOR)$(comma) or set TAG))
else
RUN :=
RUN_IT :=
ifeq ($(origin PYTHON),file)
PYTHON := $(VENV)/bin/python
LOCAL_DEPS := $(VENV)/.mq-setup-done
endif
PY = $(PYTHON)
# the small COCO folder of the smoke configs, for every detector step (train_det.py reads $TINY_COCO)
export TINY_COCO
C_DATA = $(DATA_DIR)
C_WEIGHTS = $(WEIGHTS_DIR)
C_OUT = $(OUTPUT_DIR)
C_TINY = $(TINY_COCO)
PREFLIGHT_CHECKS = $(if $(shell command -v $(PYTHON) 2>/dev/null),,$(call fail,PYTHON=$(PYTHON) not found (RUNNER=local): run make setup RUNNER=local$(comma) or set PYTHON))
ifeq ($(GPUS),none)
export CUDA_VISIBLE_DEVICES :=
else ifneq ($(filter device=%,$(GPUS)),)
export CUDA_VISIBLE_DEVICES := $(patsubst device=%,%,$(GPUS))
endif
endif

# Checks run when make expands a recipe (just before it runs) or parses a goal; a failure is one line
# ("Makefile:N: *** <problem>: <fix>.  Stop."). Under make -n they are skipped, so -n always shows.
fail = $(if $(DRY_RUN),,$(error $(1)))
need_dir = $(if $(wildcard $(1)/.),,$(call fail,$(1) not found: $(2)))
need_file = $(if $(wildcard $(1)),,$(call fail,$(1) not found: $(2)))
need_var = $(if $($(1)),,$(call fail,$(1) is empty: $(2)))

ifneq ($(and $(filter smoke,$(MAKECMDGOALS)),$(TINY_COCO)),)
$(call need_dir,$(TINY_COCO),set TINY_COCO to a folder with images/ and annotations/instances_*.json$(comma) or leave it empty for the built-in set)
endif
ifneq ($(filter tiny-coco,$(MAKECMDGOALS)),)
$(call need_var,IDS,pass the image ids$(comma) e.g. IDS="139 285 632")
$(call need_var,TINY_COCO,pass the folder to write$(comma) e.g. TINY_COCO=data/tiny_coco)
$(call need_dir,$(DATA_DIR)/coco,set DATA_DIR to the folder holding coco/)
endif

# ---------------------------------------------------------------------------------------------------------
# The recipe: model_quantization/recipe.py holds its step graph (each step's inputs, output and command,
# from EXPERIMENTS and the configs), checks a goal's inputs, and runs the steps it needs, skipping those
# whose output exists. make hands it its settings as MQ_* variables; under make -n it prints the commands.
RECIPE_GOALS := train-% backbone-full backbone-low export train-det eval
$(RECIPE_GOALS): export MQ_RUN = $(RUN)
$(RECIPE_GOALS): export MQ_PY = $(PY)
$(RECIPE_GOALS): export MQ_OUTPUT_DIR = $(OUTPUT_DIR)
$(RECIPE_GOALS): export MQ_WEIGHTS_DIR = $(WEIGHTS_DIR)
$(RECIPE_GOALS): export MQ_DATA_DIR = $(DATA_DIR)
$(RECIPE_GOALS): export MQ_C_OUT = $(if $(filter docker,$(RUNNER)),$(C_OUT))
$(RECIPE_GOALS): export MQ_C_WEIGHTS = $(if $(filter docker,$(RUNNER)),$(C_WEIGHTS))
$(RECIPE_GOALS): export MQ_C_DATA = $(if $(filter docker,$(RUNNER)),$(C_DATA))
$(RECIPE_GOALS): export MQ_TINY_COCO = $(TINY_COCO)
$(RECIPE_GOALS): export MQ_OPTS = $(OPTS)
$(RECIPE_GOALS): export MQ_CLS_OPTS = $(CLS_OPTS)
$(RECIPE_GOALS): export MQ_NUM_GPUS = $(NUM_GPUS)
$(RECIPE_GOALS): export MQ_NUM_MACHINES = $(NUM_MACHINES)
$(RECIPE_GOALS): export MQ_MACHINE_RANK = $(MACHINE_RANK)
$(RECIPE_GOALS): export MQ_DIST_URL = $(DIST_URL)
$(RECIPE_GOALS): export MQ_MACHINE_WAIT = $(MACHINE_WAIT)
$(RECIPE_GOALS): export MQ_EXPERIMENTS = $(EXPERIMENTS)
# the graph runs on the host: VENV's python where make setup made one, else HOST_PYTHON (with PyYAML)
RECIPE_PY = $(or $(wildcard $(VENV)/bin/python),$(HOST_PYTHON))
RECIPE = @+$(RECIPE_PY) -m model_quantization.recipe$(if $(DRY_RUN), --dry-run)

# ---------------------------------------------------------------------------------------------------------
# Targets
.PHONY: help image image-check setup shell test smoke eval report check check-submodules wire install-forks tiny-coco \
	backbone-full backbone-low export train-det list-experiments gpu-check gpu-wheels overall-full

help: ## list targets and variables (this text)
	@echo "Usage: make <target> [VARIABLE=value ...]   (make -n <target> shows the commands)"
	@echo ""
	@echo "Targets:"
	@awk -F ':.*## ' '/^[a-z][a-z0-9-]*:.*## /{printf "  %-18s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))
	@echo "  train-<experiment> one per row of EXPERIMENTS, with every step it needs (finished ones skipped):"
	@+MQ_EXPERIMENTS=$(EXPERIMENTS) $(RECIPE_PY) -m model_quantization.recipe list 2>&1 | sed 's/^/    train-/'
	@echo ""
	@echo "Variables (current value; set on the command line, e.g. make smoke RUNNER=local):"
	@$(foreach v,$(HELP_VARS),printf '  %-15s %-28s %s\n' '$(v)' '$(subst ','"'"',$($(v)))' '$(subst ','"'"',$(HELP_$(v)))';)

image: check-submodules ## build the image of FLAVOR, tagged IMAGE:TAG (TORCH_FROM, SITE_CA, BUILD_NETWORK, BUILD_ARGS)
	@command -v $(DOCKER) >/dev/null 2>&1 || { echo "make: '$(DOCKER)' not found: install Docker to build images (RUNNER=local needs none)" >&2; exit 2; }
	$(if $(SITE_CA),$(call need_file,$(SITE_CA),SITE_CA names no file: give the PEM bundle of your site's CA))
	DOCKER_BUILDKIT=1 $(DOCKER) build --build-arg FLAVOR=$(FLAVOR) --build-arg IMAGE_TAG=$(IMAGE):$(TAG) \
		--build-arg TORCH_FROM=$(TORCH_FROM) --build-arg PROJECT_COMMIT=$(PROJECT_COMMIT) \
		--build-arg DETECTRON2_COMMIT=$(call pin_of,forks/detectron2) \
		--build-arg ADELAIDET_COMMIT=$(call pin_of,forks/AdelaiDet) \
		--build-arg BUILT_AT=$(BUILT_AT) --build-arg USER_UID=$(USER_UID) --build-arg USER_GID=$(USER_GID) \
		$(if $(SITE_CA),--secret id=site_ca$(comma)src=$(abspath $(SITE_CA)) )$(if $(BUILD_NETWORK),--network $(BUILD_NETWORK) )$(BUILD_ARGS) \
		-t $(IMAGE):$(TAG) .

image-check: ## build the image of FLAVOR, then make check, test and smoke inside it (the users' CI job)
	$(MAKE) image
	$(MAKE) check RUNNER=docker
	$(MAKE) test RUNNER=docker
	$(MAKE) smoke RUNNER=docker

setup: $(VENV)/.mq-setup-done ## RUNNER=local: create VENV with the image's Python layer (docker/install.sh deps project)
# The stamp is written last, so an interrupted or failed install is redone on the next call.
$(VENV)/.mq-setup-done: pyproject.toml $(wildcard docker/requirements-*.lock) docker/install.sh
	$(HOST_PYTHON) -m venv $(VENV_ARGS) $(VENV)
	$(INSTALL) deps project
	touch $@

shell: | $$(LOCAL_DEPS) preflight ## interactive shell in the image (RUNNER=local: a shell here)
	$(RUN_IT)bash

test: | $$(LOCAL_DEPS) preflight ## run the test suite (pytest PYTEST_ARGS)
	$(RUN)$(PY) -m pytest $(PYTEST_ARGS)

smoke: | $$(LOCAL_DEPS) preflight ## the recipe's smoke run on TINY_COCO (minutes on a CPU), into OUTPUT_DIR/smoke
	$(RUN)$(PY) scripts/smoke.py $(if $(TINY_COCO),--tiny-coco $(C_TINY) )--output $(C_OUT)/smoke $(SMOKE_ARGS)

report: | $$(LOCAL_DEPS) preflight ## gather every run under OUTPUT_DIR into OUTPUT_DIR/report (reference vs reproduced AP)
	$(RUN)$(PY) scripts/report.py --runs $(C_OUT) --out $(C_OUT)/report

check-submodules: ## the forks are checked out at their pinned commits, unmodified but for our patches
	$(HOST_PYTHON) scripts/check_submodules.py

check: check-submodules | $$(LOCAL_DEPS) preflight ## the forks import from the project root, are wired, and build the FCOS-R18 2-bit model
	$(RUN)$(PY) -m model_quantization.detection.check_install

wire: ## native installs: make the fork's third_party.quantization resolve to model_quantization.compat
	$(INSTALL) wire

install-forks: check-submodules | $$(LOCAL_DEPS) ## native installs: the forks (patched, built, editable), apex on GPU flavours, the wiring
	$(INSTALL) $(if $(filter cpu,$(NATIVE_FLAVOR)),,apex )forks wire

# gpu-check runs on a bare GPU machine too (no venv, no network): PYTHON when given, else VENV's python
# when there is one, else HOST_PYTHON; it needs no make setup (GPU_CHECK_ARGS=--venv DIR makes its own).
GPU_CHECK_PY = $(if $(filter docker,$(RUNNER)),$(PY),$(if $(filter command line environment,$(origin PYTHON)),$(PYTHON),$(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,$(HOST_PYTHON))))
gpu-check: | $$(if $$(filter docker,$$(RUNNER)),preflight) ## the CUDA path in one command: forks built for CUDA, GPU tests, FCOS FP/2-bit x AMP off/on, images/s and AP (WHEELS, GPU_CHECK_ARGS)
	$(if $(WHEELS),$(call need_dir,$(WHEELS),WHEELS names no folder: make gpu-wheels WHEELS=$(WHEELS) fills one))
	@mkdir -p $(OUTPUT_DIR)
	$(RUN)$(GPU_CHECK_PY) scripts/gpu_check.py $(if $(WHEELS),--wheels $(WHEELS) )--output $(C_OUT)/gpu-check $(GPU_CHECK_ARGS)

gpu-wheels: ## download what gpu-check needs beyond Python and torch (docker/gpu-check-requirements.txt) as wheels into WHEELS (GPU_PYTHON)
	$(call need_var,WHEELS,pass the folder to fill$(comma) e.g. WHEELS=wheels)
	$(HOST_PYTHON) -m pip download --only-binary=:all: --no-deps --python-version $(GPU_PYTHON) \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-r <(grep -v '# sdist only' docker/gpu-check-requirements.txt) -d $(WHEELS)
	$(HOST_PYTHON) -m pip wheel --no-deps -w $(WHEELS) $$(sed -n 's/ *# sdist only.*//p' docker/gpu-check-requirements.txt)

tiny-coco: ## cut TINY_COCO from DATA_DIR/coco by image IDS (COCO_SPLIT)
	$(HOST_PYTHON) scripts/make_tiny_coco.py --coco $(DATA_DIR)/coco --split $(COCO_SPLIT) --ids $(IDS) --out $(TINY_COCO)

train-%: | $$(LOCAL_DEPS) preflight
	$(RECIPE) train $*

backbone-full: | $$(LOCAL_DEPS) preflight ## step 1: full-precision ARCH from torchvision's weights file
	$(RECIPE) backbone-full $(ARCH)

backbone-low: | $$(LOCAL_DEPS) preflight ## step 2: low-bit backbone QAT on ImageNet (CONFIG=configs/classification/...), after step 1
	$(RECIPE) backbone-low "$(CONFIG)"

export: | $$(LOCAL_DEPS) preflight ## step 3: backbone -> detectron2 names (CONFIG: a low-bit one; else ARCH's full-precision one)
	$(RECIPE) export "$(CONFIG)" --arch $(ARCH)

train-det: | $$(LOCAL_DEPS) preflight ## any detector config: CONFIG, OPTS (output: OUTPUT_DIR/detection/<config name>)
	$(RECIPE) train-det "$(CONFIG)"

eval: | $$(LOCAL_DEPS) preflight ## evaluate a detector: CONFIG, CHECKPOINT (or OPTS="MODEL.WEIGHTS ..."); prints the AP table
	$(RECIPE) eval "$(CONFIG)" "$(CHECKPOINT)"

list-experiments: ## the experiment names (make train-<name>)
	@+MQ_EXPERIMENTS=$(EXPERIMENTS) $(RECIPE_PY) -m model_quantization.recipe list

overall-full:
	@echo "make: overall-full is now train-<experiment>, which also runs the steps it starts from (make list-experiments)" >&2; exit 2

.PHONY: preflight
# checks before any command that runs through RUN (docker, NVIDIA runtime, image; or the local python)
preflight: | $$(LOCAL_DEPS)
	$(PREFLIGHT_CHECKS)
	@mkdir -p $(OUTPUT_DIR)
	$(if $(and $(filter docker,$(RUNNER)),$(filter 0,$(shell id -u))),@chown $(USER_UID):$(USER_GID) $(OUTPUT_DIR))
