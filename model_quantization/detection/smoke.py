"""The smoke recipe: every step of the reproduction, tiny, on a CPU, in minutes.

Steps (``--steps cls,export,det``; default all), each a subprocess of the project's own entry
points, so the run is the same natively and in the image:

1. ``cls``: classification set from object crops of the small COCO folder
   (``scripts/make_cls_crops.py``), then a full-precision ResNet-18 and a DoReFa-Net W2/A2 one
   initialised from it (``scripts/train_classifier.py`` with the smoke configs);
2. ``export``: both classifiers to detectron2 names (``scripts/export_detectron2.py``);
3. ``det`` (needs the forks): FCOS-R18 full precision, then the 2-bit quantize-all detector with
   double initialization, then a COCO evaluation of the saved 2-bit checkpoint.

When detectron2/AdelaiDet are not importable the ``det`` step is reported as skipped, with the
import error's last line, and the exit status reflects only the steps that ran; where the forks
are required (``MQ_REQUIRE_FORKS=1``: the image, or ``make smoke REQUIRE_FORKS=1``) it fails.
Each step's wall time and the final AP table are printed.
"""
import glob
import json
import os
import subprocess
import sys
import time

from .. import recipe
from . import forks
from .evaluation import EVAL_FILE, box_ap, format_ap_table, read_eval_metrics
from .experiments import repo_root
from .shapes import make_shapes

__all__ = ["STEPS", "SKIP_MESSAGE", "SmokePlan", "forks_import_error", "find_checkpoint",
           "run_smoke"]

STEPS = ("cls", "export", "det")
# Floors of the learning checks on the built-in set (top-1 in %, box AP in COCO points). Measured on
# 2 CPU cores, torch 2.14.1 (README, "Quick start"): classifiers 95.1 and 66.7, FP detector 15.9,
# 2-bit double-init detector 7.4 (6.6 before the training weight cache changed the order in which
# the shared head's gradients are summed); the same 2-bit run with only the low-bit backbone
# loaded reached 3.9 (both times), with nothing loaded 0.3. The 2-bit floor sits between, so that
# a double initialization that loads nothing, or only the backbone, fails the run.
LEARNING_FLOORS = {"classifier fp": 50.0, "classifier dorefa w2a2": 40.0, "detector fp": 8.0,
                   "evaluate dorefa w2a2": 4.5}
SKIP_MESSAGE = ("detection smoke: skipped, {} (run in the cpu image: make smoke, or after "
                "make install-forks; REQUIRE_FORKS=1 makes this an error)")
CLS_FP = "configs/classification/smoke_resnet18_fp.yaml"
CLS_LOW = "configs/classification/smoke_resnet18_dorefa_w2a2.yaml"
DET_FP = "configs/detection/smoke/fcos_r18_fp.yaml"
DET_LOW = "configs/detection/smoke/fcos_r18_dorefa_w2a2_double.yaml"
_CHECKPOINT_NAMES = ("model_best.pth", "model_final.pth", "checkpoint_last.pth", "last.pth",
                     "checkpoint.pth")


def forks_import_error(python=None):
    """``None`` when ``python`` (default: this interpreter) imports the forks from the project
    root, else the last line of the import error."""
    return forks.import_error(python)


def find_checkpoint(folder):
    """The checkpoint a classifier run left in ``folder`` (best, else final, else newest)."""
    for name in _CHECKPOINT_NAMES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    found = sorted(glob.glob(os.path.join(folder, "**", "*.pth"), recursive=True),
                   key=os.path.getmtime)
    if not found:
        raise FileNotFoundError("no checkpoint (*.pth) in {!r}: did the classification step "
                                "run? (--steps cls)".format(folder))
    return found[-1]


