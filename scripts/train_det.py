#!/usr/bin/env python
"""Train or evaluate a detector with the pinned forks (FCOS: AdelaiDet, RetinaNet: detectron2).

detectron2-style command line: --config-file, --num-gpus, --num-machines, --machine-rank,
--dist-url, --resume, --eval-only and trailing KEY VALUE overrides, plus --tiny-coco, --data-dir
and --overwrite; --num-gpus auto uses every GPU this process sees. MODEL.EXTRA_WEIGHTS turns on
double initialization. See --help.
"""
import sys

from model_quantization.detection.cli import parse_args, resolve_num_gpus
from model_quantization.errors import run_cli


def run(argv=None):
    args = resolve_num_gpus(parse_args(argv))
    from model_quantization.detection.trainer import _import_forks, main, uses_adelaidet
    _import_forks(uses_adelaidet(args.config_file))
    from detectron2.engine import launch
    print("Command line arguments:", args, flush=True)
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(run))
