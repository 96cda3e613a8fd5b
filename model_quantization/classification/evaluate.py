"""Evaluate a classifier checkpoint (ours or torchvision's) on an ImageFolder ``val/`` split."""
import os

from torch import nn

from ..checkpoint import load_checkpoint
from .data import build_transforms, load_image_folder
from .distributed import setup_distributed
from .engine import evaluate
from .model import build_model, load_init_weights, load_quantizer_state, quantize_model

__all__ = ["evaluate_checkpoint"]


def evaluate_checkpoint(cfg, checkpoint, data=None, log=print):
    """Top-1/top-5 of ``checkpoint`` on ``<data>/<val_dir>``, with the model the config
    describes (arch and quantization). Returns ``{"top1", "top5", "loss", "count"}``."""
    root = data or cfg["data"]["root"]
    if not root:
        raise ValueError("no dataset given: pass --data DIR (holding val/) or set data.root")
    _, val_tf = build_transforms(cfg["data"])
    val_set = load_image_folder(os.path.join(os.fspath(root), cfg["data"]["val_dir"]), val_tf,
                            "validation")
    ckpt = load_checkpoint(checkpoint)
    arch = ckpt.get("arch") if isinstance(ckpt, dict) else None
    if arch and arch != cfg["arch"]:
        raise ValueError("checkpoint {!r} is a {} but the config says arch: {}; pass the config "
                         "of that run or --opts arch={}".format(
                             checkpoint, arch, cfg["arch"], arch))
    classes = ckpt.get("classes") if isinstance(ckpt, dict) else None
    if classes is not None and list(classes) != list(val_set.classes):
        raise ValueError("checkpoint {!r} was trained on classes {}... but {!r} holds {}...; "
                         "evaluate on the dataset it was trained for".format(
                             checkpoint, list(classes)[:4], root, val_set.classes[:4]))
    ctx = setup_distributed(cfg["device"])
    try:
        model = build_model(cfg["arch"], cfg["num_classes"] or len(val_set.classes))
        leftover = load_init_weights(model, checkpoint, skip=(), log=log)
        quantize_model(model, cfg["quantization"])
        load_quantizer_state(model, leftover, repr(checkpoint))
        model.to(ctx.device)
        from torch.utils.data import DataLoader

        from .data import ShardSampler
        loader = DataLoader(val_set, batch_size=int(cfg["eval_batch_size"] or cfg["batch_size"]),
                            sampler=ShardSampler(len(val_set), ctx.rank, ctx.world_size),
                            num_workers=int(cfg["workers"]))
        return evaluate(model, loader, ctx, nn.CrossEntropyLoss(), progress=cfg["progress"])
    finally:
        ctx.close()
