#!/usr/bin/env python
"""Train (or evaluate) a ResNet classifier, full precision or quantization-aware.

Examples:
    python scripts/train_classifier.py --config configs/classification/smoke_resnet18_fp.yaml \\
        --data /tmp/crops --output /tmp/cls/fp
    python scripts/train_classifier.py --config configs/classification/resnet18_lsq_w2a2.yaml \\
        --data /data/imagenet --output runs/r18_lsq_w2a2 --init runs/r18_fp/model_best.pth
    torchrun --nproc_per_node 8 scripts/train_classifier.py --config ... (multi-GPU, DDP)
    python scripts/train_classifier.py --config ... --eval-only --init CKPT --data DIR
"""
import argparse
import os
import sys

from model_quantization.errors import run_cli


def build_parser():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="yaml file (configs/classification/*.yaml)")
    p.add_argument("--data", default=None, help="ImageFolder root with train/ and val/ "
                   "(default: data.root of the config)")
    p.add_argument("--output", default=None, help="run folder (required unless --eval-only)")
    p.add_argument("--init", default=None, help="checkpoint loaded before quantization (the "
                   "full-precision backbone; torchvision's or ours)")
    p.add_argument("--resume", action="store_true", help="continue the run in --output")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in an --output that already holds a run")
    p.add_argument("--eval-only", action="store_true", help="evaluate --init on the val split")
    p.add_argument("--opts", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides by dotted key, e.g. optimizer.lr=0.01 epochs=30")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from model_quantization.classification import evaluate_checkpoint, load_config, train

    cfg = load_config(args.config, args.opts)
    if args.eval_only:
        if not args.init:
            raise SystemExit("--eval-only needs --init CHECKPOINT")
        metrics = evaluate_checkpoint(cfg, args.init, data=args.data)
    else:
        if not args.output:
            raise SystemExit("--output DIR is required for training")
        metrics = train(cfg, args.output, data=args.data, init=args.init, resume=args.resume,
                        overwrite=args.overwrite)
    if os.environ.get("RANK", "0") == "0":  # one line under torchrun
        print("top-1 {:.2f} top-5 {:.2f}".format(metrics["top1"], metrics["top5"]))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
