"""The Makefile: help, `make -n` of every target in both runners, the train-<experiment> chains."""

import os
import re
import subprocess
import time

import pytest
import yaml
from static_helpers import ROOT, make, make_env, requires_make, write_executable

pytestmark = requires_make

# a 2-bit double-init row of configs/experiments.yaml, its alias, and the FP detector it starts from
LOW, ALIAS, FP = "fcos-r18-fpnbn-dorefa-w2a2-all", "fcos-r18-2bit", "fcos-r18-fpnbn-fp"
CLS_CONFIG = "configs/classification/resnet18_dorefa_w2a2.yaml"
FP_CONFIG = "configs/detection/fcos/R18-FPNBN-fp.yaml"
# helper targets that are not user commands (checks; the old name that points to the new one)
INTERNAL = {"preflight", "overall-full"}

# target -> (extra variables, a piece of the command it must echo)
TARGETS = {
    "help": ({}, "Usage: make"),
    "image": ({}, "docker build --build-arg FLAVOR=current"),
    "image-check": ({}, "scripts/smoke.py --output"),
    "shell": ({}, "bash"),
    "test": ({}, "-m pytest"),
    "smoke": ({}, "scripts/smoke.py --output"),
    "eval": ({"CONFIG": FP_CONFIG},
             "scripts/train_det.py --config-file %s --eval-only" % FP_CONFIG),
    "report": ({}, "scripts/report.py --runs"),
    "check-submodules": ({}, "scripts/check_submodules.py"),
    "check": ({}, "-m model_quantization.detection.check_install"),
    "wire": ({}, "docker/install.sh wire"),
    "install-forks": ({}, "docker/install.sh forks wire"),
    "tiny-coco": ({"IDS": "139 285"}, "scripts/make_tiny_coco.py --coco"),
    "backbone-full": ({}, "scripts/backbone_full.py --arch resnet18"),
    "backbone-low": ({"CONFIG": CLS_CONFIG},
                     "scripts/train_classifier.py --config %s" % CLS_CONFIG),
    "export": ({}, "scripts/export_detectron2.py --input"),
    "train-det": ({"CONFIG": FP_CONFIG}, "scripts/train_det.py --config-file %s" % FP_CONFIG),
    "train-" + LOW: ({}, "MODEL.EXTRA_WEIGHTS"),
    "train-" + ALIAS: ({}, "OUTPUT_DIR"),
    "list-experiments": ({}, ALIAS),
    "setup": ({}, "-m venv"),
    "gpu-check": ({}, "scripts/gpu_check.py --output"),
    "gpu-wheels": ({"WHEELS": "wheels"},
                   "pip download --only-binary=:all: --no-deps --python-version 3.12"),
}


def _vars(tmp_path, runner, **extra):
    values = {"RUNNER": runner, "OUTPUT_DIR": str(tmp_path / "out"),
              "DATA_DIR": str(tmp_path / "data"), "WEIGHTS_DIR": str(tmp_path / "weights"),
              "TAG": "t1", "PYTHON": "python",
              "VENV": str(tmp_path / "venv")}  # never the checkout's own (maybe set-up) .venv
    values.update(extra)
    return ["%s=%s" % item for item in values.items()]


def _declared_targets():
    targets = set()
    for line in open(os.path.join(ROOT, "Makefile")):
        match = re.match(r"^([a-z][a-z0-9-]*)\s*:(?!=)", line)
        if match:
            targets.add(match.group(1))
    return targets - INTERNAL


def test_makefile_help_is_the_default_goal():
    default, explicit = make(), make("help")
    assert default.returncode == 0 and default.stdout == explicit.stdout
    assert "Targets:" in default.stdout and "Variables" in default.stdout


def test_makefile_help_lists_every_target_and_experiment():
    out = make("help").stdout
    listed = set(re.findall(r"^\s+([a-z][a-z0-9-]*)\s", out + "\n", re.M))
    assert _declared_targets() <= listed, _declared_targets() - listed
    for name in _real_experiments():
        assert "train-" + name in listed


def test_makefile_help_lists_the_user_variables():
    out = make("help").stdout
    for var in ("FLAVOR", "IMAGE", "TAG", "GPUS", "DATA_DIR", "WEIGHTS_DIR", "OUTPUT_DIR", "CONFIG",
                "OPTS", "TINY_COCO", "RUNNER"):
        assert re.search(r"^\s+%s\s" % var, out, re.M), var


def test_makefile_every_declared_target_has_a_dry_run_case():
    assert _declared_targets() <= set(TARGETS)


