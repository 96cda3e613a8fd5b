"""Tests for the classifier trainer: outputs, resume equality, determinism, output-dir safety."""
import json
import os

import pytest
import torch

from model_quantization.checkpoint import load_checkpoint
from model_quantization.classification import apply_opts, train
from model_quantization.classification import trainer as train_module

LSQ_W2A2 = ["quantization.weight={method: lsq, bits: 2}",
            "quantization.activation={method: lsq, bits: 2}",
            "quantization.overrides={conv1: {weight: {method: lsq, bits: 8}, activation: null}}"]


@pytest.fixture(scope="module")
def straight_run(tiny_folder, tmp_path_factory):
    """A 2-epoch LSQ W2/A2 run, uninterrupted (shared by several tests)."""
    from model_quantization.classification import load_config
    cfg = load_config(None, ["epochs=2", "batch_size=8", "workers=0", "data.image_size=16",
                             "data.val_resize=16", "data.crop_scale=[0.5, 1.0]", "progress=false",
                             "optimizer.lr=0.01", "print_freq=1", "device=cpu"] + LSQ_W2A2)
    out = tmp_path_factory.mktemp("straight") / "run"
    torch.set_num_threads(1)
    result = train(cfg, out, data=tiny_folder)
    return cfg, out, result


def test_train_writes_checkpoints_log_and_run_record(straight_run):
    _, out, result = straight_run
    for name in ("last.pth", "model_best.pth", "train.log", "metrics.jsonl"):
        assert (out / name).is_file(), name
    record = out / "run_record"
    assert {"config.yaml", "environment.json", "quantization.md", "quantization.json",
            "extra.json"} <= set(os.listdir(record))
    extra = json.load(open(record / "extra.json"))
    assert extra["status"] == "finished" and extra["result"]["top1"] == result["top1"]
    assert "val top-1" in (out / "train.log").read_text()
    assert [json.loads(line)["epoch"] for line in open(out / "metrics.jsonl")] == [1, 2]
    assert 0.0 <= result["top1"] <= result["top5"] <= 100.0


def test_train_checkpoint_holds_quantizer_state(straight_run):
    _, out, _ = straight_run
    ckpt = load_checkpoint(out / "last.pth")
    keys = list(ckpt["model"])
    assert "layer1.0.conv1.quant_weight.clip_val" in keys
    assert "layer1.0.conv1.quant_activation.iteration" in keys
    assert "conv1.quant_activation.clip_val" not in keys  # first layer input kept float
    assert ckpt["epoch"] == 2 and ckpt["num_classes"] == 3


def test_train_resume_equals_uninterrupted_run(straight_run, tiny_folder, tmp_path, monkeypatch):
    cfg, straight_out, _ = straight_run
    out = tmp_path / "run"
    real_save = train_module._save_epoch

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt("simulated preemption after epoch 1")

    monkeypatch.setattr(train_module, "_save_epoch", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, out, data=tiny_folder)
    monkeypatch.setattr(train_module, "_save_epoch", real_save)
    assert load_checkpoint(out / "last.pth")["epoch"] == 1
    train(cfg, out, data=tiny_folder, resume=True)

    a = load_checkpoint(straight_out / "last.pth")
    b = load_checkpoint(out / "last.pth")
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    assert [r["train_loss"] for r in a["history"]] == [r["train_loss"] for r in b["history"]]


def test_train_same_seed_gives_same_losses(straight_run, tiny_folder, tmp_path):
    cfg, _, first = straight_run
    second = train(cfg, tmp_path / "again", data=tiny_folder)
    assert [r["train_loss"] for r in first["history"]] == [
        r["train_loss"] for r in second["history"]]
    assert first["top1"] == second["top1"]


