"""scripts/slurm_train.sh, the SLURM example: one task per node, each running the make command of
its machine rank. Run here with stand-ins for srun (runs the command once per node, with that
node's SLURM_NODEID, as `srun --ntasks-per-node=1` does) and scontrol, and make -n."""
import os
import re
import subprocess

import pytest
from static_helpers import ROOT, make_env, requires_make, write_executable

pytestmark = requires_make
SCRIPT = os.path.join(ROOT, "scripts", "slurm_train.sh")


@pytest.fixture
def slurm(tmp_path):
    """A PATH with fake srun/scontrol and a two-node allocation's environment."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_executable(bin_dir / "srun", """#!/usr/bin/env bash
while [ "${1#--}" != "$1" ]; do shift; done
for ((i = 0; i < SLURM_NNODES; i++)); do
    echo "== node $i"
    SLURM_NODEID=$i SLURM_PROCID=$i "$@" || exit $?
done
""")
    write_executable(bin_dir / "scontrol", """#!/usr/bin/env bash
[ "$1 $2 $3" = "show hostnames gpu-[07-08]" ] && printf 'gpu-07\\ngpu-08\\n'
""")
    return make_env({"PATH": "%s:%s" % (bin_dir, os.environ["PATH"]), "SLURM_NNODES": "2",
                     "SLURM_JOB_NODELIST": "gpu-[07-08]", "SLURM_SUBMIT_DIR": ROOT})


def _run(env, *args):
    return subprocess.run(["bash", SCRIPT] + list(args), cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)


@pytest.mark.parametrize("runner", ["docker", "local"])
def test_slurm_example_gives_each_node_its_rank(slurm, tmp_path, runner):
    proc = _run(slurm, "-n", "train-fcos-r18-2bit", "RUNNER=%s" % runner,
                "OUTPUT_DIR=%s" % (tmp_path / "out"), "DATA_DIR=%s" % (tmp_path / "data"),
                "WEIGHTS_DIR=%s" % (tmp_path / "weights"), "TAG=t1", "PYTHON=python", "GPUS=all",
                "NUM_GPUS=8", "VENV=%s" % (tmp_path / "venv"))
    assert proc.returncode == 0, proc.stderr
    nodes = re.split(r"^== node (\d+)\n", proc.stdout, flags=re.M)[1:]
    assert [int(n) for n in nodes[::2]] == [0, 1]
    for rank, out in zip((0, 1), nodes[1::2]):
        dets = [line for line in out.splitlines() if "scripts/train_det.py" in line]
        assert len(dets) == 2 and all(
            "--num-machines 2 --machine-rank %d --dist-url tcp://gpu-07:29500 " % rank in line
            for line in dets)
        cls = [line for line in out.splitlines() if "train_classifier.py" in line][0]
        assert "--rdzv_endpoint=gpu-07:29500" in cls and "is_host=%d" % (rank == 0) in cls


def test_slurm_example_port_can_be_changed(slurm, tmp_path):
    env = dict(slurm, MQ_PORT="31000")
    proc = _run(env, "-n", "report", "RUNNER=local", "PYTHON=python",
                "OUTPUT_DIR=%s" % tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = _run(env, "-n", "train-det", "RUNNER=local", "PYTHON=python", "GPUS=all",
                "NUM_GPUS=4", "CONFIG=configs/detection/fcos/R18-FPNBN-fp.yaml",
                "OUTPUT_DIR=%s" % tmp_path, "DATA_DIR=%s" % tmp_path)
    assert proc.stdout.count("--dist-url tcp://gpu-07:31000") == 2, proc.stdout + proc.stderr


def test_slurm_example_without_arguments_prints_its_usage(slurm):
    proc = _run(slurm)
    assert proc.returncode == 2 and "usage: sbatch --nodes=N" in proc.stderr


def test_slurm_example_outside_an_allocation_says_so(slurm):
    env = {k: v for k, v in slurm.items() if k != "SLURM_JOB_NODELIST"}
    proc = _run(env, "report")
    assert proc.returncode != 0 and "not inside a SLURM allocation" in proc.stderr


def test_slurm_example_directives_come_before_any_command():
    lines = open(SCRIPT).read().splitlines()
    first_command = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    directives = [i for i, line in enumerate(lines) if line.startswith("#SBATCH")]
    assert directives and max(directives) < first_command  # sbatch stops reading at a command


def test_slurm_example_takes_the_first_node_of_a_large_allocation(slurm, tmp_path):
    """scontrol lists every node; the script must read the first without failing on the rest."""
    bin_dir = tmp_path / "bin"
    write_executable(bin_dir / "scontrol", """#!/usr/bin/env bash
for ((i = 0; i < 20000; i++)); do printf 'node-%05d\\n' "$i"; done
""")
    write_executable(bin_dir / "srun", """#!/usr/bin/env bash
echo "SRUN $*"
""")
    for _ in range(3):
        proc = _run(dict(slurm, SLURM_NNODES="20000"), "report")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.rstrip().endswith("report DIST_URL=node-00000:29500"), proc.stdout
