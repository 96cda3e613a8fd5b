#!/usr/bin/env python
"""Cost of fake quantization on torchvision ResNet-18: float vs every conv at W2/A2.

Prints, per device (CPU, and CUDA when available) and per variant (float, lsq, dorefa), the
training-step time (forward + backward + SGD step), the inference time (eval, no_grad) and the
peak memory of a training step, each with its ratio to float. Times are medians: process CPU
time on CPU (use ``--threads 1`` on a shared machine), wall time on CUDA. Targets: training
<= 1.25x, memory <= 1.3x, inference <= 1.15x. Not a test: figures depend on the machine.

Each variant runs in its own subprocess so its memory high-water mark is its own. Memory on CPU
is the growth of the process's peak RSS (``resource.ru_maxrss``) from just before the first step
to the end (the torch import and the model itself are excluded); on CUDA it is
``torch.cuda.max_memory_allocated`` after a reset.

    python benchmarks/bench_resnet18.py                       # batch 16, 224 px, 20 iters
    python benchmarks/bench_resnet18.py --batch 4 --size 112 --iters 3 --devices cpu   # quick
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

VARIANTS = ("float", "lsq", "dorefa")
TARGETS = {"train": 1.25, "memory": 1.3, "infer": 1.15}


def build_model(variant, bits):
    import torchvision

    from model_quantization.convert import convert_model
    from model_quantization.quantizers import QuantSpec

    model = torchvision.models.resnet18()  # random init (no `weights=`: torchvision 0.11 lacks it)
    if variant != "float":
        spec = QuantSpec(variant, bits=bits)
        convert_model(model, weight=spec, activation=spec, exclude=["fc"])
    return model


def _timed(fn, iters, warmup, sync, clock):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        start = clock()
        fn()
        sync()
        times.append(clock() - start)
    return statistics.median(times) * 1000.0


def run_child(variant, device, args):
    """Measure one variant on one device; print one JSON line."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(variant, args.bits).to(device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    y = torch.randint(0, 1000, (args.batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    # CPU: the process's CPU time, which other load on a shared machine disturbs far less than
    # wall time (exact with --threads 1; with more threads it sums over them). CUDA: wall time.
    clock = time.perf_counter if cuda else time.process_time

    def train_step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    def infer_step():
        with torch.no_grad():
            model(x)

    model.train()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    train_ms = _timed(train_step, args.iters, args.warmup, sync, clock)
    if cuda:
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    model.eval()
    infer_ms = _timed(infer_step, args.iters, args.warmup, sync, clock)
    print(json.dumps({"variant": variant, "device": device, "train_ms": train_ms,
                      "infer_ms": infer_ms, "memory_mb": peak / 2 ** 20}))


def measure(variant, device, args):
    cmd = [sys.executable, __file__, "--child", variant, "--device", device,
           "--batch", str(args.batch), "--size", str(args.size), "--iters", str(args.iters),
           "--warmup", str(args.warmup), "--bits", str(args.bits), "--threads", str(args.threads)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure_rounds(variants, device, args):
    """Run the variants in turn ``rounds`` times (interleaved, so a burst of load elsewhere on
    the machine hits all of them); keep each figure's minimum over the rounds."""
    best = {}
    for _ in range(args.rounds):
        for v in variants:
            r = measure(v, device, args)
            if v not in best:
                best[v] = r
            else:
                for key in ("train_ms", "infer_ms", "memory_mb"):
                    best[v][key] = min(best[v][key], r[key])
    return [best[v] for v in variants]


def report(results):
    base = {r["device"]: r for r in results if r["variant"] == "float"}
    print("| device | variant | train ms | train x | infer ms | infer x | peak MB | memory x |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        f = base[r["device"]]
        cells = [r["device"], r["variant"]]
        for key, target in (("train_ms", "train"), ("infer_ms", "infer"), ("memory_mb", "memory")):
            ratio = r[key] / f[key] if f[key] > 0 else float("nan")
            mark = "" if r["variant"] == "float" else (
                " ok" if ratio <= TARGETS[target] else " OVER {}".format(TARGETS[target]))
            cells += ["{:.1f}".format(r[key]), "{:.2f}{}".format(ratio, mark)]
        print("| " + " | ".join(cells) + " |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--iters", type=int, default=20, help="timed iterations (median reported)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--bits", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1, help="interleaved repeats, minimum kept")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--devices", default=None, help="comma list, default: cpu (+cuda if present)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        run_child(args.child, args.device, args)
        return 0
    import torch

    devices = args.devices.split(",") if args.devices else (
        ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    variants = [v for v in args.variants.split(",") if v]
    if "float" not in variants:
        variants.insert(0, "float")
    print("torch {}, threads {}, batch {}, {} px, {} timed iters x {} rounds, W{}/A{} on every "
          "conv (fc float); load average {:.1f}".format(
              torch.__version__, args.threads or torch.get_num_threads(), args.batch, args.size,
              args.iters, args.rounds, args.bits, args.bits, os.getloadavg()[0]))
    results = [r for d in devices for r in measure_rounds(variants, d, args)]
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