class SmokePlan(object):
    """Paths and commands of one smoke run (built without running anything)."""

    def __init__(self, output, tiny_coco=None, seed=1, python=None, overwrite=False):
        self.output = os.path.abspath(output)
        # no folder given: the built-in set, generated under the output folder on first use
        self.builtin = tiny_coco is None
        self.tiny_coco = (os.path.join(self.output, "data", "shapes") if self.builtin
                          else os.path.abspath(tiny_coco))
        self.seed = int(seed)
        self.python = python or sys.executable
        self.overwrite = overwrite
        self.crops = os.path.join(self.output, "crops")
        self.cls_fp = os.path.join(self.output, "cls", "resnet18_fp")
        self.cls_low = os.path.join(self.output, "cls", "resnet18_dorefa_w2a2")
        self.export_fp = os.path.join(self.output, "export", "resnet18_fp_d2.pth")
        self.export_low = os.path.join(self.output, "export", "resnet18_dorefa_w2a2_d2.pth")
        self.det_fp = os.path.join(self.output, "det", "fcos_r18_fp")
        self.det_low = os.path.join(self.output, "det", "fcos_r18_dorefa_w2a2_double")
        self.det_eval = os.path.join(self.output, "det", "fcos_r18_dorefa_w2a2_double_eval")

    def _script(self, name):
        return [self.python, os.path.join(repo_root(), "scripts", name)]

    def prepare_data(self):
        """Generate the built-in set when no folder was given (seconds; reused when complete)."""
        if self.builtin:
            make_shapes(self.tiny_coco, seed=self.seed)
        return self.tiny_coco

    def _crop_annotations(self):
        """The crops come from the training split where the folder has one (the built-in set),
        every object of it (a real COCO folder: the 40 of each class kept by default)."""
        train = os.path.join(self.tiny_coco, "annotations", "instances_train.json")
        if self.builtin or os.path.isfile(train):
            return ["--annotations", train] + (["--max-per-class", "0"] if self.builtin else [])
        return []

    # The classifier, export and detector commands are the recipe's (model_quantization.recipe's
    # builders, the same as make train-<experiment> runs), over the smoke's paths and configs.
    def cls_commands(self):
        flags = ["--overwrite"] if self.overwrite else []
        seed = flags + ["--opts", "seed={}".format(self.seed)]
        return [
            ("crops", self._script("make_cls_crops.py") + [
                "--coco", self.tiny_coco, "--output", self.crops, "--seed", str(self.seed)]
             + self._crop_annotations() + flags),
            ("classifier fp", [self.python] + recipe.classifier_argv(
                CLS_FP, self.crops, self.cls_fp) + seed),
            ("classifier dorefa w2a2", [self.python] + recipe.classifier_argv(
                CLS_LOW, self.crops, self.cls_low, init="{fp_checkpoint}") + seed),
        ]

    def export_commands(self):
        extra = ["--overwrite"] if self.overwrite else []
        return [
            ("export fp", [self.python] + recipe.export_argv(
                "{fp_checkpoint}", self.export_fp, "resnet18") + extra),
            ("export dorefa w2a2", [self.python] + recipe.export_argv(
                "{low_checkpoint}", self.export_low, "resnet18") + extra),
        ]

    def det_commands(self):
        launch = ["--num-gpus", "0"]
        flags = ["--tiny-coco", self.tiny_coco] + (["--overwrite"] if self.overwrite else [])
        seed = ["SEED", str(self.seed), "MODEL.DEVICE", "cpu"]
        fp_final = os.path.join(self.det_fp, "model_final.pth")
        low_final = os.path.join(self.det_low, "model_final.pth")
        return [
            # evaluated at the end too: its AP is one of the learning checks
            ("detector fp", [self.python] + recipe.detector_argv(
                DET_FP, launch, flags, weights=self.export_fp, output=self.det_fp) + seed),
            ("detector dorefa w2a2 double-init", [self.python] + recipe.detector_argv(
                DET_LOW, launch, flags, weights=self.export_low, extra=fp_final,
                output=self.det_low) + seed),
            ("evaluate dorefa w2a2", [self.python] + recipe.detector_argv(
                DET_LOW, launch, flags, weights=low_final, extra="", output=self.det_eval,
                eval_only=True) + seed),
        ]


def _fill(command, values):
    return [part.format(**values) if "{" in part else part for part in command]


def _run(title, command, timings, cwd):
    print("\n=== smoke: {} ===\n$ {}".format(title, " ".join(command)), flush=True)
    start = time.time()
    code = subprocess.call(command, cwd=cwd)
    timings.append((title, time.time() - start, code))
    if code != 0:
        print("smoke: step {!r} failed with exit status {}".format(title, code), flush=True)
    return code == 0


