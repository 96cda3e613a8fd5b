"""The Makefile on bad input: one line naming the problem and the variable or command that fixes it;
and what RUNNER=local / a fake docker really execute."""

import glob
import os

import pytest
from static_helpers import MAKE_TRAILER, ROOT, make, requires_make, write_executable

pytestmark = requires_make


def _one_line_error(proc, *words):
    """One line of error (besides make's own ``make: *** [Makefile:N: goal] Error 2`` after a
    step that failed), holding every one of ``words``."""
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines()
             if line.strip() and not MAKE_TRAILER.match(line)]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture
def fake_python(tmp_path):
    """A `python` that prints its arguments and CUDA_VISIBLE_DEVICES instead of running."""
    return write_executable(tmp_path / "python", """#!/usr/bin/env bash
echo "FAKE-PYTHON [${CUDA_VISIBLE_DEVICES-unset}] $*"
""")


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("MODEL: {}\n")
    return str(path)


def test_makefile_unknown_flavor_names_the_allowed_ones():
    _one_line_error(make("help", "FLAVOR=gpu"), "FLAVOR=gpu", "legacy", "current", "cpu")


def test_makefile_unknown_runner_names_the_allowed_ones():
    _one_line_error(make("test", "RUNNER=k8s"), "RUNNER=k8s", "RUNNER=docker", "RUNNER=local")


def test_makefile_unparseable_gpus_is_refused():
    _one_line_error(make("test", "GPUS=many"), "GPUS=many", "GPUS=none")


def test_makefile_cpu_flavor_refuses_gpus_in_docker():
    _one_line_error(make("test", "FLAVOR=cpu", "GPUS=all"), "FLAVOR=cpu", "GPUS=none")


def test_makefile_unknown_experiment_is_named(tmp_path):
    proc = make("train-fcos-r18-3bit", "RUNNER=local", "PYTHON=python",
                "VENV=%s" % (tmp_path / "venv"), "OUTPUT_DIR=%s" % (tmp_path / "out"))
    _one_line_error(proc, "'fcos-r18-3bit'", "list-experiments", "'fcos-r18-2bit'")


def test_makefile_missing_docker_binary_points_to_runner_local(tmp_path):
    proc = make("test", "DOCKER=%s" % (tmp_path / "no-docker"))
    _one_line_error(proc, "not found", "RUNNER=local")


def test_makefile_gpus_without_nvidia_runtime_is_refused(tmp_path, fake_docker):
    proc = make("test", "DOCKER=%s" % fake_docker, "GPUS=all", "OUTPUT_DIR=%s" % tmp_path,
                env={"FAKE_RUNTIMES": "runc"})
    _one_line_error(proc, "GPUS=all", "NVIDIA", "GPUS=none")


def test_makefile_runs_docker_when_the_nvidia_runtime_is_there(tmp_path, fake_docker):
    proc = make("test", "DOCKER=%s" % fake_docker, "GPUS=all", "TAG=t1", "OUTPUT_DIR=%s" % tmp_path,
                env={"FAKE_RUNTIMES": "nvidia runc"})
    assert proc.returncode == 0, proc.stderr
    assert "FAKE-DOCKER-RUN --rm --gpus all" in proc.stdout
    assert "qat-detection:t1 python -m pytest" in proc.stdout


def test_makefile_missing_coco_names_data_dir(tmp_path, config, fake_python):
    proc = make("train-det", "RUNNER=local", "PYTHON=%s" % fake_python, "CONFIG=%s" % config,
                "DATA_DIR=%s" % (tmp_path / "nodata"))
    _one_line_error(proc, "coco not found", "DATA_DIR")


def test_makefile_missing_config_file_is_named(tmp_path, fake_python):
    proc = make("train-det", "RUNNER=local", "PYTHON=%s" % fake_python,
                "CONFIG=%s" % (tmp_path / "absent.yaml"))
    _one_line_error(proc, "absent.yaml not found", "CONFIG")


def test_makefile_missing_checkpoint_is_named(tmp_path, config, fake_python):
    (tmp_path / "data" / "coco").mkdir(parents=True)
    proc = make("eval", "RUNNER=local", "PYTHON=%s" % fake_python, "CONFIG=%s" % config,
                "DATA_DIR=%s" % (tmp_path / "data"), "CHECKPOINT=%s" % (tmp_path / "none.pth"))
    _one_line_error(proc, "none.pth not found", "CHECKPOINT")


def _a_project_config():
    found = sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True))
    if not found:
        pytest.skip("no config under configs/ yet")
    return os.path.relpath(found[0], ROOT)


def test_makefile_checkpoint_outside_the_mounts_is_refused_for_docker(tmp_path, fake_docker):
    (tmp_path / "data" / "coco").mkdir(parents=True)
    ckpt = tmp_path / "elsewhere.pth"
    ckpt.write_text("x")
    proc = make("eval", "CONFIG=%s" % _a_project_config(), "DATA_DIR=%s" % (tmp_path / "data"),
                "CHECKPOINT=%s" % ckpt, "DOCKER=%s" % fake_docker, "GPUS=none",
                "OUTPUT_DIR=%s" % (tmp_path / "out"))
    _one_line_error(proc, "CHECKPOINT=%s is outside OUTPUT_DIR" % ckpt)