@pytest.mark.parametrize("runner", ["docker", "local"])
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_makefile_dry_run_echoes_the_command(tmp_path, target, runner):
    extra, expected = TARGETS[target]
    proc = make("-n", target, *_vars(tmp_path, runner, **extra))
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout
    runs = [line for line in proc.stdout.splitlines() if line.startswith("docker run")]
    if runner == "local" and target != "image-check":  # image-check is the image's, always
        assert not runs
    elif target not in ("help", "image", "wire", "install-forks", "tiny-coco", "check-submodules",
                        "list-experiments", "setup", "gpu-wheels"):
        assert runs and all(" qat-detection:t1 " in line for line in runs)


@pytest.mark.parametrize("target", ["test", "check"])
def test_makefile_local_runs_exactly_the_docker_command(tmp_path, target):
    docker = make("-n", target, *_vars(tmp_path, "docker")).stdout.splitlines()
    local = make("-n", target, *_vars(tmp_path, "local")).stdout.splitlines()
    marker = " qat-detection:t1 "
    in_image = [line.split(marker, 1)[1] for line in docker if marker in line]
    assert in_image and in_image[-1] == local[-1]


def test_makefile_docker_mounts_outputs_and_sets_user(tmp_path):
    line = make("-n", "report", *_vars(tmp_path, "docker", USER_UID="1234", USER_GID="99")).stdout
    assert "-v %s:/outputs" % (tmp_path / "out") in line
    assert "--user 1234:99" in line
    assert "scripts/report.py --runs /outputs --out /outputs/report" in line


@pytest.mark.parametrize("gpus,flag", [
    ("all", "--gpus all"), ("none", None), ("device=0,1", "--gpus '\"device=0,1\"'"),
    ("2", "--gpus 2")])
def test_makefile_gpus_becomes_the_docker_gpus_flag(tmp_path, gpus, flag):
    out = make("-n", "test", *_vars(tmp_path, "docker", GPUS=gpus)).stdout
    run = [line for line in out.splitlines() if line.startswith("docker run")][0]
    if flag is None:
        assert "--gpus" not in run
    else:
        assert flag in run


def _commands(stdout):
    return [line for line in stdout.splitlines() if "scripts/" in line]


def test_makefile_train_chains_every_step_in_order(tmp_path):
    out = make("-n", "train-" + LOW, *_vars(tmp_path, "local")).stdout
    steps = [re.search(r"scripts/(\w+)\.py", line).group(1) for line in _commands(out)]
    assert steps[:2] == ["backbone_full", "train_classifier"]
    assert steps[2:4] == ["export_detectron2", "export_detectron2"]
    assert steps[4:] == ["train_det", "train_det"]
    fp, low = _commands(out)[4:]
    assert "OUTPUT_DIR %s/detection/%s" % (tmp_path / "out", FP) in fp
    out_dir = tmp_path / "out"
    assert "MODEL.WEIGHTS %s/backbones/resnet18_dorefa_w2a2/model_d2.pth" % out_dir in low
    assert "MODEL.EXTRA_WEIGHTS %s/detection/%s/model_final.pth" % (out_dir, FP) in low


def test_makefile_train_does_not_redo_finished_steps(tmp_path):
    out_dir = tmp_path / "out"
    done = ["backbone_full/resnet18/model_best.pth",
            "backbone_low/resnet18_dorefa_w2a2/model_best.pth",
            "backbones/torch-r18-fp/model_d2.pth", "backbones/resnet18_dorefa_w2a2/model_d2.pth",
            "detection/%s/model_final.pth" % FP]
    for age, rel in enumerate(reversed(done)):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
        os.utime(str(path), (1e9 - age * 100, 1e9 - age * 100))
    commands = _commands(make("-n", "train-" + LOW, *_vars(tmp_path, "local")).stdout)
    assert len(commands) == 1 and "--config-file configs/detection/fcos/R18-FPNBN-dorefa-w2a2-all" \
        in commands[0]


def test_makefile_alias_trains_the_same_run(tmp_path):
    alias = _commands(make("-n", "train-" + ALIAS, *_vars(tmp_path, "local")).stdout)
    real = _commands(make("-n", "train-" + LOW, *_vars(tmp_path, "local")).stdout)
    assert alias == real and len(real) == 6


def _real_experiments():
    with open(os.path.join(ROOT, "configs", "experiments.yaml")) as handle:
        rows = yaml.safe_load(handle)["experiments"]
    return [name for row in rows for name in [row["name"]] + list(row.get("aliases") or [])]


@pytest.mark.parametrize("name", _real_experiments())
def test_makefile_real_experiment_targets_dry_run(tmp_path, name):
    proc = make("-n", "train-%s" % name, *_vars(tmp_path, "docker"))
    assert proc.returncode == 0, proc.stderr
    assert "scripts/train_det.py --config-file" in proc.stdout