def run_smoke(steps, output, tiny_coco=None, seed=1, overwrite=False):
    """Run the selected steps; return the exit status (0 when every step that ran passed, and,
    on the built-in set, every learning check cleared its floor)."""
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError("unknown smoke step(s) {}; choose from {}".format(unknown, list(STEPS)))
    plan = SmokePlan(output, tiny_coco, seed=seed, overwrite=overwrite)
    os.makedirs(plan.output, exist_ok=True)
    start = time.time()
    plan.prepare_data()
    print("smoke data: {} ({})".format(plan.tiny_coco, "built-in set, generated in {:.1f} s"
                                       .format(time.time() - start) if plan.builtin
                                       else "given with --tiny-coco / TINY_COCO"), flush=True)
    timings, skipped, ok = [], [], True
    values = {}
    for step in STEPS:
        if step not in steps or not ok:
            continue
        error = forks_import_error() if step == "det" else None
        if error is not None:
            if forks.required():
                failure = ("detection smoke: FAILED, {}; the forks are required here ({}=1): "
                           "make install-forks, or rebuild the image".format(
                               forks.describe(error), forks.REQUIRE_ENV))
                print(failure, flush=True)
                skipped.append(failure)
                ok = False
                continue
            message = SKIP_MESSAGE.format(forks.describe(error))
            skipped.append(message)
            print(message, flush=True)
            continue
        commands = {"cls": plan.cls_commands, "export": plan.export_commands,
                    "det": plan.det_commands}[step]()
        for title, command in commands:
            if "{fp_checkpoint}" in " ".join(command) and "fp_checkpoint" not in values:
                values["fp_checkpoint"] = find_checkpoint(plan.cls_fp)
            if "{low_checkpoint}" in " ".join(command) and "low_checkpoint" not in values:
                values["low_checkpoint"] = find_checkpoint(plan.cls_low)
            if not _run(title, _fill(command, values), timings, repo_root()):
                ok = False
                break
    print("\n=== smoke summary ===")
    for title, seconds, code in timings:
        print("{:<36s} {:8.1f} s  {}".format(title, seconds, "ok" if code == 0 else
                                             "FAILED ({})".format(code)))
    for line in skipped:
        print(line)
    if "det" in steps and ok and "det" not in " ".join(skipped):
        _print_final(plan)
    if ok:
        ok = _report_learning(plan, [t for t, _, code in timings if code == 0])
    return 0 if ok else 1


def learning_checks(plan, ran):
    """``[(name, observed, floor)]`` for the steps in ``ran`` (titles of the steps that passed):
    each classifier's final validation top-1 and each detector's box AP on the val split."""
    found = []
    for title, folder in (("classifier fp", plan.cls_fp),
                          ("classifier dorefa w2a2", plan.cls_low)):
        if title in ran:
            found.append((title + " top-1", _final_top1(folder), LEARNING_FLOORS[title]))
    for title, folder in (("detector fp", plan.det_fp),
                          ("evaluate dorefa w2a2", plan.det_eval)):
        if title in ran:
            path = os.path.join(folder, EVAL_FILE)
            ap = box_ap(read_eval_metrics(path)) if os.path.isfile(path) else None
            found.append((title.replace("evaluate", "detector") + " box AP", ap,
                          LEARNING_FLOORS[title]))
    return found


def _final_top1(folder):
    path = os.path.join(folder, "metrics.jsonl")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return rows[-1].get("val_top1") if rows else None


def _report_learning(plan, ran):
    """Print the learning checks; False when one is below its floor (built-in set only)."""
    checks = learning_checks(plan, ran)
    if not checks:
        return True
    if not plan.builtin:
        print("\nlearning checks: not applied (the floors are measured on the built-in set; this "
              "run used {})".format(plan.tiny_coco))
        return True
    print("\nlearning checks (built-in set; observed vs floor):")
    good = True
    for name, observed, floor in checks:
        passed = observed is not None and observed >= floor
        good = good and passed
        print("  {:<32s} {:>7s} vs {:>6.1f}  {}".format(
            name, "-" if observed is None else "{:.1f}".format(observed), floor,
            "ok" if passed else "BELOW THE FLOOR"))
    if not good:
        print("smoke: FAILED the learning checks: a step ran but did not learn what it learns on "
              "the built-in set (a broken loss, quantizer gradient or initialisation does this)")
    return good


def _print_final(plan):
    """The final AP table, and whether re-evaluating the saved checkpoint gave the same AP."""
    trained = os.path.join(plan.det_low, EVAL_FILE)
    saved = os.path.join(plan.det_eval, EVAL_FILE)
    if not os.path.isfile(saved):
        return
    final = read_eval_metrics(saved)["results"]
    print("\nfinal COCO AP table (saved 2-bit checkpoint, {}):\n{}".format(
        saved, format_ap_table(final)))
    if os.path.isfile(trained):
        same = read_eval_metrics(trained)["results"] == final
        print("evaluation at the end of training {} the evaluation of the saved checkpoint".format(
            "equals" if same else "DIFFERS FROM"))
