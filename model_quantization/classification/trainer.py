"""Train (or evaluate) a ResNet classifier, full precision or quantization-aware.

``train(cfg, output, data=None, init=None, resume=False, overwrite=False)`` runs the whole
loop: build data and model (see :mod:`.model` for the init -> convert -> quantizer-state
order), train ``epochs`` epochs, evaluate top-1/top-5 after each, write ``last.pth`` every
epoch and ``model_best.pth`` on a new best (atomically, rank 0 only), ``train.log``,
``metrics.jsonl`` and the run record, and return the final metrics. Under ``torchrun`` it runs
data-parallel (DDP). An output folder that already holds a run is refused unless ``resume``
(continue from its ``last.pth``) or ``overwrite`` (start over, replacing its files) is given.
"""
import copy
import json
import logging
import os
import shutil
import sys

import torch
from torch import nn

from ..runrecord import check_run_folder, mark_run_failed, write_run_record
from .data import build_datasets, build_loaders, seed_epoch
from .distributed import barrier, setup_distributed
from .engine import evaluate, make_grad_scaler, train_one_epoch
from .model import (
    build_model,
    is_quantized_config,
    load_init_weights,
    load_quantizer_state,
    quantize_model,
)
from .optim import build_optimizer, build_scheduler
from .state import FORMAT, restore_training_state, rng_state

__all__ = ["train", "check_output_dir", "RESULT_FILES", "RUN_FILES", "LOGGER_NAME"]

# a folder holding any of these holds results: never reused without --resume / --overwrite
RESULT_FILES = ("last.pth", "model_best.pth", "metrics.jsonl")
# what --overwrite removes (train.log is otherwise appended to, so a run that failed before its
# first epoch leaves nothing that blocks a retry)
RUN_FILES = RESULT_FILES + ("train.log", "run_record")
LOGGER_NAME = "model_quantization.classification"


def check_output_dir(output, resume=False, overwrite=False):
    """Refuse to reuse a folder holding a run unless asked; return the run files found."""
    check_run_folder(output, RESULT_FILES, resume, overwrite)
    return [f for f in RUN_FILES if os.path.exists(os.path.join(output, f))]