def test_makefile_classifier_gets_cls_opts_and_detectors_get_opts(tmp_path):
    out = make("-n", "train-" + LOW, *_vars(tmp_path, "local", OPTS="SOLVER.MAX_ITER 7",
                                                 CLS_OPTS="epochs=1")).stdout
    cls = [line for line in out.splitlines() if "train_classifier.py" in line][0]
    dets = [line for line in out.splitlines() if "train_det.py" in line]
    assert cls.endswith("--opts epochs=1") and "SOLVER" not in cls
    assert len(dets) == 2 and all(line.rstrip().endswith("SOLVER.MAX_ITER 7") for line in dets)


@pytest.mark.parametrize("runner, seen", [("docker", "/tiny_coco"), ("local", None)])
def test_makefile_smoke_takes_a_given_small_coco_folder(tmp_path, runner, seen):
    coco = tmp_path / "coco"
    coco.mkdir()
    proc = make("-n", "smoke", *_vars(tmp_path, runner, TINY_COCO=str(coco)))
    assert proc.returncode == 0, proc.stderr
    assert "scripts/smoke.py --tiny-coco %s --output" % (seen or coco) in proc.stdout


def test_makefile_smoke_with_a_missing_small_coco_folder_says_so(tmp_path):
    proc = make("smoke", *_vars(tmp_path, "local", TINY_COCO=str(tmp_path / "nope")))
    assert proc.returncode != 0
    assert "nope not found" in proc.stderr and "leave it empty for the built-in set" in proc.stderr


# -------------------------------------------------------------------------------------------------
# GPUs per machine and several machines

def _fake_nvidia_smi(tmp_path, gpus):
    """A folder with an `nvidia-smi` listing ``gpus`` GPUs (-L), to put first on PATH."""
    folder = tmp_path / "fakebin"
    folder.mkdir(exist_ok=True)
    lines = "".join("GPU %d: Fake GPU (UUID: GPU-%d)\\n  MIG 1g.10gb Device 0: (UUID: MIG-%d)\\n"
                    % (i, i, i) for i in range(gpus))
    write_executable(folder / "nvidia-smi", "#!/usr/bin/env bash\nprintf '%s'\n" % lines)
    return {"PATH": "%s:%s" % (folder, os.environ.get("PATH", ""))}


def _flag(line, name):
    match = re.search(r"%s[ =](\S+)" % re.escape(name), line)
    return match and match.group(1)


@pytest.mark.parametrize("runner", ["docker", "local"])
@pytest.mark.parametrize("gpus,env_gpus,expected", [
    ("device=0,1", None, "2"), ('"device=0,1,3"', None, "3"), ("4", None, "4"), ("none", None, "0"),
    ("all", 3, "3"), ("all", 0, "auto")])
def test_makefile_num_gpus_follows_gpus(tmp_path, runner, gpus, env_gpus, expected):
    env = _fake_nvidia_smi(tmp_path, env_gpus) if env_gpus is not None else None
    out = make("-n", "train-" + LOW, *_vars(tmp_path, runner, GPUS=gpus), env=env).stdout
    dets = [line for line in out.splitlines() if "scripts/train_det.py" in line]
    cls = [line for line in out.splitlines() if "scripts/train_classifier.py" in line][0]
    assert len(dets) == 2 and all(_flag(line, "--num-gpus") == expected for line in dets), dets
    if expected in ("0", "1"):
        assert "torch.distributed.run" not in cls
    else:  # one machine: torchrun --standalone, as before (auto: torchrun counts the GPUs)
        nproc = "gpu" if expected == "auto" else expected
        assert "-m torch.distributed.run --standalone --nproc_per_node=%s scripts/" % nproc in cls


def test_makefile_local_all_gpus_counts_cuda_visible_devices(tmp_path):
    env = dict(_fake_nvidia_smi(tmp_path, 8), CUDA_VISIBLE_DEVICES="2,5")
    out = make("-n", "train-det", *_vars(tmp_path, "local", GPUS="all", CONFIG=FP_CONFIG),
               env=env).stdout
    assert "--num-gpus 2 " in out
    out = make("-n", "train-det", *_vars(tmp_path, "docker", GPUS="all", CONFIG=FP_CONFIG),
               env=env).stdout  # the container gets every GPU of the host (--gpus all)
    assert "--num-gpus 8 " in out


def test_makefile_help_shows_the_gpu_count_and_the_machine_knobs(tmp_path):
    out = make("help", "GPUS=device=0,1").stdout
    assert re.search(r"^\s+NUM_GPUS\s+2\s", out, re.M)
    for var in ("NUM_MACHINES", "MACHINE_RANK", "DIST_URL", "MACHINE_WAIT", "DOCKER_NETWORK"):
        assert re.search(r"^\s+%s\s" % var, out, re.M), var


TWO = {"NUM_MACHINES": "2", "DIST_URL": "node0:29500", "GPUS": "all", "NUM_GPUS": "8"}


