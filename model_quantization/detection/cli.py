"""Command line of ``scripts/train_det.py``: detectron2's familiar flags plus our own.

Same flags as detectron2's ``default_argument_parser`` (``--config-file``, ``--resume``,
``--eval-only``, ``--num-gpus``, ``--num-machines``, ``--machine-rank``, ``--dist-url``, trailing
``KEY VALUE`` overrides), defined here so that they parse without the forks installed, plus
``--tiny-coco``, ``--data-dir`` and ``--overwrite``. ``--num-gpus auto`` counts the GPUs this
process sees (:func:`resolve_num_gpus`, called by the script before it launches); ``--dist-url``
takes ``host:port`` as well as ``tcp://host:port``; several machines need a ``--dist-url`` of
machine 0 and GPUs (the pinned fork's launcher uses NCCL). Also the guard that keeps a run from
overwriting a finished one.
"""
import argparse
import os

from ..errors import ConfigError
from ..runrecord import check_run_folder

__all__ = ["build_parser", "parse_args", "resolve_num_gpus", "check_output_dir",
           "finished_run_files"]

_EPILOG = """Examples:
  Train:     python scripts/train_det.py --config-file configs/detection/fcos/R18-FPNBN-fp.yaml
  Resume:    python scripts/train_det.py --config-file CFG --resume
  Evaluate:  python scripts/train_det.py --config-file CFG --eval-only \\
               MODEL.WEIGHTS out/model_final.pth
  Smoke:     python scripts/train_det.py --config-file configs/detection/smoke/fcos_r18_fp.yaml \\
               --tiny-coco output/smoke/data/shapes   (the built-in set, made by make smoke)
Double initialization: set MODEL.EXTRA_WEIGHTS (full-precision detector, loaded first) and
MODEL.WEIGHTS (low-bit backbone in detectron2 names, loaded on top)."""


def _num_gpus(value):
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "{!r} is not a GPU count: give a number (0 = CPU) or auto (every GPU this process "
            "sees)".format(value)) from None


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
    parser.add_argument("--num-gpus", type=_num_gpus, default=1, metavar="N|auto",
                        help="GPUs (processes) per machine; 0 = CPU; auto = every GPU this "
                             "process sees (torch.cuda.device_count())")
    parser.add_argument("--num-machines", type=int, default=1, help="total number of machines")
    parser.add_argument("--machine-rank", type=int, default=0,
                        help="the rank of this machine (unique per machine)")
    parser.add_argument("--dist-url", default="auto",
                        help="rendezvous of machine 0 for several machines: tcp://host:port or "
                             "host:port (auto: a free local port, one machine only)")
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
    if args.num_gpus != "auto" and args.num_gpus < 0:
        parser.error("--num-gpus {} is negative: give the number of GPUs per machine, 0 to "
                     "run on the CPU, or auto".format(args.num_gpus))
    _check_machines(parser, args)
    return args


def _check_machines(parser, args):
    """--num-machines, --machine-rank and --dist-url agree; host:port becomes tcp://host:port."""
    if args.num_machines < 1:
        parser.error("--num-machines {} is not a number of machines: use 1 (this machine alone) "
                     "or the machine count of the job".format(args.num_machines))
    if not 0 <= args.machine_rank < args.num_machines:
        parser.error("--machine-rank {} is outside 0..{}: give each of the {} machine(s) its own "
                     "rank".format(args.machine_rank, args.num_machines - 1, args.num_machines))
    if args.dist_url == "auto":
        if args.num_machines > 1:
            parser.error("--dist-url auto works on one machine only: pass machine 0's address, "
                         "e.g. --dist-url node0:29500")
        return
    url = args.dist_url if "://" in args.dist_url else "tcp://" + args.dist_url
    scheme, rest = url.split("://", 1)
    host, _, port = rest.rpartition(":")
    if scheme == "tcp" and not (host and port.isdigit() and 0 < int(port) < 65536):
        parser.error("--dist-url {} is not host:port: use machine 0's address and a free port, "
                     "e.g. --dist-url {}:29500".format(args.dist_url, host or rest or "node0"))
    args.dist_url = url


def resolve_num_gpus(args, device_count=None):
    """Turn ``--num-gpus auto`` into the number of GPUs this process sees; check that several
    machines train on GPUs. Returns ``args`` (changed in place)."""
    if args.num_gpus == "auto":
        if device_count is None:
            import torch
            device_count = torch.cuda.device_count()
        args.num_gpus = device_count
        print("--num-gpus auto: {} GPU(s) visible".format(device_count), flush=True)
    if args.num_machines > 1 and args.num_gpus == 0:
        raise ConfigError("--num-machines {} needs GPUs (--num-gpus 0 or no GPU visible): "
                          "detectron2's launcher in the pinned fork uses NCCL; run several "
                          "machines with GPUs, or one machine on the CPU".format(
                              args.num_machines))
    return args


# files that mark a started or finished detector training run
FINISHED_MARKS = ("model_final.pth", "last_checkpoint")


def finished_run_files(output_dir):
    """Files in ``output_dir`` that mark a started or finished training run."""
    paths = [os.path.join(output_dir, m) for m in FINISHED_MARKS]
    return [p for p in paths if os.path.exists(p)]


def check_output_dir(output_dir, resume=False, overwrite=False, eval_only=False):
    """Refuse to train into a folder that already holds a run, unless asked to (an evaluation
    writes its own files and is never refused)."""
    if not eval_only:
        check_run_folder(output_dir, FINISHED_MARKS, resume, overwrite, name="OUTPUT_DIR",
                         elsewhere="choose another folder: OUTPUT_DIR new/path")
