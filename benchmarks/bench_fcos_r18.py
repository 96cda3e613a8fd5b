#!/usr/bin/env python
"""FCOS-R18 speed, full precision vs 2-bit (DoReFa-Net and LSQ), side by side on this machine.

Builds the forks' FCOS-R18 FPN-BN three times from the project configs (full precision, DoReFa
W2/A2 quantize-all, the same with LSQ quantizers), feeds every model the same real batch from a
small COCO folder and reports the median time of one training iteration (forward, backward,
SGD step) and of one inference image, plus the ratios to full precision, of the medians and of
the fastest repetitions ("best-of": what the model costs when the shared machine's other load
happens to leave it alone, as ``timeit`` reports). The variants take turns
within each round, starting with a different one each round, so that a shared machine's load changes
and the order's own effects (caches, allocator) hit all of them alike. Aims (issue 12): training
<= 1.10x, inference <= 1.05x on a CPU. Needs the pinned forks.

Freed memory: glibc hands large freed blocks back to the kernel, so the next iteration's tensors
page-fault again, and the model that allocates more (the quantized one) pays more for it, in system
time, on top of its computation (on a GPU the caching allocator keeps memory). By default the script
asks glibc to keep freed memory (``mallopt``: no trimming, ``mmap`` only above 32 MiB) for every
variant alike; ``--glibc-default`` measures with glibc's defaults. The page faults per training
iteration are printed either way.

``--ablate`` adds the DoReFa model three more times: activation quantizers off, weight quantizers
off, both off (the quantized layers' code path alone). The differences to the full model say where
the extra time goes.

    python benchmarks/bench_fcos_r18.py --tiny-coco output/smoke/data/shapes --iters 3
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import resource
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FP = "configs/detection/fcos/R18-FPNBN-fp.yaml"
LOW = "configs/detection/fcos/R18-FPNBN-dorefa-w2a2-all.yaml"
VARIANTS = (
    ("fp", FP, []),
    ("dorefa w2a2", LOW, []),
    ("lsq w2a2", LOW, ["MODEL.QUANTIZATION.keyword", "['dorefa', 'lsq']",
                       "MODEL.QUANTIZATION.wt_quant_group", "1",
                       "MODEL.QUANTIZATION.wt_adaptive", "var-mean"]),
)
TARGETS = {"train": 1.10, "inference": 1.05}
ABLATIONS = (("dorefa weights only", "quant_activation"),
             ("dorefa activations only", "quant_weight"),
             ("dorefa quantizers off", "quant_"))


def _build(config, opts, args):
    from detectron2.modeling import build_model

    from model_quantization.detection.trainer import count_quantized, merge_config
    size = ["INPUT.MIN_SIZE_TRAIN", "({},)".format(args.min_size), "INPUT.MAX_SIZE_TRAIN",
            str(int(args.min_size * 5 / 3)), "INPUT.MIN_SIZE_TEST", str(args.min_size),
            "INPUT.MAX_SIZE_TEST", str(int(args.min_size * 5 / 3))]
    common = ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "", "MODEL.EXTRA_WEIGHTS", "",
              "DATASETS.TRAIN", "('tiny_coco_train',)", "DATASETS.TEST", "('tiny_coco_val',)",
              "SOLVER.IMS_PER_BATCH", str(args.batch), "DATALOADER.NUM_WORKERS", "0",
              "DATALOADER.ASPECT_RATIO_GROUPING", "False"]
    cfg = merge_config(os.path.join(ROOT, config), common + size + opts)
    cfg.freeze()
    torch.manual_seed(0)
    model = build_model(cfg)
    return cfg, model, count_quantized(model)


def _batch(cfg, args):
    from adet.data.dataset_mapper import DatasetMapperWithBasis
    from detectron2.data import build_detection_train_loader

    from model_quantization.detection.datasets import register_datasets
    register_datasets(["tiny_coco_train", "tiny_coco_val"], tiny_coco=args.tiny_coco)
    torch.manual_seed(0)
    loader = build_detection_train_loader(cfg, mapper=DatasetMapperWithBasis(cfg, True))
    return next(iter(loader))


def _train_step(model, optimizer, batch):
    def step():
        losses = model(batch)
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    return step


def _infer_step(model, image):
    def step():
        with torch.no_grad():
            model(image)
    return step


def _keep_freed_memory():
    """Ask glibc to keep freed memory in the process (see the module doc); False elsewhere."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None)
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(mallopt and mallopt(m_trim_threshold, 1 << 30) and
                mallopt(m_mmap_threshold, 32 << 20))