def test_makefile_config_outside_configs_is_refused_for_docker(tmp_path, config, fake_docker):
    (tmp_path / "data" / "coco").mkdir(parents=True)
    proc = make("train-det", "CONFIG=%s" % config, "DATA_DIR=%s" % (tmp_path / "data"),
                "DOCKER=%s" % fake_docker, "GPUS=none", "OUTPUT_DIR=%s" % (tmp_path / "out"))
    _one_line_error(proc, "is outside configs/", "RUNNER=local")


def test_makefile_missing_torchvision_weights_names_weights_dir(tmp_path, fake_python):
    proc = make("backbone-full", "RUNNER=local", "PYTHON=%s" % fake_python,
                "WEIGHTS_DIR=%s" % tmp_path, "OUTPUT_DIR=%s" % (tmp_path / "out"))
    _one_line_error(proc, "resnet18-f37072fd.pth not found", "WEIGHTS_DIR")


def test_makefile_overall_full_points_to_the_experiment_targets():
    _one_line_error(make("overall-full"), "train-<experiment>", "list-experiments")


def test_makefile_missing_local_python_points_to_setup(tmp_path):
    proc = make("report", "RUNNER=local", "PYTHON=%s" % (tmp_path / "nopython"),
                "OUTPUT_DIR=%s" % tmp_path)
    _one_line_error(proc, "not found", "make setup")


def test_makefile_tiny_coco_needs_ids():
    _one_line_error(make("tiny-coco"), "IDS is empty")


def test_makefile_local_runner_executes_the_command(tmp_path, fake_python):
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    proc = make("smoke", "RUNNER=local", "PYTHON=%s" % fake_python, "TINY_COCO=%s" % tiny,
                "OUTPUT_DIR=%s" % (tmp_path / "out"), "GPUS=device=0,1")
    assert proc.returncode == 0, proc.stderr
    assert "FAKE-PYTHON [0,1] scripts/smoke.py --tiny-coco %s --output %s/smoke" % (
        tiny, tmp_path / "out") in proc.stdout
    assert (tmp_path / "out").is_dir()


def test_makefile_local_gpus_none_hides_every_gpu(tmp_path, fake_python):
    proc = make("report", "RUNNER=local", "PYTHON=%s" % fake_python, "GPUS=none",
                "OUTPUT_DIR=%s" % tmp_path)
    assert "FAKE-PYTHON [] scripts/report.py" in proc.stdout


@pytest.mark.parametrize("values,words", [
    (["NUM_MACHINES=0"], ["NUM_MACHINES=0", "NUM_MACHINES=1"]),
    (["NUM_MACHINES=two"], ["NUM_MACHINES=two", "NUM_MACHINES=2"]),
    (["NUM_MACHINES=2", "MACHINE_RANK=2", "DIST_URL=node0:29500"],
     ["MACHINE_RANK=2 is not below NUM_MACHINES=2", "0..1", "SLURM_NODEID"]),
    (["NUM_MACHINES=2", "MACHINE_RANK=-1", "DIST_URL=node0:29500"],
     ["MACHINE_RANK=-1", "0..1"]),
    (["NUM_MACHINES=2"], ["DIST_URL is empty", "DIST_URL=node0:29500"]),
    (["NUM_MACHINES=2", "DIST_URL=node7"],
     ["DIST_URL=node7 is not host:port", "DIST_URL=node7:29500"]),
    (["NUM_MACHINES=2", "DIST_URL=tcp://node7:"], ["DIST_URL=tcp://node7: is not host:port",
                                                   "node7:29500"]),
    (["NUM_MACHINES=2", "DIST_URL=node7:99999"], ["DIST_URL=node7:99999"]),
    (["NUM_GPUS=many"], ["NUM_GPUS=many", "NUM_GPUS=0", "NUM_GPUS=auto"]),
])
@pytest.mark.parametrize("dry", [True, False])
def test_makefile_bad_machine_values_are_named_with_the_fix(tmp_path, values, words, dry):
    args = (["-n"] if dry else []) + ["train-det", "RUNNER=local", "CONFIG=x.yaml",
                                      "PYTHON=python", "VENV=%s" % (tmp_path / "venv"),
                                      "OUTPUT_DIR=%s" % (tmp_path / "out")] + values
    _one_line_error(make(*args), *words)


def test_makefile_good_machine_values_pass(tmp_path):
    for url, hostport in (("node0:29500", "node0:29500"), ("tcp://10.0.0.1:29500",
                                                          "10.0.0.1:29500")):
        proc = make("-n", "train-det", "RUNNER=local", "NUM_MACHINES=3", "MACHINE_RANK=2",
                    "DIST_URL=%s" % url, "OUTPUT_DIR=%s" % tmp_path, "PYTHON=python",
                    "VENV=%s" % (tmp_path / "venv"), "NUM_GPUS=4",
                    "CONFIG=configs/detection/fcos/R18-FPNBN-fp.yaml")
        assert proc.returncode == 0, proc.stderr
        assert ("--num-gpus 4 --num-machines 3 --machine-rank 2 --dist-url tcp://%s " % hostport
                in proc.stdout)
