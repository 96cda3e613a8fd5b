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
HELP_CONFIG = config file for train-det, eval, overall-full (detector) or backbone-low, export (classifier)
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
EXPERIMENTS_MK ?= configs/experiments.mk
HELP_EXPERIMENTS_MK = make fragment defining the experiments (generated from configs/experiments.yaml)
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
	BUILD_ARGS PYTEST_ARGS SMOKE_ARGS USER_UID USER_GID SHM_SIZE DOCKER DOCKER_ARGS DOCKER_NETWORK EXPERIMENTS_MK \
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
# a whole number >= 0 (one word of digits)
strip_digits = $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst 7,,$(subst 8,,$(subst 9,,$(1)))))))))))
is_uint = $(and $(filter 1,$(words $(1))),$(if $(call strip_digits,$(1)),,yes))
# Several machines: NUM_MACHINES, MACHINE_RANK, DIST_URL (host:port, or tcp://host:port)
ifeq ($(and $(call is_uint,$(NUM_MACHINES)),$(filter-out 0,$(NUM_MACHINES))),)
$(error NUM_MACHINES=$(NUM_MACHINES) is not a number of machines; use NUM_MACHINES=1 (this machine alone) or the machine count of the job, e.g. NUM_MACHINES=2)
endif
ifeq ($(call is_uint,$(MACHINE_RANK)),)
$(error MACHINE_RANK=$(MACHINE_RANK) is not a machine rank; give each machine its rank 0..$(shell echo $$(($(NUM_MACHINES) - 1))), e.g. MACHINE_RANK=$$SLURM_NODEID)
endif
ifeq ($(if $(filter 0,$(MACHINE_RANK)),ok,$(shell [ $(MACHINE_RANK) -lt $(NUM_MACHINES) ] && echo ok)),)
$(error MACHINE_RANK=$(MACHINE_RANK) is not below NUM_MACHINES=$(NUM_MACHINES); give each machine its rank 0..$(shell echo $$(($(NUM_MACHINES) - 1))), e.g. MACHINE_RANK=$$SLURM_NODEID)
endif
MULTI_MACHINE := $(filter-out 1,$(NUM_MACHINES))
DIST_HOSTPORT := $(patsubst tcp://%,%,$(strip $(DIST_URL)))
DIST_PORT := $(if $(findstring :,$(DIST_HOSTPORT)),$(lastword $(subst :, ,$(DIST_HOSTPORT))))
DIST_HOST := $(patsubst %:$(DIST_PORT),%,$(DIST_HOSTPORT))
ifneq ($(MULTI_MACHINE),)
ifeq ($(DIST_URL),)
$(error DIST_URL is empty but NUM_MACHINES=$(NUM_MACHINES); pass the rendezvous address of machine 0, e.g. DIST_URL=node0:29500 (the same on every machine))
endif
ifeq ($(and $(call is_uint,$(DIST_PORT)),$(shell [ 0$(DIST_PORT) -ge 1 ] && [ 0$(DIST_PORT) -le 65535 ] && echo ok),$(DIST_HOST),$(filter 1,$(words $(DIST_HOSTPORT)))),)
$(error DIST_URL=$(DIST_URL) is not host:port; use machine 0's address and a free port, e.g. DIST_URL=$(or $(firstword $(subst :, ,$(DIST_HOSTPORT))),node0):29500)
endif
endif
ifneq ($(origin NUM_GPUS),file)
ifeq ($(or $(filter auto,$(NUM_GPUS)),$(call is_uint,$(NUM_GPUS))),)
$(error NUM_GPUS=$(NUM_GPUS) is not a process count; use NUM_GPUS=8 (GPUs per machine), NUM_GPUS=0 (CPU) or NUM_GPUS=auto (every GPU the step sees))
endif
endif
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

ARCHS := resnet18 resnet34 resnet50
TV_WEIGHTS_resnet18 := resnet18-f37072fd.pth
TV_WEIGHTS_resnet34 := resnet34-b627a593.pth
TV_WEIGHTS_resnet50 := resnet50-0676ba61.pth

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

# host path -> the path the command sees (mounted folders are remapped under docker)
to_run_path = $(if $(filter docker,$(RUNNER)),$(strip \
	$(patsubst $(abspath $(OUTPUT_DIR))%,$(C_OUT)%,\
	$(patsubst $(abspath $(WEIGHTS_DIR))%,$(C_WEIGHTS)%,\
	$(patsubst $(abspath $(DATA_DIR))%,$(C_DATA)%,$(abspath $(1)))))),$(1))
# a path as written in configs/experiments.mk -> the host file: output/... lives in OUTPUT_DIR, a
# detectron2:// model-zoo name is a file in WEIGHTS_DIR (never downloaded)
host_file = $(if $(filter output/%,$(1)),$(patsubst output/%,$(OUTPUT_DIR)/%,$(1)),$(if $(filter detectron2://%,$(1)),$(WEIGHTS_DIR)/$(notdir $(1)),$(1)))
name_of = $(basename $(notdir $(1)))
# the backbone of a classification config: NAME_ARCH of an experiment using it, else its name's prefix
arch_of_cls = $(or $(CLS_ARCH_$(1)),$(firstword $(subst _, ,$(1))))

# Checks run when make expands a recipe (just before it runs) or parses a goal; a failure is one line
# ("Makefile:N: *** <problem>: <fix>.  Stop."). Under make -n they are skipped, so -n always shows.
fail = $(if $(DRY_RUN),,$(error $(1)))
need_dir = $(if $(wildcard $(1)/.),,$(call fail,$(1) not found: $(2)))
need_file = $(if $(wildcard $(1)),,$(call fail,$(1) not found: $(2)))
need_var = $(if $($(1)),,$(call fail,$(1) is empty: $(2)))
# under docker, commands see only configs/ and the mounted folders
need_config_inside = $(if $(filter docker,$(RUNNER)),$(if $(filter configs/%,$(patsubst $(CURDIR)/%,%,$(abspath $(1)))),,$(call fail,CONFIG=$(1) is outside configs/: the container sees only the project's configs/ folder (mounted); put it there or use RUNNER=local)))
need_mounted = $(if $(filter docker,$(RUNNER)),$(if $(filter /outputs/% /weights/% /data/%,$(call to_run_path,$(1))),,$(call fail,$(2)=$(1) is outside OUTPUT_DIR$(comma) WEIGHTS_DIR and DATA_DIR$(comma) the folders the container sees: move it there or set one of them)))
NEED_COCO = $(call need_dir,$(DATA_DIR)/coco,set DATA_DIR to the folder holding coco/{train2017$(comma)val2017$(comma)annotations})
NEED_IMAGENET = $(call need_dir,$(DATA_DIR)/imagenet,set DATA_DIR to the folder holding imagenet/{train$(comma)val})

# ---------------------------------------------------------------------------------------------------------
# Launching a training step on NUM_GPUS processes of NUM_MACHINES machines. One machine: exactly the
# single-machine commands (train_det.py --num-gpus N; torchrun --standalone when N > 1). Several: detectron2's
# launcher flags for the detector, torchrun's c10d rendezvous at DIST_URL for the classifier (machine 0 hosts
# its store: is_host, not a guess from the host name).
DET_LAUNCH = --num-gpus $(NUM_GPUS)$(if $(MULTI_MACHINE), --num-machines $(NUM_MACHINES) --machine-rank $(MACHINE_RANK) --dist-url tcp://$(DIST_HOSTPORT))
# torchrun's processes per machine: auto -> gpu (torchrun counts them), CPU (0) -> 1
NPROC = $(if $(filter auto,$(NUM_GPUS)),gpu,$(if $(filter 0,$(NUM_GPUS)),1,$(NUM_GPUS)))
# $(1): the rendezvous id, the same on every machine (the run's name)
cls_launch = $(if $(MULTI_MACHINE),-m torch.distributed.run --nnodes=$(NUM_MACHINES) --nproc_per_node=$(NPROC) $\
	--rdzv_backend=c10d --rdzv_endpoint=$(DIST_HOSTPORT) --rdzv_id=$(1) --rdzv_conf=is_host=$(if $(filter 0,$(MACHINE_RANK)),1,0) ,$\
	$(if $(filter-out 0 1,$(NUM_GPUS)),-m torch.distributed.run --standalone --nproc_per_node=$(NPROC) ))
# Single-process steps (backbone-full, export) run on machine 0; the others wait for the file it writes,
# which they see only if OUTPUT_DIR is one folder shared by every machine.
OTHER_MACHINE := $(and $(MULTI_MACHINE),$(filter-out 0,$(MACHINE_RANK)))
wait_for_machine0 = @echo "machine $(MACHINE_RANK) of $(NUM_MACHINES): waiting for $(1) (machine 0 writes it)"; $\
	for i in $$(seq $(MACHINE_WAIT)); do [ -f $(1) ] && exit 0; sleep 1; done; $\
	echo "make: $(1) did not appear in $(MACHINE_WAIT) s: machine 0 writes it$(comma) so OUTPUT_DIR must be one folder every machine shares (or raise MACHINE_WAIT)" >&2; exit 1

# ---------------------------------------------------------------------------------------------------------
# Experiments: configs/experiments.mk defines, per NAME in EXPERIMENTS (and EXPERIMENT_ALIASES):
# NAME_CONFIG, NAME_INIT, NAME_FP_DETECTOR, NAME_CLS_CONFIG, NAME_ARCH, NAME_WEIGHTS, NAME_EXTRA_WEIGHTS,
# NAME_OUTPUT. Each detector run is a file target ($(OUTPUT_DIR)/detection/NAME/model_final.pth) whose
# prerequisites are the files it starts from, so `make train-NAME` runs only the steps not yet done.
-include $(EXPERIMENTS_MK)
EXPERIMENTS ?=
EXPERIMENT_ALIASES ?=
exp_file = $(call host_file,$($(1)_OUTPUT))/model_final.pth
$(foreach e,$(EXPERIMENTS),$(if $(and $($(e)_CLS_CONFIG),$($(e)_ARCH)),$(eval CLS_ARCH_$(call name_of,$($(e)_CLS_CONFIG)) := $($(e)_ARCH))))
exp_of_config = $(firstword $(foreach e,$(EXPERIMENTS),$(if $(filter $(1),$($(e)_CONFIG)),$(e))))

define EXPERIMENT_RULE
$(call exp_file,$(1)): $(call host_file,$($(1)_WEIGHTS)) $(if $($(1)_EXTRA_WEIGHTS),$(call host_file,$($(1)_EXTRA_WEIGHTS))) | $$(LOCAL_DEPS) preflight
	$$(NEED_COCO)
	$$(RUN)$$(PY) scripts/train_det.py --config-file $($(1)_CONFIG) $$(DET_LAUNCH) --data-dir $$(C_DATA) MODEL.WEIGHTS $$(call to_run_path,$(call host_file,$($(1)_WEIGHTS)))$(if $($(1)_EXTRA_WEIGHTS), MODEL.EXTRA_WEIGHTS $$(call to_run_path,$(call host_file,$($(1)_EXTRA_WEIGHTS)))) OUTPUT_DIR $$(call to_run_path,$(call host_file,$($(1)_OUTPUT))) $$(OPTS)
endef
$(foreach e,$(EXPERIMENTS),$(eval $(call EXPERIMENT_RULE,$(e))))
TRAIN_TARGETS := $(addprefix train-,$(EXPERIMENTS) $(EXPERIMENT_ALIASES))
$(foreach e,$(EXPERIMENTS) $(EXPERIMENT_ALIASES),$(eval train-$(e): $(call exp_file,$(e))))
.PHONY: $(TRAIN_TARGETS)

# Inputs are checked up front for the goals that need them (not hours later, when the step starts)
ifneq ($(filter eval train-det backbone-low overall-full,$(MAKECMDGOALS)),)
$(call need_var,CONFIG,pass CONFIG=<config file> (make help))
$(call need_file,$(CONFIG),CONFIG names no file; see configs/)
endif
ifneq ($(filter eval train-det,$(MAKECMDGOALS)),)
$(call need_config_inside,$(CONFIG))
endif
ifneq ($(and $(filter eval,$(MAKECMDGOALS)),$(if $(CHECKPOINT)$(findstring MODEL.WEIGHTS,$(OPTS)),,none)),)
$(call fail,CHECKPOINT is empty: pass the trained detector to evaluate$(comma) the model_final.pth its training wrote (make train-det: CHECKPOINT=$(OUTPUT_DIR)/detection/$(call name_of,$(CONFIG))/model_final.pth; make smoke: $(OUTPUT_DIR)/smoke/det/<name>/); the config's MODEL.WEIGHTS is only the backbone training starts from)
endif
ifneq ($(and $(filter export backbone-low,$(MAKECMDGOALS)),$(CONFIG)),)
$(call need_file,$(CONFIG),CONFIG names no file; low-bit backbone configs are configs/classification/resnetNN_*.yaml)
$(if $(filter configs/classification/%,$(patsubst $(CURDIR)/%,%,$(abspath $(CONFIG)))),,$(call fail,CONFIG=$(CONFIG) is not a classification config: export and backbone-low take configs/classification/resnetNN_*.yaml (or export with no CONFIG and ARCH=resnet18 for the full-precision backbone)))
$(if $(filter $(call arch_of_cls,$(call name_of,$(CONFIG))),$(ARCHS)),,$(call fail,CONFIG=$(CONFIG): make tells a backbone config's ResNet from its name$(comma) which must start with resnet18_$(comma) resnet34_ or resnet50_ (like configs/classification/resnet18_dorefa_w2a2.yaml)))
endif
ifneq ($(and $(filter eval,$(MAKECMDGOALS)),$(CHECKPOINT)),)
$(call need_file,$(CHECKPOINT),CHECKPOINT names no file)
$(call need_mounted,$(CHECKPOINT),CHECKPOINT)
endif
ifneq ($(and $(filter smoke,$(MAKECMDGOALS)),$(TINY_COCO)),)
$(call need_dir,$(TINY_COCO),set TINY_COCO to a folder with images/ and annotations/instances_*.json$(comma) or leave it empty for the built-in set)
endif
ifneq ($(filter tiny-coco,$(MAKECMDGOALS)),)
$(call need_var,IDS,pass the image ids$(comma) e.g. IDS="139 285 632")
$(call need_var,TINY_COCO,pass the folder to write$(comma) e.g. TINY_COCO=data/tiny_coco)
$(call need_dir,$(DATA_DIR)/coco,set DATA_DIR to the folder holding coco/)
endif
# (eval and train-det of a config on the small COCO folder, e.g. the smoke's, need TINY_COCO instead)
SMALL_COCO_CONFIG := $(if $(CONFIG),$(shell grep -ls "tiny_coco_" $(CONFIG)))
ifneq ($(filter $(TRAIN_TARGETS) overall-full,$(MAKECMDGOALS))$(if $(SMALL_COCO_CONFIG),,$(filter train-det eval,$(MAKECMDGOALS))),)
$(NEED_COCO)
endif
ifneq ($(and $(filter train-det eval,$(MAKECMDGOALS)),$(SMALL_COCO_CONFIG)),)
$(call need_dir,$(TINY_COCO),$(CONFIG) trains or evaluates on the small COCO folder: set TINY_COCO to it)
endif
needs_imagenet = $(and $($(1)_CLS_CONFIG),$(if $(wildcard $(call host_file,$($(1)_WEIGHTS))),,$(if $(wildcard $(OUTPUT_DIR)/backbone_low/$(call name_of,$($(1)_CLS_CONFIG))/model_best.pth),,yes)))
ifneq ($(filter backbone-low,$(MAKECMDGOALS))$(foreach e,$(patsubst train-%,%,$(filter $(TRAIN_TARGETS),$(MAKECMDGOALS))),$(call needs_imagenet,$(e))),)
$(NEED_IMAGENET)
endif

# ---------------------------------------------------------------------------------------------------------
# Recipe steps as file rules
# 1. full-precision backbone from torchvision's weights file
$(OUTPUT_DIR)/backbone_full/%/model_best.pth: | $$(LOCAL_DEPS) preflight
ifneq ($(OTHER_MACHINE),)
	$(call wait_for_machine0,$@)
else
	$(if $(filter $*,$(ARCHS)),,$(call fail,unknown backbone '$*': use ARCH=resnet18$(comma) resnet34 or resnet50))
	$(call need_file,$(WEIGHTS_DIR)/$(TV_WEIGHTS_$*),put torchvision's $(TV_WEIGHTS_$*) in WEIGHTS_DIR)
	$(RUN)$(PY) scripts/backbone_full.py --arch $* --weights $(call to_run_path,$(WEIGHTS_DIR)/$(TV_WEIGHTS_$*)) --output $(call to_run_path,$(@D))
endif
# 2. low-bit backbone: QAT finetuning on ImageNet of configs/classification/<name>.yaml (on every machine)
$(OUTPUT_DIR)/backbone_low/%/model_best.pth: $(OUTPUT_DIR)/backbone_full/$$(call arch_of_cls,$$*)/model_best.pth | $$(LOCAL_DEPS) preflight
	$(call need_file,configs/classification/$*.yaml,no classification config of that name; see configs/classification/)
	$(NEED_IMAGENET)
	$(RUN)$(PY) $(call cls_launch,backbone_low-$*)scripts/train_classifier.py --config configs/classification/$*.yaml --data $(C_DATA)/imagenet --output $(call to_run_path,$(@D)) --init $(call to_run_path,$<)$(if $(CLS_OPTS), --opts $(CLS_OPTS))
# 3. export to detectron2 names: the full-precision backbone, and each low-bit one
$(OUTPUT_DIR)/backbones/torch-r%-fp/model_d2.pth: $(OUTPUT_DIR)/backbone_full/resnet%/model_best.pth | $$(LOCAL_DEPS) preflight
ifneq ($(OTHER_MACHINE),)
	$(call wait_for_machine0,$@)
else
	$(RUN)$(PY) scripts/export_detectron2.py --input $(call to_run_path,$<) --output $(call to_run_path,$@) --arch resnet$*
endif
$(OUTPUT_DIR)/backbones/%/model_d2.pth: $(OUTPUT_DIR)/backbone_low/%/model_best.pth | $$(LOCAL_DEPS) preflight
ifneq ($(OTHER_MACHINE),)
	$(call wait_for_machine0,$@)
else
	$(RUN)$(PY) scripts/export_detectron2.py --input $(call to_run_path,$<) --output $(call to_run_path,$@) --arch $(call arch_of_cls,$*)
endif
# weights that only a person can provide
$(WEIGHTS_DIR)/%:
	$(call fail,$@ not found: put it in WEIGHTS_DIR (nothing is downloaded; README: Data and weights layout))

# ---------------------------------------------------------------------------------------------------------
# Targets
.PHONY: help image image-check setup shell test smoke eval report check check-submodules wire install-forks tiny-coco \
	backbone-full backbone-low export overall-full train-det list-experiments gpu-check gpu-wheels

help: ## list targets and variables (this text)
	@echo "Usage: make <target> [VARIABLE=value ...]   (make -n <target> shows the commands)"
	@echo ""
	@echo "Targets:"
	@awk -F ':.*## ' '/^[a-z][a-z0-9-]*:.*## /{printf "  %-18s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))
	@echo "  train-<experiment> one per row of configs/experiments.yaml; its steps chained as file dependencies:"
	@$(foreach t,$(TRAIN_TARGETS),echo "    $(t)";)
	@$(if $(EXPERIMENTS),true,echo "    (none: $(EXPERIMENTS_MK) is missing; python scripts/gen_experiments_mk.py writes it)")
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

eval: | $$(LOCAL_DEPS) preflight ## evaluate a detector: CONFIG, CHECKPOINT (or OPTS="MODEL.WEIGHTS ..."); prints the AP table
	$(RUN)$(PY) scripts/train_det.py --config-file $(CONFIG) --eval-only $(DET_LAUNCH) --data-dir $(C_DATA)$(if $(CHECKPOINT), MODEL.WEIGHTS $(call to_run_path,$(CHECKPOINT))) OUTPUT_DIR $(C_OUT)/eval/$(call name_of,$(CONFIG)) $(OPTS)

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

backbone-full: $(OUTPUT_DIR)/backbone_full/$(ARCH)/model_best.pth ## step 1: full-precision ARCH from torchvision's weights file

backbone-low: $$(if $$(CONFIG),$(OUTPUT_DIR)/backbone_low/$$(call name_of,$$(CONFIG))/model_best.pth,need-config) ## step 2: low-bit backbone QAT on ImageNet (CONFIG=configs/classification/...)

export: $$(if $$(CONFIG),$(OUTPUT_DIR)/backbones/$$(call name_of,$$(CONFIG))/model_d2.pth,$(OUTPUT_DIR)/backbones/torch-r$$(patsubst resnet%,%,$(ARCH))-fp/model_d2.pth) ## step 3: backbone -> detectron2 names (CONFIG: a low-bit one; else ARCH's full-precision one)

overall-full: $$(if $$(call exp_of_config,$$(CONFIG)),$$(call exp_file,$$(call exp_of_config,$$(CONFIG))),unknown-config) ## step 4: a detector of the experiment table by CONFIG (and the steps it needs)

train-det: | $$(LOCAL_DEPS) preflight ## any detector run: CONFIG, OPTS (output: OUTPUT_DIR/detection/<config name>)
	$(RUN)$(PY) scripts/train_det.py --config-file $(CONFIG) $(DET_LAUNCH) --data-dir $(C_DATA) OUTPUT_DIR $(C_OUT)/detection/$(call name_of,$(CONFIG)) $(OPTS)

list-experiments: ## the experiment names (make train-<name>)
	@$(foreach e,$(EXPERIMENTS) $(EXPERIMENT_ALIASES),echo "$(e)";)

.PHONY: preflight need-config unknown-config
# checks before any command that runs through RUN (docker, NVIDIA runtime, image; or the local python)
preflight: | $$(LOCAL_DEPS)
	$(PREFLIGHT_CHECKS)
	@mkdir -p $(OUTPUT_DIR)
	$(if $(and $(filter docker,$(RUNNER)),$(filter 0,$(shell id -u))),@chown $(USER_UID):$(USER_GID) $(OUTPUT_DIR))

need-config:
	$(call fail,CONFIG is empty: pass CONFIG=configs/classification/<name>.yaml)
unknown-config:
	$(call fail,CONFIG=$(CONFIG) is not the config of any experiment in $(EXPERIMENTS_MK): use train-det for other configs)

train-%:
	$(call fail,unknown experiment '$*': make list-experiments shows them (configs/experiments.yaml -> $(EXPERIMENTS_MK) via python scripts/gen_experiments_mk.py))