def test_train_refuses_output_holding_a_run(tiny_folder, tiny_cfg, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pth").write_bytes(b"a previous run")
    (out / "train.log").write_text("a previous run\n")
    with pytest.raises(FileExistsError, match="already holds a run.*--resume.*--overwrite"):
        train(tiny_cfg, out, data=tiny_folder)
    assert (out / "last.pth").read_bytes() == b"a previous run"
    assert (out / "train.log").read_text() == "a previous run\n"


def test_train_failed_start_does_not_block_a_retry(tiny_folder, tiny_cfg, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="--data"):
        train(tiny_cfg, out)
    train(apply_opts(tiny_cfg, ["epochs=1"]), out, data=tiny_folder)
    log = (out / "train.log").read_text()
    assert log.index("no dataset given") < log.index("final: top-1")  # appended, not replaced
    assert (out / "last.pth").is_file()


def test_train_resume_and_overwrite_conflict(tiny_folder, tiny_cfg, tmp_path):
    with pytest.raises(ValueError, match="contradict"):
        train(tiny_cfg, tmp_path / "run", data=tiny_folder, resume=True, overwrite=True)


def test_train_overwrite_replaces_previous_run(tiny_folder, tiny_cfg, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "train.log").write_text("a previous run\n")
    (out / "model_best.pth").write_bytes(b"stale")
    cfg = apply_opts(tiny_cfg, ["epochs=1"])
    train(cfg, out, data=tiny_folder, overwrite=True)
    assert "a previous run" not in (out / "train.log").read_text()
    assert load_checkpoint(out / "model_best.pth")["epoch"] == 1


def test_train_without_data_names_the_fix(tiny_cfg, tmp_path):
    with pytest.raises(ValueError, match="--data"):
        train(tiny_cfg, tmp_path / "run")


def test_train_missing_val_split_is_file_not_found(tiny_cfg, tmp_path):
    (tmp_path / "data" / "train" / "a").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="val"):
        train(tiny_cfg, tmp_path / "run", data=tmp_path / "data")


def test_evaluate_checkpoint_matches_training_eval(straight_run, tiny_folder):
    from model_quantization.classification import evaluate_checkpoint
    cfg, out, result = straight_run
    metrics = evaluate_checkpoint(cfg, out / "model_best.pth", data=tiny_folder,
                                  log=lambda *_: None)
    best = result["history"][result["best_epoch"] - 1]
    assert metrics["count"] == 9
    assert metrics["top1"] == pytest.approx(best["val_top1"])
    assert metrics["top5"] == pytest.approx(best["val_top5"])


def test_train_init_loads_fp_weights_before_conversion(straight_run, tiny_folder, tmp_path,
                                                       monkeypatch):
    cfg, out, _ = straight_run
    fp = load_checkpoint(out / "model_best.pth")["model"]
    seen = {}
    real = train_module.quantize_model

    def spy(model, qcfg):
        seen["conv1"] = model.conv1.weight.detach().clone()
        return real(model, qcfg)

    monkeypatch.setattr(train_module, "quantize_model", spy)
    cfg1 = apply_opts(cfg, ["epochs=1"])
    train(cfg1, tmp_path / "ft", data=tiny_folder, init=out / "model_best.pth")
    assert torch.equal(seen["conv1"], fp["conv1.weight"])


def _interrupt_after_first_epoch(monkeypatch):
    real_save = train_module._save_epoch

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        monkeypatch.setattr(train_module, "_save_epoch", real_save)
        raise KeyboardInterrupt("simulated preemption after epoch 1")

    monkeypatch.setattr(train_module, "_save_epoch", save_then_die)


def test_train_resume_restores_lqnet_basis(tiny_folder, tiny_cfg, tmp_path, monkeypatch):
    cfg = apply_opts(tiny_cfg, ["quantization.weight={method: lqnet, levels: 3}",
                                "quantization.activation={method: lqnet, levels: 3}",
                                "quantization.scope=[layer1.0, layer4.1]"])
    train(cfg, tmp_path / "straight", data=tiny_folder)
    _interrupt_after_first_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "resumed", data=tiny_folder)
    train(cfg, tmp_path / "resumed", data=tiny_folder, resume=True)
    a = load_checkpoint(tmp_path / "straight" / "last.pth")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "last.pth")["model"]
    basis = [k for k in a if k.endswith(".basis")]
    assert basis and a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_train_checks_pretrained_sha256_before_training(tiny_folder, tiny_cfg, tmp_path):
    from model_quantization.checkpoint import CheckpointError, save_checkpoint
    weights = save_checkpoint({"model": {}}, tmp_path / "w.pth")
    cfg = apply_opts(tiny_cfg, ["pretrained.path={}".format(weights),
                                "pretrained.sha256={}".format("0" * 64)])
    with pytest.raises(CheckpointError, match="sha256 mismatch.*w.pth"):
        train(cfg, tmp_path / "run", data=tiny_folder)
    assert not (tmp_path / "run" / "last.pth").exists()
