"""train_det's command line and the guard against overwriting a finished run."""
import pytest

from model_quantization.detection.cli import check_output_dir, parse_args


def test_parse_args_reads_detectron2_flags_and_overrides():
    args = parse_args(["--config-file", "c.yaml", "--num-gpus", "2", "--resume",
                       "SOLVER.MAX_ITER", "10", "OUTPUT_DIR", "out"])
    assert (args.config_file, args.num_gpus, args.resume, args.eval_only) == ("c.yaml", 2, True,
                                                                               False)
    assert args.opts == ["SOLVER.MAX_ITER", "10", "OUTPUT_DIR", "out"]


def test_parse_args_tiny_coco_defaults_to_the_variable(monkeypatch):
    monkeypatch.setenv("TINY_COCO", "/data/tiny")
    assert parse_args(["--config-file", "c.yaml"]).tiny_coco == "/data/tiny"


def test_parse_args_rejects_odd_overrides(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--config-file", "c.yaml", "SOLVER.MAX_ITER"])
    assert "KEY VALUE pairs" in capsys.readouterr().err


def test_parse_args_rejects_option_among_overrides(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--config-file", "c.yaml", "A", "1", "--eval-only", "x"])
    assert "'--eval-only'" in capsys.readouterr().err


def test_check_output_dir_refuses_a_finished_run(tmp_path):
    (tmp_path / "model_final.pth").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="--resume.*--overwrite"):
        check_output_dir(str(tmp_path))


def test_check_output_dir_allows_resume_overwrite_and_eval(tmp_path):
    (tmp_path / "last_checkpoint").write_text("model_0000009.pth")
    for kwargs in ({"resume": True}, {"overwrite": True}, {"eval_only": True}):
        check_output_dir(str(tmp_path), **kwargs)


def test_check_output_dir_allows_an_empty_folder(tmp_path):
    check_output_dir(str(tmp_path / "new"))


# -------------------------------------------------------------------------------------------------
# GPUs and machines (the launcher flags)

def test_parse_args_num_gpus_auto_is_resolved_to_the_visible_gpus(capsys):
    from model_quantization.detection.cli import resolve_num_gpus
    args = parse_args(["--config-file", "c.yaml", "--num-gpus", "auto"])
    assert args.num_gpus == "auto"
    assert resolve_num_gpus(args, device_count=3).num_gpus == 3
    assert "--num-gpus auto: 3 GPU(s) visible" in capsys.readouterr().out
    assert resolve_num_gpus(parse_args(["--config-file", "c.yaml", "--num-gpus", "auto"]),
                            device_count=0).num_gpus == 0


@pytest.mark.parametrize("url", ["node0:29500", "tcp://node0:29500"])
def test_parse_args_dist_url_takes_host_port(url):
    args = parse_args(["--config-file", "c.yaml", "--num-gpus", "8", "--num-machines", "2",
                       "--machine-rank", "1", "--dist-url", url])
    assert (args.num_machines, args.machine_rank, args.dist_url) == (2, 1, "tcp://node0:29500")


@pytest.mark.parametrize("argv,words", [
    (["--num-gpus", "-1"], ["--num-gpus -1 is negative", "auto"]),
    (["--num-gpus", "eight"], ["'eight' is not a GPU count"]),
    (["--num-machines", "0"], ["--num-machines 0", "use 1"]),
    (["--num-machines", "2", "--machine-rank", "2", "--dist-url", "n:1"],
     ["--machine-rank 2 is outside 0..1"]),
    (["--num-machines", "2"], ["--dist-url auto works on one machine only", "node0:29500"]),
    (["--num-machines", "2", "--dist-url", "node0"], ["--dist-url node0 is not host:port",
                                                      "--dist-url node0:29500"]),
    (["--num-machines", "2", "--dist-url", "tcp://node0:http"], ["is not host:port"]),
])
def test_parse_args_bad_launcher_flags_name_the_fix(argv, words, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--config-file", "c.yaml"] + argv)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    for word in words:
        assert word in err, (word, err)


def test_several_machines_need_gpus():
    from model_quantization.detection.cli import resolve_num_gpus
    args = parse_args(["--config-file", "c.yaml", "--num-gpus", "auto", "--num-machines", "2",
                       "--dist-url", "node0:29500"])
    with pytest.raises(ValueError, match="--num-machines 2 needs GPUs.*NCCL"):
        resolve_num_gpus(args, device_count=0)


def test_schedule_warning_on_other_gpu_counts_names_reference_world_size():
    from model_quantization.detection.trainer import RECIPE_WORLD_SIZE, schedule_warning
    note = schedule_warning(16, 0.01, 90000, 0, 2)
    assert "8 image(s) each" in note and "BASE_LR 0.01" in note and "MAX_ITER 90000" in note
    assert "SOLVER.REFERENCE_WORLD_SIZE %d" % RECIPE_WORLD_SIZE in note
    assert schedule_warning(16, 0.01, 90000, 0, RECIPE_WORLD_SIZE) is None
    assert schedule_warning(16, 0.01, 90000, 8, 2) is None  # detectron2 rescales it itself
    assert schedule_warning(4, 0.01, 200, 0, 1) is None  # the smoke configs' batch of 4


@pytest.mark.forks
def test_pinned_fork_scales_the_schedule_by_reference_world_size():
    """What the warning offers: the fork's DefaultTrainer.auto_scale_workers keeps the images per
    GPU and scales the learning rate and the iterations."""
    from detectron2.config import get_cfg
    from detectron2.engine import DefaultTrainer
    cfg = get_cfg()
    cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.BASE_LR, cfg.SOLVER.MAX_ITER = 16, 0.01, 90000
    cfg.SOLVER.STEPS, cfg.SOLVER.REFERENCE_WORLD_SIZE = (60000, 80000), 8
    scaled = DefaultTrainer.auto_scale_workers(cfg, 2)
    assert (scaled.SOLVER.IMS_PER_BATCH, scaled.SOLVER.MAX_ITER) == (4, 360000)
    assert scaled.SOLVER.BASE_LR == pytest.approx(0.0025)
    assert tuple(scaled.SOLVER.STEPS) == (240000, 320000)
