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