@pytest.mark.parametrize("runner", ["docker", "local"])
@pytest.mark.parametrize("rank", [0, 1])
def test_makefile_two_machines_each_rank_gets_its_command(tmp_path, runner, rank):
    proc = make("-n", "train-" + LOW, *_vars(tmp_path, runner, MACHINE_RANK=str(rank), **TWO))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    dets = [line for line in lines if "scripts/train_det.py" in line]
    assert len(dets) == 2
    for line in dets:
        assert "--num-gpus 8 --num-machines 2 --machine-rank %d --dist-url tcp://node0:29500 " \
            % rank in line
    cls = [line for line in lines if "scripts/train_classifier.py" in line]
    assert len(cls) == 1 and "--standalone" not in cls[0]
    assert ("-m torch.distributed.run --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d "
            "--rdzv_endpoint=node0:29500 --rdzv_id=backbone_low-resnet18_dorefa_w2a2 "
            "--rdzv_conf=is_host=%d scripts/train_classifier.py" % (1 if rank == 0 else 0)) \
        in cls[0]
    single = [line for line in lines
              if re.search(r"scripts/(backbone_full|export_detectron2)", line)]
    waits = [line for line in lines if "waiting for" in line]
    if rank == 0:  # machine 0 runs the single-process steps
        assert len(single) == 3 and not waits
    else:  # the others wait for their files (in OUTPUT_DIR, shared), in the same order
        assert not single and len(waits) == 3
        assert "backbone_full/resnet18/model_best.pth" in waits[0]
    runs = [line for line in lines if line.startswith("docker run")]
    if runner == "docker":
        assert len(runs) == len(dets) + len(cls) + len(single)
        assert all(" --network host " in line for line in runs)
    else:
        assert not runs


@pytest.mark.parametrize("runner", ["docker", "local"])
def test_makefile_one_machine_commands_are_unchanged(tmp_path, runner):
    out = make("-n", "train-" + LOW, *_vars(tmp_path, runner, GPUS="all", NUM_GPUS="8",
                                                 DIST_URL="node0:29500")).stdout
    for word in ("--num-machines", "--machine-rank", "--dist-url", "--network", "rdzv", "waiting"):
        assert word not in out, word
    assert "-m torch.distributed.run --standalone --nproc_per_node=8 scripts/" in out


def test_makefile_docker_gets_the_callers_nccl_and_gloo_settings(tmp_path):
    env = {"NCCL_SOCKET_IFNAME": "ib0", "NCCL_DEBUG": "INFO", "NOT_NCCL": "x"}
    out = make("-n", "test", *_vars(tmp_path, "docker", GLOO_SOCKET_IFNAME="eth1"),
               env=env).stdout
    run = [line for line in out.splitlines() if line.startswith("docker run")][0]
    assert " -e GLOO_SOCKET_IFNAME -e NCCL_DEBUG -e NCCL_SOCKET_IFNAME " in run
    assert "NOT_NCCL" not in run


def test_makefile_other_machine_waits_for_machine_0s_file(tmp_path):
    target = tmp_path / "out" / "backbone_full" / "resnet18" / "model_best.pth"
    values = _vars(tmp_path, "local", NUM_MACHINES="2", MACHINE_RANK="1",
                   DIST_URL="node0:29500", MACHINE_WAIT="60")
    proc = subprocess.Popen(["make", "--no-print-directory", "backbone-full"] + values, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, env=make_env())
    time.sleep(1.5)
    assert proc.poll() is None  # still waiting
    target.parent.mkdir(parents=True)
    target.write_text("written by machine 0")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "machine 1 of 2: waiting for %s" % target in out


def test_makefile_other_machine_gives_up_naming_the_shared_folder(tmp_path):
    proc = make("backbone-full", *_vars(tmp_path, "local", NUM_MACHINES="2", MACHINE_RANK="1",
                                        DIST_URL="node0:29500", MACHINE_WAIT="1"))
    assert proc.returncode != 0
    assert "did not appear in 1 s" in proc.stderr and "every machine shares" in proc.stderr


def test_makefile_gpu_check_needs_no_setup_and_passes_the_wheels(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    values = [v for v in _vars(tmp_path, "local") if not v.startswith("PYTHON=")]
    out = make("-n", "gpu-check", "WHEELS=%s" % wheels, "HOST_PYTHON=python3.x", *values).stdout
    # no venv in VENV: the host interpreter, and no make setup first
    assert "python3.x scripts/gpu_check.py --wheels %s --output" % wheels in out
    assert "-m venv" not in out and "install.sh" not in out
    missing = make("gpu-check", "WHEELS=%s" % (tmp_path / "none"), *values)
    assert missing.returncode != 0 and "WHEELS names no folder" in missing.stderr
