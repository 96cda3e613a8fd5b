"""Command line of ``scripts/train_det.py``: detectron2's familiar flags plus our own.

Same flags as detectron2's ``default_argument_parser`` (``--config-file``, ``--resume``,
``--eval-only``, ``--num-gpus``, ``--num-machines``, ``--machine-rank``, ``--dist-url``, trailing
``KEY VALUE`` overrides), defined here so that they parse without the forks installed, plus
``--tiny-coco``, ``--data-dir`` and ``--overwrite``. Also the guard that keeps a run from
overwriting a finished one.
"""
import argparse
import os

__all__ = ["build_parser", "parse_args", "check_output_dir", "finished_run_files"]

_EPILOG = """Examples:
  Train:     python scripts/train_det.py --config-file configs/detection/fcos/R18-FPNBN-fp.yaml
  Resume:    python scripts/train_det.py --config-file CFG --resume
  Evaluate:  python scripts/train_det.py --config-file CFG --eval-only \\
               MODEL.WEIGHTS out/model_final.pth
  Smoke:     python scripts/train_det.py --config-file configs/detection/smoke/fcos_r18_fp.yaml \\
               --tiny-coco output/smoke/data/shapes   (the built-in set, made by make smoke)
Double initialization: set MODEL.EXTRA_WEIGHTS (full-precision detector, loaded first) and
MODEL.WEIGHTS (low-bit backbone in detectron2 names, loaded on top)."""


def build_parser():
    """The argument parser (detectron2-compatible flags + ours)."""
    parser = argparse.ArgumentParser(
        description="Train or evaluate a (quantized) detector with the pinned forks: AdelaiDet's "
                    "trainer for FCOS (OneStageDetector), detectron2's for RetinaNet.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default="", metavar="FILE", required=True,
                        help="detector config (detectron2 yaml with _BASE_)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUTPUT_DIR's last checkpoint (quantizer state "
                             "included); without it, start from MODEL.WEIGHTS")
    parser.add_argument("--eval-only", action="store_true",
                        help="only evaluate MODEL.WEIGHTS; print the COCO AP table and save it "
                             "as eval_metrics.json in OUTPUT_DIR")
    parser.add_argument("--num-gpus", type=int, default=1, help="GPUs per machine (0 = CPU)")
    parser.add_argument("--num-machines", type=int, default=1, help="total number of machines")
    parser.add_argument("--machine-rank", type=int, default=0,
                        help="the rank of this machine (unique per machine)")
    parser.add_argument("--dist-url", default="auto",
                        help="initialization URL for torch.distributed (auto: a free local port)")
    parser.add_argument("--tiny-coco", default=os.environ.get("TINY_COCO") or None, metavar="DIR",
                        help="small COCO-format folder (images/, annotations/instances_*.json) "
                             "registered as tiny_coco_train / tiny_coco_val (default: $TINY_COCO)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder holding coco/ (default: $DATA_DIR, else ./datasets)")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow training into an OUTPUT_DIR that holds a finished run")
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=[],
                        help="config overrides as KEY VALUE pairs, e.g. SOLVER.MAX_ITER 100")
    return parser


def parse_args(argv=None):
    """Parse ``argv``; checks that overrides come in KEY VALUE pairs."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.opts and args.opts[0] == "--":
        args.opts = args.opts[1:]
    if len(args.opts) % 2:
        parser.error("config overrides must be KEY VALUE pairs; got an odd number: {}".format(
            " ".join(args.opts)))
    for key in args.opts[::2]:
        if key.startswith("-"):
            parser.error("unknown option {!r} among the config overrides (options go before the "
                         "KEY VALUE pairs; see --help)".format(key))
    if args.num_gpus < 0:
        parser.error("--num-gpus {} is negative: give the number of GPUs per machine, or 0 to "
                     "run on the CPU".format(args.num_gpus))
    return args


def finished_run_files(output_dir):
    """Files in ``output_dir`` that mark a started or finished training run."""
    marks = ("model_final.pth", "last_checkpoint")
    paths = [os.path.join(output_dir, m) for m in marks]
    return [p for p in paths if os.path.exists(p)]


def check_output_dir(output_dir, resume=False, overwrite=False, eval_only=False):
    """Refuse to train into a folder that already holds a run, unless asked to."""
    if eval_only or resume or overwrite:
        return
    found = finished_run_files(output_dir)
    if found:
        raise FileExistsError(
            "OUTPUT_DIR {!r} already holds a run ({}); pass --resume to continue it, "
            "--overwrite to train over it, or choose another folder: OUTPUT_DIR new/path".format(
                output_dir, ", ".join(os.path.basename(f) for f in found)))
