"""The recipe's step graph (model_quantization/recipe.py): edges read from the configs, finished
steps skipped, stale outputs reported, commands run in order and stopped at the first failure.
(The Makefile's use of it: tests/static/test_makefile.py.)"""
import os
import subprocess
import sys

import pytest

from model_quantization import recipe
from model_quantization.detection.experiments import load_experiments, repo_root

ROOT = repo_root()
LOW = "fcos-r18-fpnbn-dorefa-w2a2-all"
FP = "fcos-r18-fpnbn-fp"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the graph's paths are relative to the project root, like make's


def _settings(tmp_path, **kw):
    kw.setdefault("output_dir", str(tmp_path / "out"))
    kw.setdefault("weights_dir", str(tmp_path / "weights"))
    kw.setdefault("data_dir", str(tmp_path / "data"))
    kw.setdefault("py", "python")
    return recipe.Settings(**kw)


def _touch(path, when):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write("x")
    os.utime(path, (when, when))


def test_detector_edges_come_from_its_config(tmp_path):
    graph = recipe.Graph(_settings(tmp_path))
    low = graph.experiment(LOW)
    out = str(tmp_path / "out")
    assert low.output == os.path.join(out, "detection", LOW, "model_final.pth")
    assert low.inputs == [os.path.join(out, "backbones", "resnet18_dorefa_w2a2", "model_d2.pth"),
                          os.path.join(out, "detection", FP, "model_final.pth")]
    # an alias is the same step
    assert graph.experiment("fcos-r18-2bit") is low


