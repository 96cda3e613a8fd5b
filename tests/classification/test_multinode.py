"""Two "machines" on this one, over loopback: the classifier step as the Makefile launches it for
NUM_MACHINES=2 (torchrun, c10d rendezvous at DIST_URL, machine 0 hosting it), two CPU processes
per machine with Gloo. The replicas must agree after training, and the folder the job held after
its first epoch, resumed by a second two-machine launch, must end exactly where the uninterrupted
job did.

Each launch's torchrun options are taken from ``make -n backbone-low`` for that machine's rank,
so the test runs the Makefile's command line, not one of its own."""
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time

import pytest
import torch

from model_quantization.checkpoint import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "multinode_worker.py")
CONFIG = ("epochs: 2\nbatch_size: 8\nworkers: 0\nprogress: false\ndevice: cpu\nprint_freq: 1\n"
          "optimizer: {lr: 0.01}\ndata: {image_size: 16, val_resize: 16}\n"
          "quantization: {weight: {method: lsq, bits: 2}, activation: {method: lsq, bits: 2},\n"
          "  overrides: {conv1: {weight: {method: lsq, bits: 8}, activation: null}}}\n")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make"),
              pytest.mark.skipif(not torch.distributed.is_available(),
                                 reason="this torch has no torch.distributed"),
              # Measured on the legacy stack (torch 1.10.2, CPU): this 2-bit network from random
              # weights diverges there (training loss NaN at epoch 2, iteration 0), so the
              # replicas cannot be compared; the same launch lines run there (make -n tests).
              pytest.mark.skipif(tuple(int(v) for v in torch.__version__.split(".")[:2]) < (1, 12),
                                 reason="on torch < 1.12 this 2-bit config diverges (NaN loss); "
                                        "run it on the current stack: make test")]


def _free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _launcher(rank, port, tmp_path):
    """The torchrun options `make -n backbone-low` gives machine ``rank`` of two (RUNNER=local)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "NUM_GPUS", "NUM_MACHINES",
                        "MACHINE_RANK", "DIST_URL", "GPUS", "RUNNER", "PYTHON")}
    out = subprocess.run(
        ["make", "--no-print-directory", "-n", "backbone-low", "RUNNER=local", "PYTHON=python",
         "CONFIG=configs/classification/smoke_resnet18_fp.yaml", "VENV=%s" % (tmp_path / "venv"),
         "OUTPUT_DIR=%s" % (tmp_path / "make-out"), "DATA_DIR=%s" % (tmp_path / "make-data"),
         "GPUS=none", "NUM_GPUS=2", "NUM_MACHINES=2", "MACHINE_RANK=%d" % rank,
         "DIST_URL=127.0.0.1:%d" % port],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, check=True).stdout
    line = [x for x in out.splitlines() if "scripts/train_classifier.py" in x][0]
    match = re.match(r"^python (-m torch\.distributed\.run .*?) scripts/train_classifier\.py", line)
    assert match, line
    return shlex.split(match.group(1))


def _two_machines(tmp_path, name, args, snapshot=None):
    """Start machine 1 then machine 0 (each: torchrun, 2 processes); wait for both; return each
    replica's final state by global rank. ``snapshot``: (epoch, folder) for the worker."""
    port = _free_port()
    replicas = tmp_path / ("replicas-" + name)
    replicas.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1", MQ_REPLICA_DIR=str(replicas),
               PYTHONPATH=os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")]
                                                     if p]))
    if snapshot is not None:
        env.update(MQ_SNAPSHOT_EPOCH=str(snapshot[0]), MQ_SNAPSHOT_DIR=str(snapshot[1]))
    procs = []
    for rank in (1, 0):  # the other machine may come first: it waits for machine 0's store
        cmd = [sys.executable] + _launcher(rank, port, tmp_path) + [WORKER] + args
        log = open(str(tmp_path / ("{}-machine{}.log".format(name, rank))), "w")
        procs.append((rank, log, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                                                  stderr=subprocess.STDOUT)))
    try:
        for rank, log, proc in procs:
            code = proc.wait(timeout=240)
            log.close()
            assert code == 0, "machine {} failed:\n{}".format(rank, open(log.name).read()[-4000:])
    finally:
        for _, _, proc in procs:
            if proc.poll() is None:
                proc.kill()
    return {int(re.search(r"\d+", p.name).group()): torch.load(str(p), map_location="cpu")
            for p in replicas.iterdir()}


# running BatchNorm statistics are each replica's own (DDP broadcasts rank 0's at every forward,
# then the forward updates them from the local batch); everything else must be identical
LOCAL = ("running_mean", "running_var")


def _differ(a, b):
    assert a.keys() == b.keys()
    return [k for k in a if not k.endswith(LOCAL) and not torch.equal(a[k], b[k])]


def test_two_machines_replicas_agree_and_resume_across_them(tiny_folder, tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text(CONFIG)
    common = ["--config", str(config), "--data", str(tiny_folder)]
    started = time.time()

    # the job: 2 epochs; the folder it held after epoch 1 is kept as b/ (a preempted job's)
    straight = _two_machines(tmp_path, "straight", common + ["--output", str(tmp_path / "a")],
                             snapshot=(1, tmp_path / "b"))
    assert sorted(straight) == [0, 1, 2, 3]  # world of 4: 2 machines x 2 processes
    assert "4 process(es)" in (tmp_path / "a" / "train.log").read_text()
    final = load_checkpoint(tmp_path / "a" / "last.pth")
    assert final["epoch"] == 2
    assert all(torch.isfinite(v).all() for k, v in final["model"].items()
               if v.is_floating_point() and not k.endswith(LOCAL))
    for rank in (1, 2, 3):
        differ = _differ(straight[0], straight[rank])
        assert not differ, "replica {} differs from replica 0 in {}".format(rank, differ[:5])
    # rank 0's checkpoint holds the trained replica (written after its evaluation, whose forwards
    # only advance the quantizers' call counters)
    saved = {k: v for k, v in final["model"].items() if not k.endswith(".iteration")}
    assert not _differ({k: straight[0][k] for k in saved}, saved)

    # a second two-machine launch resumes b/ (epoch 1) and must end where the job did
    assert load_checkpoint(tmp_path / "b" / "last.pth")["epoch"] == 1
    resumed = _two_machines(tmp_path, "resume", common + ["--output", str(tmp_path / "b"),
                                                          "--resume"])
    again = load_checkpoint(tmp_path / "b" / "last.pth")
    assert again["epoch"] == 2
    for rank in (1, 2, 3):
        assert not _differ(resumed[0], resumed[rank]), rank
    # Equal up to float round-off, not bit for bit: the resumed launch's DDP sums its first step's
    # gradients in its initial bucket layout (it rebuilds the buckets after that step, as the
    # uninterrupted job did in epoch 1), so a few sums are added in another order (last bit).
    far = [k for k in final["model"] if not torch.allclose(
        final["model"][k].double(), again["model"][k].double(), rtol=1e-5, atol=1e-6)]
    assert not far, "the resumed job ends elsewhere: {}".format(far[:5])
    assert [r["epoch"] for r in again["history"]] == [1, 2]
    assert again["history"][0] == final["history"][0]  # epoch 1 is the job's own, carried over
    assert again["history"][1]["train_loss"] == pytest.approx(final["history"][1]["train_loss"],
                                                              rel=1e-4)
    print("two-machine loopback: 2 launches in {:.1f} s".format(time.time() - started))