def _setup_logger(output, is_main):
    log = logging.getLogger(LOGGER_NAME)
    log.setLevel(logging.INFO)
    log.propagate = False
    fmt = logging.Formatter("[%(asctime)s %(levelname)s] %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers = [logging.NullHandler()]
    if is_main:
        handlers = [logging.StreamHandler(sys.stdout),
                    logging.FileHandler(os.path.join(output, "train.log"))]
    for h in handlers:
        h.setFormatter(fmt)
        log.addHandler(h)
    return log, handlers


def _check_init_outside(output, init):
    """``--init`` must not be a file of the run folder this run writes (or replaces)."""
    if init and os.path.realpath(os.path.dirname(os.path.abspath(init))) == \
            os.path.realpath(output) and os.path.basename(init) in RUN_FILES:
        raise ValueError("--init {!r} is a file of --output {!r}, which this run writes over; "
                         "copy it elsewhere first, pass --resume to continue that run, or choose "
                         "another --output".format(init, output))


def _prepare_output(output, resume, overwrite, ctx, init=None):
    _check_init_outside(output, init)
    found = check_output_dir(output, resume, overwrite)
    barrier()
    if ctx.is_main:
        os.makedirs(output, exist_ok=True)
        if overwrite:
            for name in found:
                path = os.path.join(output, name)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    barrier()


def train(cfg, output, data=None, init=None, resume=False, overwrite=False):
    """Run a training job described by the merged config ``cfg``; return its final metrics:
    ``{"top1", "top5", "best_top1", "best_epoch", "epochs", "history", "output"}``."""
    ctx = setup_distributed(cfg["device"])
    output = os.path.abspath(os.fspath(output))
    log, handlers = logging.getLogger(LOGGER_NAME), []
    try:
        _precheck_inputs(cfg, data, init)
        _prepare_output(output, resume, overwrite, ctx, init)
        log, handlers = _setup_logger(output, ctx.is_main)
        try:
            return _train(copy.deepcopy(cfg), output, data, init, resume, ctx, log)
        except Exception as exc:
            log.error("run failed: %s: %s", type(exc).__name__, exc)
            if ctx.is_main:
                mark_run_failed(output, exc)
            raise
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()
        ctx.close()


def _precheck_inputs(cfg, data, init):
    """Paths a typo can break, checked before the run folder is made (a full check follows)."""
    root = data or cfg["data"]["root"]
    if root:
        for split in (cfg["data"]["train_dir"], cfg["data"]["val_dir"]):
            folder = os.path.join(os.fspath(root), split)
            if not os.path.isdir(folder):
                raise FileNotFoundError("dataset folder {!r} does not exist: --data (or data.root) "
                                        "must hold {}/ and {}/ with one folder per class".format(
                                            folder, cfg["data"]["train_dir"],
                                            cfg["data"]["val_dir"]))
    if init and not os.path.isfile(init):
        from ..checkpoint import load_checkpoint
        load_checkpoint(init)  # raises the CheckpointError that says what the path is instead


def _resolve_inputs(cfg, data, init):
    root = data or cfg["data"]["root"]
    if not root:
        raise ValueError("no dataset given: pass --data DIR (a folder with train/ and val/) or "
                         "set data.root in the config")
    cfg["data"]["root"] = os.path.abspath(os.fspath(root))
    if init:
        cfg["pretrained"] = {"path": os.path.abspath(os.fspath(init)), "sha256": ""}
    return cfg


def _build_model(cfg, num_classes, init_path, resuming, log):
    torch.manual_seed(int(cfg["seed"]))
    model = build_model(cfg["arch"], num_classes)
    leftover = {}
    if init_path and not resuming:
        leftover = load_init_weights(model, init_path, cfg["pretrained"]["sha256"],
                                     cfg["init_skip"], log.info)
    elif not init_path and is_quantized_config(cfg["quantization"]):
        log.warning("quantization-aware training from random weights: no --init / "
                    "pretrained.path given (the recipe finetunes a full-precision backbone)")
    report = quantize_model(model, cfg["quantization"])
    load_quantizer_state(model, leftover, repr(init_path))
    if report is not None:
        log.info("quantized %d layers:\n%s", report.num_quantized, report.format_table())
    else:
        log.info("full-precision model (no quantization configured)")
    return model, report


def _train(cfg, output, data, init, resume, ctx, log):
    cfg = _resolve_inputs(cfg, data, init)
    cuda = ctx.device.type == "cuda"
    amp = bool(cfg["amp"])
    if amp and not cuda:
        log.warning("amp: true needs CUDA; training in float32 on %s", ctx.device)
        amp = False
    train_set, val_set = build_datasets(cfg["data"]["root"], cfg["data"])
    num_classes = len(train_set.classes)
    if cfg["num_classes"] is not None and int(cfg["num_classes"]) != num_classes:
        raise ValueError("num_classes is {} but {} holds {} class folders; set num_classes: "
                         "null to take the dataset's count".format(
                             cfg["num_classes"], cfg["data"]["root"], num_classes))
    train_loader, val_loader, sampler = build_loaders(train_set, val_set, cfg, ctx.rank,
                                                      ctx.world_size, pin_memory=cuda)
    last = os.path.join(output, "last.pth")
    resuming = bool(resume) and os.path.exists(last)
    if resume and not resuming:
        log.warning("--resume: %s does not exist yet; starting a fresh run", last)
    log.info("%s on %s (%d process(es)): %d train / %d val images, %d classes", cfg["arch"],
             ctx.device, ctx.world_size, len(train_set), len(val_set), num_classes)
    model, report = _build_model(cfg, num_classes, cfg["pretrained"]["path"], resuming, log)
    model.to(ctx.device)
    net = model
    if ctx.distributed:
        if cfg["sync_bn"] and cuda:
            model = net = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.local_rank] if cuda else None)
    optimizer = build_optimizer(model, cfg["optimizer"])
    scheduler = build_scheduler(optimizer, cfg["schedule"], cfg["optimizer"]["lr"],
                                len(train_loader), cfg["epochs"])
    scaler = make_grad_scaler(amp)
    criterion = nn.CrossEntropyLoss(label_smoothing=float(cfg["label_smoothing"]))
    state = {"epoch": 0, "best_top1": -1.0, "best_epoch": 0, "history": []}
    if resuming:
        state = restore_training_state(last, model, optimizer, scheduler, scaler, cfg, log)
    meta = {"format": FORMAT, "arch": cfg["arch"], "num_classes": num_classes,
            "classes": list(train_set.classes)}
    if ctx.is_main:
        write_run_record(output, config=cfg, quant_report=report,
                         extra={"status": "running", "start_epoch": state["epoch"]})
    for epoch in range(state["epoch"], cfg["epochs"]):
        sampler.set_epoch(epoch)
        seed_epoch(train_loader, cfg["seed"], epoch, ctx.rank)
        tr = train_one_epoch(net, train_loader, criterion, optimizer, scheduler, ctx, epoch,
                             cfg, log, scaler)
        ev = evaluate(model, val_loader, ctx, criterion, amp, cfg["progress"])
        is_best = ev["top1"] > state["best_top1"]
        if is_best:
            state["best_top1"], state["best_epoch"] = ev["top1"], epoch + 1
        row = {"epoch": epoch + 1, "train_loss": tr["loss"], "train_top1": tr["top1"],
               "lr": tr["lr"], "val_top1": ev["top1"], "val_top5": ev["top5"],
               "val_loss": ev["loss"], "time_s": round(tr["time"], 2)}
        state["history"].append(row)
        state["epoch"] = epoch + 1
        log.info("epoch %d/%d: train loss %.4f | val top-1 %.2f top-5 %.2f | best top-1 %.2f "
                 "(epoch %d)", epoch + 1, cfg["epochs"], tr["loss"], ev["top1"], ev["top5"],
                 state["best_top1"], state["best_epoch"])
        if ctx.is_main:
            _save_epoch(output, meta, model, optimizer, scheduler, scaler, cfg, state, is_best)
            with open(os.path.join(output, "metrics.jsonl"), "a") as f:
                f.write(json.dumps(row) + "\n")
        barrier()
    if not state["history"]:
        raise ValueError("nothing was trained: epochs={} and the run starts at epoch {}".format(
            cfg["epochs"], state["epoch"]))
    final = state["history"][-1]
    result = {"top1": final["val_top1"], "top5": final["val_top5"],
              "best_top1": state["best_top1"], "best_epoch": state["best_epoch"],
              "epochs": state["epoch"], "output": output}
    log.info("final: top-1 %.2f top-5 %.2f (best top-1 %.2f at epoch %d); results in %s",
             result["top1"], result["top5"], result["best_top1"], result["best_epoch"], output)
    if ctx.is_main:
        write_run_record(output, config=cfg, quant_report=report,
                         extra={"status": "finished", "result": result})
    result["history"] = state["history"]
    return result


def _save_epoch(output, meta, model, optimizer, scheduler, scaler, cfg, state, is_best):
    from ..checkpoint import save_checkpoint

    weights = model.state_dict()
    ckpt = dict(meta, model=weights, optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                scaler=scaler.state_dict() if scaler is not None else None, rng=rng_state(),
                config=cfg, epoch=state["epoch"], best_top1=state["best_top1"],
                best_epoch=state["best_epoch"], history=state["history"])
    save_checkpoint(ckpt, os.path.join(output, "last.pth"))
    if is_best:
        best = dict(meta, model=weights, config=cfg, epoch=state["epoch"],
                    best_top1=state["best_top1"], best_epoch=state["best_epoch"],
                    history=state["history"])
        save_checkpoint(best, os.path.join(output, "model_best.pth"))