def test_a_changed_config_changes_the_graph(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("_BASE_: %s\nMODEL:\n"
                   "  WEIGHTS: output/backbones/resnet18_lsq_w2a2/model_d2.pth\n"
                   "OUTPUT_DIR: output/detection/mine\n"
                   % os.path.join(ROOT, "configs", "detection", "fcos", "R18-FPNBN-fp.yaml"))
    row = dict(load_experiments()[0], name="mine", config=str(cfg), aliases=None)
    graph = recipe.Graph(_settings(tmp_path), experiments=[row])
    steps = graph.plan(graph.experiment("mine").output, dry_run=True)
    assert [(s.kind, s.key) for s in steps] == [
        ("backbone_full", "resnet18"), ("backbone_low", "resnet18_lsq_w2a2"),
        ("export", "resnet18_lsq_w2a2"), ("detector", "mine")]


def test_plan_runs_only_what_is_missing_in_order(tmp_path):
    graph = recipe.Graph(_settings(tmp_path))
    target = graph.experiment(LOW).output
    steps = graph.plan(target, dry_run=True)
    assert [s.kind for s in steps] == ["backbone_full", "backbone_low", "export", "export",
                                       "detector", "detector"]
    for age, step in enumerate(reversed(steps[:-1])):  # all but the last done, in order
        _touch(step.output, 1e9 - 100 * age)
    assert graph.plan(target) == [steps[-1]]


def test_an_output_older_than_its_input_is_reported_not_redone(tmp_path):
    graph = recipe.Graph(_settings(tmp_path))
    export = graph.producers[graph.export_path("torch-r18-fp")]
    _touch(export.inputs[0], 2e9)  # the backbone, rewritten after the export
    _touch(export.output, 1e9)
    with pytest.raises(recipe.RecipeError, match="older than .*backbone_full.*touch"):
        graph.plan(export.output)


def test_staleness_is_found_further_up_the_chain(tmp_path):
    graph = recipe.Graph(_settings(tmp_path))
    fp = graph.experiment(FP)
    export = graph.producers[fp.inputs[0]]
    _touch(export.inputs[0], 3e9)  # the backbone, rewritten after the export and the detector
    _touch(export.output, 1e9)
    _touch(fp.output, 2e9)
    with pytest.raises(recipe.RecipeError, match="torch-r18-fp/model_d2.pth is older than"):
        graph.plan(fp.output)


def test_a_deleted_intermediate_of_a_finished_step_is_not_rebuilt(tmp_path):
    graph = recipe.Graph(_settings(tmp_path))
    export = graph.producers[graph.export_path("torch-r18-fp")]
    _touch(export.output, 1e9)  # its backbone (and the torchvision file) are gone
    assert graph.plan(export.output) == []


def test_a_missing_weights_file_names_weights_dir_except_in_a_dry_run(tmp_path):
    graph = recipe.Graph(_settings(tmp_path))
    target = graph.full_path("resnet18")
    with pytest.raises(recipe.RecipeError, match="resnet18-f37072fd.pth not found.*WEIGHTS_DIR"):
        graph.plan(target)
    assert [s.kind for s in graph.plan(target, dry_run=True)] == ["backbone_full"]


def test_unknown_experiment_suggests_the_close_name(tmp_path):
    graph = recipe.Graph(_settings(tmp_path))
    with pytest.raises(recipe.RecipeError, match="'fcos-r18-2bitt'.*'fcos-r18-2bit'"):
        graph.experiment("fcos-r18-2bitt")


def test_container_paths_and_launch_flags(tmp_path):
    out = str(tmp_path / "out")
    settings = _settings(tmp_path, container={out: "/outputs"}, run="docker run img ",
                         num_gpus="4", opts="SOLVER.MAX_ITER 7")
    graph = recipe.Graph(settings)
    line = settings.command(graph.experiment(FP).argv, graph.experiment(FP).tail)
    assert line.startswith("docker run img python scripts/train_det.py --config-file ")
    assert "--num-gpus 4 " in line and "OUTPUT_DIR /outputs/detection/%s " % FP in line
    assert line.endswith(" SOLVER.MAX_ITER 7")
    cls = settings.command(graph.producers[graph.low_path("resnet18_dorefa_w2a2")].argv)
    assert " -m torch.distributed.run --standalone --nproc_per_node=4 scripts/" in cls


def _step(tmp_path, name, code):
    out = str(tmp_path / name)
    return recipe.Step("test", name, out, [], ["-c", code.format(out=out)])


def test_run_steps_runs_in_order_and_stops_at_the_first_failure(tmp_path, capsys):
    settings = recipe.Settings(py=sys.executable)
    steps = [_step(tmp_path, "a", "open({out!r}, 'w').write('1')"),
             _step(tmp_path, "b", "raise SystemExit(3)"),
             _step(tmp_path, "c", "open({out!r}, 'w').write('1')")]
    assert recipe.run_steps(steps, settings) == 3
    assert (tmp_path / "a").is_file() and not (tmp_path / "c").exists()
    assert len(capsys.readouterr().out.splitlines()) == 2  # each command is printed as it runs


def test_dry_run_prints_and_runs_nothing(tmp_path, capsys):
    steps = [_step(tmp_path, "a", "open({out!r}, 'w').write('1')")]
    assert recipe.run_steps(steps, recipe.Settings(py=sys.executable), dry_run=True) == 0
    assert not (tmp_path / "a").exists() and "-c" in capsys.readouterr().out


def test_data_is_checked_before_the_first_step(tmp_path):
    settings = _settings(tmp_path)
    graph = recipe.Graph(settings)
    steps = graph.plan(graph.experiment(FP).output, dry_run=True)
    with pytest.raises(recipe.RecipeError, match="coco not found: set DATA_DIR"):
        recipe.run_steps(steps, settings)


def test_another_machine_waits_for_machine_0s_file_and_gives_up(tmp_path, capsys):
    settings = _settings(tmp_path, num_machines=2, machine_rank=1, dist_url="n0:1",
                         machine_wait=0)
    graph = recipe.Graph(settings)
    steps = graph.plan(graph.full_path("resnet18"))  # its weights are machine 0's business
    with pytest.raises(recipe.RecipeError, match="did not appear in 0 s.*every machine shares"):
        recipe.run_steps(steps, settings)
    assert "machine 1 of 2: waiting for" in capsys.readouterr().out


def test_the_image_verbs_come_from_the_table():
    proc = subprocess.run([sys.executable, "-m", "model_quantization.recipe", "verbs",
                           "--command", "eval"], cwd=ROOT, stdout=subprocess.PIPE,
                          universal_newlines=True)
    assert proc.stdout.split() == dict((v[0], v[1]) for v in recipe.VERBS)["eval"]
    unknown = subprocess.run([sys.executable, "-m", "model_quantization.recipe", "verbs",
                              "--command", "bash"], cwd=ROOT, stdout=subprocess.PIPE)
    assert unknown.returncode == 1 and not unknown.stdout


def test_a_host_python_without_pyyaml_gets_one_line_naming_the_fix():
    code = ("import runpy, sys; sys.modules['yaml'] = None; sys.argv = ['recipe', 'list']; "
            "runpy.run_module('model_quantization.recipe', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "has no PyYAML" in proc.stderr
    assert "python3-yaml" in proc.stderr and "HOST_PYTHON" in proc.stderr


def test_a_classification_configs_arch_is_read_through_its_base(tmp_path):
    from model_quantization.classification.config import DEFAULTS

    assert recipe.DEFAULT_CLS_ARCH == DEFAULTS["arch"]
    smoke = os.path.join("configs", "classification", "smoke_resnet18_fp.yaml")
    assert recipe.classifier_arch(smoke) == "resnet18"  # from its _BASE_, resnet18_fp.yaml
    graph = recipe.Graph(_settings(tmp_path))
    steps = graph.plan(graph.low_path("smoke_resnet18_fp"), dry_run=True)
    assert [(s.kind, s.key) for s in steps] == [("backbone_full", "resnet18"),
                                                ("backbone_low", "smoke_resnet18_fp")]
    cfg = tmp_path / "r34.yaml"
    cfg.write_text("arch: resnet34\n")
    assert recipe.classifier_arch(str(cfg)) == "resnet34"


@pytest.mark.parametrize("config, small", [
    ("configs/detection/smoke/fcos_r18_dorefa_w2a2_double.yaml", True),
    ("configs/detection/fcos/R18-FPNBN-dorefa-w2a2-all.yaml", False)])
def test_a_config_on_the_small_coco_folder_needs_tiny_coco_not_coco(tmp_path, config, small):
    assert recipe.small_coco_config(config) is small
    settings = _settings(tmp_path, tiny_coco=str(tmp_path / "none"))
    step = recipe._det_command(settings, config, dry_run=True)
    with pytest.raises(recipe.RecipeError, match="TINY_COCO=" if small else "coco not found"):
        recipe.run_steps([step], settings)
