#!/usr/bin/env bash
# A recipe step on several machines under SLURM: one task per node, each running the same make
# command with its own MACHINE_RANK (SLURM_NODEID); the allocation's first node is machine 0 and
# hosts the rendezvous (DIST_URL, port MQ_PORT, default 29500).
#
#   sbatch --nodes=2 --gpus-per-node=8 scripts/slurm_train.sh train-fcos-r18-2bit \
#       DATA_DIR=/shared/data WEIGHTS_DIR=/shared/weights OUTPUT_DIR=/shared/output
#
# The arguments go to make as given (a target, VARIABLE=value ...; a leading -n prints the commands
# of every node without running them). OUTPUT_DIR must be one folder that every node shares.
#SBATCH --job-name=qat-det
#SBATCH --ntasks-per-node=1
#SBATCH --exclusive
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: sbatch --nodes=N [--gpus-per-node=G] $0 TARGET [VARIABLE=value ...]" >&2
    exit 2
fi
: "${SLURM_JOB_NODELIST:?not inside a SLURM allocation: submit with sbatch or run under salloc}"
# (sed, not head: head would stop reading, and pipefail would fail on scontrol's SIGPIPE)
head_node=$(scontrol show hostnames "${SLURM_JOB_NODELIST}" | sed -n 1p)
cd "${SLURM_SUBMIT_DIR:-.}"
# Single quotes: each node's task expands SLURM_NNODES and SLURM_NODEID itself.
# shellcheck disable=SC2016
srun --ntasks-per-node=1 --kill-on-bad-exit=1 bash -c \
    'exec make "$@" NUM_MACHINES="${SLURM_NNODES}" MACHINE_RANK="${SLURM_NODEID}"' \
    make "$@" DIST_URL="${head_node}:${MQ_PORT:-29500}"