def _interleaved(steps, warmup, iters):
    """Median seconds and minor page faults per call of every step, the variants taking turns
    within each round (a different one first each round)."""
    times = {name: [] for name in steps}
    faults = {name: [] for name in steps}
    names = list(steps)
    for round_index in range(warmup + iters):
        first = round_index % len(names)
        for name in names[first:] + names[:first]:
            step = steps[name]
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            step()
            if round_index >= warmup:
                times[name].append(time.perf_counter() - start)
                faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return ({name: statistics.median(t) for name, t in times.items()},
            {name: min(t) for name, t in times.items()},
            {name: statistics.median(f) for name, f in faults.items()})


def _switch_off(model, suffix):
    """Turn off the quantizers of the quantized convs whose attribute name starts with ``suffix``
    (``quant_activation``, ``quant_weight``, or ``quant_`` for both); returns how many."""
    count = 0
    for name, module in model.named_modules():
        core = getattr(module, "quantizer", None)
        if core is not None and name.rsplit(".", 1)[-1].startswith(suffix):
            core.enabled = False
            count += 1
    return count


def measure_all(args):
    models, batch, n_quant = {}, None, {}
    for name, config, opts in VARIANTS:
        cfg, models[name], n_quant[name] = _build(config, opts, args)
        if batch is None:
            batch = _batch(cfg, args)
    for name, suffix in ABLATIONS if args.ablate else ():
        _, models[name], n_quant[name] = _build(LOW, [], args)
        if not _switch_off(models[name], suffix):
            raise RuntimeError("{}: no quantizer matched {!r}".format(name, suffix))
    train_steps = {}
    for name, model in models.items():
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        train_steps[name] = _train_step(model, torch.optim.SGD(params, lr=1e-4, momentum=0.9),
                                        batch)
    train, train_best, faults = _interleaved(train_steps, args.warmup, args.iters)
    image = [{k: v for k, v in batch[0].items() if k != "instances"}]
    for model in models.values():
        model.eval()
    infer, infer_best, _ = _interleaved({n: _infer_step(m, image) for n, m in models.items()},
                                        args.warmup, args.iters)
    return {name: {"train_s": train[name], "inference_s": infer[name],
                   "train_best_s": train_best[name], "inference_best_s": infer_best[name],
                   "train_page_faults": faults[name], "quantized_layers": n_quant[name]}
            for name in models}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--tiny-coco", default=os.environ.get("TINY_COCO") or os.path.join(
        ROOT, os.pardir, "shared", "data", "tiny_coco"), help="small COCO folder")
    parser.add_argument("--min-size", type=int, default=800, help="shorter image side")
    parser.add_argument("--batch", type=int, default=2, help="images per training iteration")
    parser.add_argument("--iters", type=int, default=3, help="timed repetitions (median)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--ablate", action="store_true",
                        help="also time DoReFa with activation / weight / all quantizers off")
    parser.add_argument("--glibc-default", action="store_true",
                        help="leave glibc's memory trimming as it is (see the module doc)")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    kept = False if args.glibc_default else _keep_freed_memory()
    print("freed memory: {}".format("kept in the process (mallopt)" if kept else
                                    "glibc's defaults"), flush=True)
    results = measure_all(args)
    for name in results:
        print("{:<24s} train {:7.3f} s/iter ({:.0f} page faults)  inference {:7.3f} s/image  "
              "({} quantized layers)".format(
                  name, results[name]["train_s"], results[name]["train_page_faults"],
                  results[name]["inference_s"], results[name]["quantized_layers"]), flush=True)
    fp = results["fp"]
    print("\n| model | train s/iter | x FP (target <= {train}) | best-of x FP | "
          "inference s/image | x FP (target <= {inference}) | best-of x FP |".format(**TARGETS))
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        for kind in ("train", "inference"):
            r[kind + "_ratio"] = r[kind + "_s"] / fp[kind + "_s"]
            r[kind + "_best_ratio"] = r[kind + "_best_s"] / fp[kind + "_best_s"]
        print("| {} | {:.3f} | {:.2f} | {:.2f} | {:.3f} | {:.2f} | {:.2f} |".format(
            name, r["train_s"], r["train_ratio"], r["train_best_ratio"], r["inference_s"],
            r["inference_ratio"], r["inference_best_ratio"]))
    info = {"min_size": args.min_size, "batch": args.batch, "iters": args.iters,
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "freed_memory_kept": kept,
            "results": results, "targets": TARGETS}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(info, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
