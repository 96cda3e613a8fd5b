"""Forward+backward cost of each quantizer against PyTorch's own fake-quantize kernels.

Not a test: prints a table of ns/element (best of a few interleaved runs) for every registered
method and role at 2 bit, on a realistic activation ([16, 64, 56, 56]) and weight
([256, 256, 3, 3]) tensor, next to ``torch.fake_quantize_per_tensor_affine`` (fixed scale) and
``torch._fake_quantize_learnable_per_tensor_affine`` (learned scale, the LSQ reference) on the
same tensor. The ratio column divides by the learnable kernel for methods with a learned clip
(lsq, pact) and by the fixed kernel otherwise; the target is <= 2x. Runs on CPU, and on CUDA too
when available (synchronised). Usage: ``python benchmarks/bench_quantizers.py [--repeats N]``.
"""
import argparse
import time

import torch

from model_quantization.quantizers import QuantSpec, available_methods

TARGET = 2.0
SHAPES = {"activation": (16, 64, 56, 56), "weight": (256, 256, 3, 3)}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_interleaved(fns, device, repeats):
    """Best-of-``repeats`` seconds for each function, run in alternation so that background load
    on a shared machine hits all of them alike (the minimum is the least noisy estimate). On CPU
    this is the process CPU time (all threads), which other processes' load does not inflate;
    on CUDA wall time between synchronisations."""
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    for fn in fns:
        fn()  # warm-up (allocator, lazy init)
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            _sync(device)
            t0 = clock()
            fn()
            _sync(device)
            best[i] = min(best[i], clock() - t0)
    return best


def _fwd_bwd(fn, x, params):
    def run():
        y = fn(x)
        torch.autograd.grad(y, [x] + params, grad_outputs=torch.ones_like(y))
    return run


def _input(role, device):
    x = torch.randn(SHAPES[role], device=device)
    if role == "activation":
        x = x.relu_()
    else:
        x = x.mul_(0.05)
    return x.requires_grad_()


def _torch_kernels(x):
    scale = float(x.detach().abs().max()) / 3
    lo, hi = (0, 3) if float(x.detach().min()) >= 0 else (-2, 1)
    s = torch.tensor([scale], device=x.device, requires_grad=True)
    zp = torch.zeros(1, device=x.device)
    fixed = _fwd_bwd(lambda t: torch.fake_quantize_per_tensor_affine(t, scale, 0, lo, hi), x, [])
    learn = _fwd_bwd(lambda t: torch._fake_quantize_learnable_per_tensor_affine(
        t, s, zp, lo, hi, 1.0), x, [s])
    return fixed, learn


def bench(device, repeats):
    rows = []
    for role in ("activation", "weight"):
        x = _input(role, device)
        n = x.numel()
        fixed, learn = _torch_kernels(x)
        for method in available_methods():
            try:
                q = QuantSpec(method, bits=2).build(role, SHAPES[role]).to(device).train()
            except ValueError:
                continue  # e.g. pact has no weight role
            params = [p for p in q.parameters() if p.requires_grad]
            t, t_fixed, t_learn = (s / n * 1e9 for s in _time_interleaved(
                [_fwd_bwd(q, x, params), fixed, learn], device, repeats))
            ref = t_learn if params else t_fixed
            rows.append((device.type, role, method, t, t_fixed, t_learn, t / ref))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per entry (best of)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: the steadiest per-element figure on a "
                             "shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    print("threads={} torch={}  (ns/element, forward+backward, 2 bit; CPU: process CPU time, "
          "CUDA: wall time; ratio vs the torch kernel of the same kind, target <= {:.0f}x)"
          .format(torch.get_num_threads(), torch.__version__, TARGET))
    print("| device | role | method | ns/el | torch fq ns/el | torch learnable fq ns/el "
          "| ratio |")
    print("|" + "---|" * 7)
    for device in devices:
        for dev, role, method, t, tf, tl, ratio in bench(device, args.repeats):
            flag = "ok" if ratio <= TARGET else "OVER"
            print("| {} | {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f}x {} |".format(
                dev, role, method, t, tf, tl, ratio, flag))


if __name__ == "__main__":
    main()
