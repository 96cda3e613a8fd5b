#!/usr/bin/env python
"""The CUDA path in one command (issue 12): build both forks' CUDA extensions with the project's
patches, run the GPU tests, train FCOS-R18 full precision and 2-bit (DoReFa, LSQ) with AMP off and
on, on the built-in smoke set, evaluate each, and print training images/s and the AP table.

    python scripts/gpu_check.py               # on a machine with a CUDA GPU (make gpu-check)
    python scripts/gpu_check.py --wheels wheels/ --venv output/gpu-venv
                                              # first what the machine lacks, offline, into a
                                              # venv that reuses the machine's torch
    python scripts/gpu_check.py --dry-run     # print the steps and commands, run nothing
    python scripts/gpu_check.py --rehearse    # the same on the CPU, tiny (no CUDA, no AMP)

Steps (--steps, default all): wheels (only with --wheels: pip install --no-index from that folder,
the list docker/gpu-check-requirements.txt, which `make gpu-wheels` downloads), build
(docker/install.sh forks project with FORCE_CUDA=1 and TORCH_CUDA_ARCH_LIST, then the wiring), tests
(pytest -m gpu, the forks required), train (3 detectors x AMP off/on, each evaluated at its end).
Without a CUDA GPU it stops before the first step and says so (exit status 3), unless --rehearse.
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

STEPS = ("wheels", "build", "tests", "train")
REQUIREMENTS = "docker/gpu-check-requirements.txt"
DET_FP = "configs/detection/smoke/fcos_r18_fp.yaml"
DET_LOW = "configs/detection/smoke/fcos_r18_dorefa_w2a2_double.yaml"
# name, config, overrides; the 2-bit runs start from the full-precision detector of the same check
VARIANTS = (
    ("fp", DET_FP, []),
    ("dorefa w2a2", DET_LOW, []),
    ("lsq w2a2", DET_LOW, ["MODEL.QUANTIZATION.keyword", "['dorefa', 'lsq']"]),
)
NO_GPU = ("gpu-check: no CUDA GPU here (torch {torch}: torch.cuda.is_available() is False), so "
          "nothing of the GPU part can run on this machine. Run it where there is one (make "
          "gpu-check), or rehearse the same steps on the CPU: python scripts/gpu_check.py "
          "--rehearse")


def _cuda_home():
    """CUDA_HOME if set, else the toolkit torch's extension builder finds, else the newest
    /usr/local/cuda*."""
    if os.environ.get("CUDA_HOME"):
        return os.environ["CUDA_HOME"]
    try:
        from torch.utils.cpp_extension import CUDA_HOME
    except Exception:  # an old or broken torch: fall back to the usual place
        CUDA_HOME = None
    # a toolkit has nvcc and the runtime headers (a bare /usr/local/bin/nvcc wrapper is not one)
    for home in [CUDA_HOME] + sorted(glob.glob("/usr/local/cuda*"), reverse=True):
        if home and all(os.path.exists(os.path.join(home, p))
                        for p in ("bin/nvcc", "include/cuda_runtime.h")):
            return home
    return CUDA_HOME


def build_env(arch, cuda, base=None):
    """Environment of the build step: the CUDA build for ``arch`` (``cuda`` True) or the CPU one."""
    env = dict(os.environ if base is None else base)
    env.update(MQ_FLAVOR="current", MQ_FORK_PATCHES="all", PYTHON=sys.executable,
               MAX_JOBS=env.get("MAX_JOBS") or str(os.cpu_count() or 1))
    if not cuda:
        env.pop("FORCE_CUDA", None)
        return env
    env.update(FORCE_CUDA="1", TORCH_CUDA_ARCH_LIST=arch)
    home = _cuda_home()
    if home:
        env["CUDA_HOME"] = home
    # torch's CUDA 13 wheels keep the CUDA headers (cusparse.h, ...) under nvidia/cu13/include
    include = os.path.join(sysconfig.get_paths()["purelib"], "nvidia", "cu13", "include")
    if os.path.isdir(include):
        env["CPATH"] = os.pathsep.join(p for p in (include, env.get("CPATH")) if p)
    return env


class Plan(object):
    """The steps of one check: (step, title, command, env overrides) without running anything."""

    def __init__(self, args, cuda):
        self.args = args
        self.cuda = cuda
        self.output = os.path.abspath(args.output)
        self.data = os.path.abspath(args.tiny_coco) if args.tiny_coco else os.path.join(
            self.output, "data", "shapes")
        # detectron2 times iterations after the first 3 (IterationTimer): 6 gives a figure
        self.iters = args.iters or (300 if cuda else 6)
        self.batch = args.batch or (16 if cuda else 2)
        self.amp = (False, True) if cuda else (False,)

    def num_classes(self):
        """Categories of the set's train json (the built-in set: 4), "<classes>" before it exists:
        the detectors are built for those, not COCO's 80."""
        found = sorted(glob.glob(os.path.join(self.data, "annotations", "instances_*.json")))
        if not found:
            return "<classes>"
        with open(([f for f in found if "instances_train" in f] or found)[0]) as f:
            return str(len(json.load(f)["categories"]))

    def run_dir(self, name, amp):
        return os.path.join(self.output, "det", "{}{}".format(name.replace(" ", "_"),
                                                           "_amp" if amp else ""))

    def steps(self):
        out = []
        py = sys.executable
        if "wheels" in self.args.steps and self.args.wheels:
            out.append(("wheels", "what this machine lacks, from " + self.args.wheels,
                        [py, "-m", "pip", "install", "--no-index", "--no-deps", "--find-links",
                         os.path.abspath(self.args.wheels), "-r",
                         os.path.join(ROOT, REQUIREMENTS)], {}))
        if "build" in self.args.steps:
            env = build_env(self.args.arch, self.cuda, base={})
            out.append(("build", "both forks, patched, extensions {}".format(
                "for sm_" + self.args.arch.replace(".", "") if self.cuda else "for the CPU"),
                ["bash", os.path.join(ROOT, "docker", "install.sh"), "forks", "project"], env))
            out.append(("build", "wire the detectron2 fork to this library",
                        [py, "-m", "model_quantization.compat.wire", "--detectron2",
                         os.path.join(ROOT, "forks", "detectron2"), "--check"], {}))
        if "tests" in self.args.steps:
            out.append(("tests", "the GPU tests (pytest -m gpu, forks required)",
                        [py, "-m", "pytest", "-m", "gpu", "-rs", "-q", "-p", "no:cacheprovider"],
                        {"MQ_REQUIRE_FORKS": "1"}))
        if "train" in self.args.steps:
            for amp in self.amp:
                for name, config, opts in VARIANTS:
                    out.append(("train", "{} AMP {}".format(name, "on" if amp else "off"),
                                self._train(config, opts, name, amp), {}))
        return out

    def _train(self, config, opts, name, amp):
        iters = self.iters
        weights = "" if name == "fp" else os.path.join(self.run_dir("fp", False), "model_final.pth")
        return [sys.executable, os.path.join(ROOT, "scripts", "train_det.py"),
                "--config-file", config, "--num-gpus", "1" if self.cuda else "0",
                "--tiny-coco", self.data, "--overwrite",
                "MODEL.DEVICE", "cuda" if self.cuda else "cpu", "MODEL.WEIGHTS", weights,
                "MODEL.EXTRA_WEIGHTS", "", "MODEL.FCOS.NUM_CLASSES", self.num_classes(),
                "SOLVER.AMP.ENABLED", str(amp),
                "SOLVER.IMS_PER_BATCH", str(self.batch), "SOLVER.MAX_ITER", str(iters),
                "SOLVER.STEPS", "({},)".format(max(1, iters * 4 // 5)),
                "SOLVER.WARMUP_ITERS", str(min(20, iters // 2)),
                "DATALOADER.NUM_WORKERS", "4" if self.cuda else "0",
                "OUTPUT_DIR", self.run_dir(name, amp)] + opts


def images_per_second(run_dir, batch):
    """Training images/s: batch / median iteration time over the second half of metrics.json."""
    path = os.path.join(run_dir, "metrics.json")
    if not os.path.isfile(path):
        return None
    rows = []
    with open(path) as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if "time" in row and "iteration" in row:
                rows.append(row)
    if not rows:
        return None
    last = rows[-1]["iteration"]
    late = [r["time"] for r in rows if r["iteration"] >= last / 2] or [rows[-1]["time"]]
    return batch / statistics.median(late)


def _describe_machine():
    import torch
    lines = ["python {} ({})".format(sys.version.split()[0], sys.executable),
             "torch {} (CUDA {}), cuda available: {}".format(
                 torch.__version__, torch.version.cuda, torch.cuda.is_available())]
    if torch.cuda.is_available():
        lines.append("GPU: {} (sm_{}{})".format(torch.cuda.get_device_name(0),
                                               *torch.cuda.get_device_capability(0)))
    nvcc = shutil.which("nvcc") or os.path.join(_cuda_home() or "/nonexistent", "bin", "nvcc")
    if os.path.exists(nvcc):
        out = subprocess.run([nvcc, "--version"], stdout=subprocess.PIPE, universal_newlines=True)
        lines.append("nvcc: " + (out.stdout.strip().splitlines() or ["?"])[-1])
    else:
        lines.append("nvcc: not found")
    lines.append("cpus: {}".format(os.cpu_count()))
    return lines


def _run(step, title, command, env_extra, log):
    print("\n=== gpu-check [{}] {}\n$ {}{}".format(
        step, title, "".join("{}={} ".format(k, v) for k, v in sorted(env_extra.items())),
        " ".join(command)), flush=True)
    env = dict(os.environ)
    env.update(env_extra)
    start = time.time()
    with open(log, "a") as handle:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True)
        tail = []
        for line in proc.stdout:
            handle.write(line)
            tail = (tail + [line])[-15:]
        code = proc.wait()
    seconds = time.time() - start
    if code != 0:
        sys.stdout.write("".join(tail))
    print("--- {} in {:.0f} s, exit status {} (log: {})".format(title, seconds, code, log),
          flush=True)
    return code, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.strip().splitlines()[2:]))
    parser.add_argument("--steps", default=",".join(STEPS), help="subset of " + ",".join(STEPS))
    parser.add_argument("--wheels", default=os.environ.get("MQ_WHEELS") or None, metavar="DIR",
                        help="install " + REQUIREMENTS + " from this folder first (no network)")
    parser.add_argument("--arch", default="9.0",
                        help="TORCH_CUDA_ARCH_LIST (default 9.0: H100/H200)")
    parser.add_argument("--iters", type=int, default=0,
                        help="iterations per detector (default 300 on a GPU, 6 rehearsing)")
    parser.add_argument("--batch", type=int, default=0,
                        help="images per iteration (default 16 on a GPU, 2 rehearsing)")
    parser.add_argument("--tiny-coco", default=None, metavar="DIR",
                        help="small COCO folder (default: the built-in set, made under --output)")
    parser.add_argument("--output", default=os.path.join("output", "gpu-check"))
    parser.add_argument("--rehearse", action="store_true",
                        help="no GPU needed: CPU build, GPU tests (they skip), AMP off only")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    parser.add_argument("--venv", default=None, metavar="DIR",
                        help="run every step in this virtual environment, made on first use with "
                             "--system-site-packages (so that it reuses the machine's torch)")
    args = parser.parse_args(argv)
    here = os.path.realpath(sys.prefix)
    if args.venv and not args.dry_run and here != os.path.realpath(args.venv):
        python = os.path.join(args.venv, "bin", "python")
        if not os.path.exists(python):
            print("gpu-check: making {} (--system-site-packages)".format(args.venv), flush=True)
            subprocess.check_call([sys.executable, "-m", "venv", "--system-site-packages",
                                   args.venv])
        argv = sys.argv[1:] if argv is None else list(argv)
        os.execv(python, [python, os.path.abspath(__file__)] + argv)
    args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        parser.error("unknown step(s) {}: choose from {}".format(unknown, ",".join(STEPS)))

    import torch
    has_gpu = torch.cuda.is_available()
    cuda = has_gpu and not args.rehearse
    plan = Plan(args, cuda=cuda or (args.dry_run and not args.rehearse))
    for line in _describe_machine():
        print("gpu-check: " + line)
    if args.dry_run:
        print("gpu-check: plan ({}), {} iterations x {} images per detector:".format(
            "GPU" if plan.cuda else "CPU rehearsal", plan.iters, plan.batch))
        for step, title, command, env in plan.steps():
            print("  [{}] {}\n      {}{}".format(step, title, "".join(
                "{}={} ".format(k, v) for k, v in sorted(env.items())), " ".join(command)))
        return 0
    if not has_gpu and not args.rehearse:
        print(NO_GPU.format(torch=torch.__version__), flush=True)
        return 3
    if args.rehearse:
        print("gpu-check: REHEARSAL on the CPU: extensions built without CUDA, GPU tests skip, "
              "AMP off only, {} iterations; no figure of this run is a GPU figure".format(
                  plan.iters))
    os.makedirs(plan.output, exist_ok=True)
    log = os.path.join(plan.output, "gpu-check.log")
    results, failed = [], []
    queue = [s for s in plan.steps() if s[0] != "train"] + [None]
    while queue:
        item = queue.pop(0)
        if item is None:  # the training commands, once the set exists (they read its classes)
            if failed or "train" not in args.steps:
                break
            if not args.tiny_coco:  # after the wheels step: the generator needs numpy and Pillow
                from model_quantization.detection.shapes import make_shapes
                make_shapes(plan.data, seed=1)
            queue = [s for s in plan.steps() if s[0] == "train"]
            continue
        step, title, command, env = item
        code, seconds = _run(step, title, command, env, log)
        results.append((step, title, code, seconds))
        if code != 0:
            failed.append(title)
            if step in ("wheels", "build"):
                break
        if step == "build" and title.startswith("wire"):
            check = subprocess.run([sys.executable, "-m", "pip", "check"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, universal_newlines=True)
            print("gpu-check: pip check (information; the wheel list carries only what runs): "
                  + (check.stdout.strip().replace("\n", "; ") or "ok"))
    _summary(plan, results)
    return 1 if failed else 0


def _summary(plan, results):
    from model_quantization.detection.evaluation import (
        EVAL_FILE,
        box_ap,
        format_ap_table,
        read_eval_metrics,
    )
    print("\n=== gpu-check summary ({}) ===".format(
        "GPU" if plan.cuda else "CPU REHEARSAL, not GPU figures"))
    for step, title, code, seconds in results:
        print("  {:<8s} {:<48s} {:7.0f} s  {}".format(
            step, title, seconds, "ok" if code == 0 else "FAILED ({})".format(code)))
    rows = []
    for amp in plan.amp:
        for name, _, _ in VARIANTS:
            run = plan.run_dir(name, amp)
            if not os.path.isdir(run):
                continue
            path = os.path.join(run, EVAL_FILE)
            data = read_eval_metrics(path) if os.path.isfile(path) else None
            rows.append((name, amp, images_per_second(run, plan.batch),
                         box_ap(data) if data else None, data["results"] if data else None))
    if not rows:
        return
    print("\ntraining speed and box AP ({} iterations x {} images, {}):".format(
        plan.iters, plan.batch, "on the GPU" if plan.cuda else "on the CPU"))
    print("  {:<12s} {:<4s} {:>10s} {:>8s}".format("detector", "AMP", "images/s", "box AP"))
    for name, amp, ips, ap, _ in rows:
        print("  {:<12s} {:<4s} {:>10s} {:>8s}".format(
            name, "on" if amp else "off", "-" if ips is None else "{:.1f}".format(ips),
            "-" if ap is None else "{:.1f}".format(ap)))
    for name, amp, _, _, res in rows:
        if res:
            print("\nCOCO AP, {} AMP {}:\n{}".format(name, "on" if amp else "off",
                                                    format_ap_table(res)))


if __name__ == "__main__":
    sys.exit(main())
