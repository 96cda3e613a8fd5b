"""The recipe as one graph of steps: what each step reads, what it writes, what it runs.

Steps, and the files that chain them (OUT is the output folder, ``output/`` in the configs)::

  backbone_full <arch>   WEIGHTS_DIR/<torchvision file> -> OUT/backbone_full/<arch>/model_best.pth
  backbone_low <name>    OUT/backbone_full/<arch>/...  -> OUT/backbone_low/<name>/model_best.pth
                         (configs/classification/<name>.yaml, ImageNet)
  export torch-rN-fp     OUT/backbone_full/resnetN/... -> OUT/backbones/torch-rN-fp/model_d2.pth
  export <name>          OUT/backbone_low/<name>/...   -> OUT/backbones/<name>/model_d2.pth
  detector <experiment>  MODEL.WEIGHTS [+ EXTRA_WEIGHTS] -> <config OUTPUT_DIR>/model_final.pth

The experiments are the rows of ``configs/experiments.yaml``; what a detector starts from and where
it writes are read from its config (``MODEL.WEIGHTS``, ``MODEL.EXTRA_WEIGHTS``, ``OUTPUT_DIR``,
through ``_BASE_``), so the graph has no copy of them. A file no step writes is an input a person
provides (torchvision's weights in WEIGHTS_DIR, ``detectron2://NAME`` read as WEIGHTS_DIR/NAME).

``python -m model_quantization.recipe [--dry-run] <goal> ...`` runs what a goal needs, in order:

* a step whose output exists is done and skipped; a missing one runs;
* a step whose output exists but is older than one of its inputs is reported and nothing runs:
  the input changed after the step ran, and redoing it would replace a finished run, so the user
  decides (move the folder away, or ``touch`` the file); a file a finished step was made from
  may be deleted (it is not rebuilt for nothing);
* ``--dry-run`` prints the commands without running them or checking data (``make -n``).

The Makefile calls it for ``train-<experiment>``, ``backbone-full``, ``backbone-low``, ``export``,
``train-det`` and ``eval``, passing its settings in ``MQ_*`` environment variables (the prefix that
runs a command in the image, the interpreter, the folders, the launch settings); by hand the
defaults run natively (``python -m model_quantization.recipe train fcos-r18-2bit``). The image's
verbs (``docker run <image> eval ...``) are the table ``VERBS`` here.

Standard library and PyYAML only: it runs on the host, outside the image.
"""
import argparse
import glob
import os
import shlex
import subprocess
import sys
import time

from .errors import UserError, did_you_mean, run_cli

try:
    from .detection.experiments import config_value, load_config_chain, load_experiments
    _NO_YAML = None
except ImportError as _exc:  # a host Python without PyYAML: main() says so in one line
    if getattr(_exc, "name", None) != "yaml":
        raise
    _NO_YAML = _exc

__all__ = ["ARCHS", "TORCHVISION_WEIGHTS", "VERBS", "Settings", "Step", "Graph", "classifier_argv",
           "export_argv", "detector_argv", "run_steps", "main"]

# torchvision's ImageNet weights file of each backbone (the name carries its sha256 prefix)
TORCHVISION_WEIGHTS = {"resnet18": "resnet18-f37072fd.pth", "resnet34": "resnet34-b627a593.pth",
                       "resnet50": "resnet50-0676ba61.pth"}
ARCHS = tuple(TORCHVISION_WEIGHTS)
CLS_DIR = "configs/classification"

# The image's verbs (docker/entrypoint.sh): verb -> (the command it runs, what it is for)
VERBS = (
    ("train-det", ["python", "scripts/train_det.py"],
     "train a detector (detectron2 style: --config-file, KEY VALUE)"),
    ("eval", ["python", "scripts/train_det.py", "--eval-only"],
     "evaluate a detector checkpoint, print the COCO AP table"),
    ("train-cls", ["python", "scripts/train_classifier.py"], "train a classifier backbone"),
    ("backbone-full", ["python", "scripts/backbone_full.py"],
     "full-precision backbone from torchvision's weights file"),
    ("export", ["python", "scripts/export_detectron2.py"], "classifier -> detectron2 names"),
    ("recipe", ["python", "-m", "model_quantization.recipe"],
     "a goal of the step graph (e.g. recipe train fcos-r18-2bit)"),
    ("report", ["python", "scripts/report.py"], "reference vs reproduced AP of every run"),
    ("smoke", ["python", "scripts/smoke.py"], "the whole recipe, tiny, on a CPU"),
    ("test", ["python", "-m", "pytest"], "the test suite"),
    ("check", ["python", "-m", "model_quantization.detection.check_install"],
     "the forks import, are wired, and build the FCOS-R18 2-bit model"),
)


def classifier_argv(config, data, output, init=None, launch=()):
    """``scripts/train_classifier.py``: train ``config`` on ``data`` into ``output``."""
    argv = list(launch) + ["scripts/train_classifier.py", "--config", config, "--data", data,
                           "--output", output]
    return argv + (["--init", init] if init else [])


def export_argv(source, output, arch):
    """``scripts/export_detectron2.py``: a classifier checkpoint in detectron2's names."""
    return ["scripts/export_detectron2.py", "--input", source, "--output", output, "--arch", arch]


def detector_argv(config, launch=(), flags=(), data=None, weights=None, extra=None, output=None,
                  eval_only=False):
    """``scripts/train_det.py``: train (or ``eval_only``) ``config``; ``weights`` / ``extra`` /
    ``output`` override MODEL.WEIGHTS / MODEL.EXTRA_WEIGHTS / OUTPUT_DIR (None: the config's)."""
    argv = ["scripts/train_det.py", "--config-file", config] + (
        ["--eval-only"] if eval_only else []) + list(launch) + list(flags)
    argv += ["--data-dir", data] if data else []
    for key, value in (("MODEL.WEIGHTS", weights), ("MODEL.EXTRA_WEIGHTS", extra),
                      ("OUTPUT_DIR", output)):
        if value is not None:
            argv += [key, value]
    return argv


class RecipeError(UserError):
    """A goal that cannot run as asked (one line: what, the value, the fix)."""


def _env(name, default=""):
    value = os.environ.get("MQ_" + name)
    return default if value is None else value


def _host_port(dist_url):
    """``tcp://host:port`` or ``host:port`` -> ``host:port``."""
    dist_url = dist_url.strip()
    return dist_url[len("tcp://"):] if dist_url.startswith("tcp://") else dist_url


def _under(path, folder):
    """Whether ``path`` lies inside ``folder`` (both relative to the project root)."""
    return os.path.relpath(os.path.abspath(path)).startswith(folder + os.sep)


def _norm_dir(path):
    """``./x`` and ``x/`` name the folder ``x`` (so paths compare as strings)."""
    path = path.rstrip("/") or "/"
    while path.startswith("./"):
        path = path[2:]
    return path or "."


class Settings(object):
    """Where the recipe's files live and how a command is run (the Makefile's knobs)."""

    def __init__(self, run="", py=None, output_dir="output", weights_dir="weights",
                 data_dir="data", container=None, opts="", cls_opts="", num_gpus="0",
                 num_machines=1, machine_rank=0, dist_url="", machine_wait=3600,
                 tiny_coco=""):
        self.run = run
        self.py = py or sys.executable
        self.output_dir = _norm_dir(output_dir)
        self.weights_dir = _norm_dir(weights_dir)
        self.data_dir = _norm_dir(data_dir)
        # under docker: host folder -> the folder the container sees it as
        self.container = dict(container or {})
        self.opts, self.cls_opts = opts.strip(), cls_opts.strip()
        self.num_gpus = str(num_gpus)
        self.num_machines, self.machine_rank = int(num_machines), int(machine_rank)
        self.dist = _host_port(dist_url)
        self.machine_wait = int(machine_wait)
        self.tiny_coco = tiny_coco

    @staticmethod
    def check_launch(num_gpus, num_machines, machine_rank, dist_url):
        """Refuse launch settings no step can use: one line naming the value and the fix."""
        def whole(text):
            return text.isascii() and text.isdigit()

        if not whole(num_machines) or int(num_machines) < 1:
            raise RecipeError("NUM_MACHINES={} is not a number of machines; use NUM_MACHINES=1 "
                              "(this machine alone) or the machine count of the job, e.g. "
                              "NUM_MACHINES=2".format(num_machines))
        ranks = "0..{}".format(int(num_machines) - 1)
        if not whole(machine_rank):
            raise RecipeError("MACHINE_RANK={} is not a machine rank; give each machine its rank "
                              "{}, e.g. MACHINE_RANK=$SLURM_NODEID".format(machine_rank, ranks))
        if int(machine_rank) >= int(num_machines):
            raise RecipeError("MACHINE_RANK={} is not below NUM_MACHINES={}; give each machine its "
                              "rank {}, e.g. MACHINE_RANK=$SLURM_NODEID".format(
                                  machine_rank, num_machines, ranks))
        if int(num_machines) > 1:
            if not dist_url.strip():
                raise RecipeError("DIST_URL is empty but NUM_MACHINES={}; pass the rendezvous "
                                  "address of machine 0, e.g. DIST_URL=node0:29500 (the same on "
                                  "every machine)".format(num_machines))
            hostport = _host_port(dist_url)
            host, _, port = hostport.rpartition(":")
            if not host or " " in hostport or not whole(port) or not 1 <= int(port) <= 65535:
                raise RecipeError("DIST_URL={} is not host:port; use machine 0's address and a "
                                  "free port, e.g. DIST_URL={}:29500".format(
                                      dist_url, (host or hostport.split(":")[0]) or "node0"))
        if num_gpus != "auto" and not whole(num_gpus):
            raise RecipeError("NUM_GPUS={} is not a process count; use NUM_GPUS=8 (GPUs per "
                              "machine), NUM_GPUS=0 (CPU) or NUM_GPUS=auto (every GPU the step "
                              "sees)".format(num_gpus))

    @classmethod
    def from_env(cls):
        cls.check_launch(_env("NUM_GPUS", "0"), _env("NUM_MACHINES", "1"),
                         _env("MACHINE_RANK", "0"), _env("DIST_URL"))
        container = {}
        for host, inside in ((_env("OUTPUT_DIR", "output"), _env("C_OUT")),
                             (_env("WEIGHTS_DIR", "weights"), _env("C_WEIGHTS")),
                             (_env("DATA_DIR", "data"), _env("C_DATA"))):
            if inside:
                container[os.path.abspath(host)] = inside
        return cls(run=_env("RUN"), py=_env("PY") or None,
                   output_dir=_env("OUTPUT_DIR", "output"),
                   weights_dir=_env("WEIGHTS_DIR", "weights"), data_dir=_env("DATA_DIR", "data"),
                   container=container, opts=_env("OPTS"), cls_opts=_env("CLS_OPTS"),
                   num_gpus=_env("NUM_GPUS", "0"), num_machines=_env("NUM_MACHINES", "1"),
                   machine_rank=_env("MACHINE_RANK", "0"), dist_url=_env("DIST_URL"),
                   machine_wait=_env("MACHINE_WAIT", "3600"),
                   tiny_coco=os.environ.get("TINY_COCO", ""))

    # -- paths ---------------------------------------------------------------------------------
    @property
    def in_container(self):
        return bool(self.container)

    def run_path(self, path):
        """A host path as the command sees it (the container's mount points under docker)."""
        if not self.in_container:
            return path
        full = os.path.abspath(path)
        for host, inside in self.container.items():
            if full == host or full.startswith(host + os.sep):
                return inside + full[len(host):]
        return full

    def data_arg(self):
        return self.run_path(self.data_dir)

    def host_file(self, path):
        """A path as a config writes it -> the host file (``output/`` is OUTPUT_DIR,
        ``detectron2://NAME`` is WEIGHTS_DIR/NAME: nothing is downloaded)."""
        if path.startswith("output/"):
            return self.output_dir + path[len("output"):]
        if path.startswith("detectron2://"):
            return os.path.join(self.weights_dir, os.path.basename(path))
        return path

    # -- launching -----------------------------------------------------------------------------
    @property
    def multi_machine(self):
        return self.num_machines > 1

    @property
    def other_machine(self):
        return self.multi_machine and self.machine_rank != 0

    def det_launch(self):
        words = ["--num-gpus", self.num_gpus]
        if self.multi_machine:
            words += ["--num-machines", str(self.num_machines), "--machine-rank",
                      str(self.machine_rank), "--dist-url", "tcp://" + self.dist]
        return words

    def cls_launch(self, run_id):
        """torchrun's options for a classifier step (none for one process)."""
        nproc = {"auto": "gpu", "0": "1"}.get(self.num_gpus, self.num_gpus)
        if self.multi_machine:
            return ["-m", "torch.distributed.run", "--nnodes={}".format(self.num_machines),
                    "--nproc_per_node={}".format(nproc), "--rdzv_backend=c10d",
                    "--rdzv_endpoint={}".format(self.dist), "--rdzv_id={}".format(run_id),
                    "--rdzv_conf=is_host={}".format(1 if self.machine_rank == 0 else 0)]
        if self.num_gpus not in ("0", "1"):
            return ["-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node={}".format(nproc)]
        return []

    def command(self, argv, tail=""):
        """The shell line: the run prefix (``docker run ... image ``, or nothing), the
        interpreter, ``argv`` quoted, then ``tail`` (the user's OPTS, as written)."""
        line = self.run + " ".join([self.py] + [shlex.quote(str(a)) for a in argv])
        return line + (" " + tail if tail else "")


class Step(object):
    """One step: ``output`` is made from ``inputs`` by ``argv`` (run through Settings.command).

    ``single``: one process, on machine 0 only (the others wait for its file); ``needs``: the
    dataset folder it reads (``coco``, ``imagenet``, ``tiny_coco`` or None)."""

    def __init__(self, kind, key, output, inputs, argv, tail="", single=False, needs=None):
        self.kind, self.key, self.output, self.inputs = kind, key, output, list(inputs)
        self.argv, self.tail, self.single, self.needs = argv, tail, single, needs

    def __repr__(self):
        return "Step({} {})".format(self.kind, self.key)


def _name_of(path):
    return os.path.splitext(os.path.basename(path))[0]


# the classifier's default arch (model_quantization.classification.config.DEFAULTS; a test keeps
# them in step: that module imports torch, this one runs on the host)
DEFAULT_CLS_ARCH = "resnet18"


def classifier_arch(path):
    """The ResNet a classification config trains (its ``arch``, through ``_BASE_``)."""
    return config_value(load_config_chain(path), "arch") or DEFAULT_CLS_ARCH


def _dataset_need(cfg):
    """The data a merged detector config reads: ``tiny_coco`` (the small COCO folder, TINY_COCO)
    where its DATASETS name tiny_coco_*, else ``coco`` (DATA_DIR/coco)."""
    datasets = config_value(cfg, "DATASETS", {}) or {}
    # detectron2 configs write tuples, ("tiny_coco_train",), which yaml reads as a string
    small = any("tiny_coco_" in str(datasets.get(split) or "") for split in ("TRAIN", "TEST"))
    return "tiny_coco" if small else "coco"


def small_coco_config(path):
    """Whether a detector config trains on the small COCO folder (TINY_COCO), not DATA_DIR."""
    return _dataset_need(load_config_chain(path)) == "tiny_coco"


class Graph(object):
    """Every step of the recipe under ``settings``, indexed by the file it writes."""

    def __init__(self, settings, experiments=None, table=None):
        self.s = settings
        self.experiments = load_experiments(table) if experiments is None else experiments
        self.producers = {}
        self.names = {}  # experiment name or alias -> its detector step
        for arch in ARCHS:
            self._add(self.backbone_full(arch))
            self._add(self.export(self.full_path(arch), "torch-r{}-fp".format(arch[6:]), arch))
        for path in sorted(glob.glob(os.path.join(CLS_DIR, "*.yaml"))):
            name = _name_of(path)
            arch = classifier_arch(path)
            if arch in ARCHS:
                self._add(self.backbone_low(name, arch))
                self._add(self.export(self.low_path(name), name, arch))
        for row in self.experiments:
            step = self.detector(row)
            self._add(step)
            for key in [row["name"]] + list(row.get("aliases") or []):
                self.names[key] = step

    def _add(self, step):
        self.producers[step.output] = step

    # -- the steps -----------------------------------------------------------------------------
    def full_path(self, arch):
        return os.path.join(self.s.output_dir, "backbone_full", arch, "model_best.pth")

    def low_path(self, name):
        return os.path.join(self.s.output_dir, "backbone_low", name, "model_best.pth")

    def export_path(self, name):
        return os.path.join(self.s.output_dir, "backbones", name, "model_d2.pth")

    def backbone_full(self, arch):
        weights = os.path.join(self.s.weights_dir, TORCHVISION_WEIGHTS[arch])
        out = self.full_path(arch)
        argv = ["scripts/backbone_full.py", "--arch", arch, "--weights",
                self.s.run_path(weights), "--output", self.s.run_path(os.path.dirname(out))]
        return Step("backbone_full", arch, out, [weights], argv, single=True)

    def backbone_low(self, name, arch):
        config = os.path.join(CLS_DIR, name + ".yaml")
        init, out = self.full_path(arch), self.low_path(name)
        argv = classifier_argv(config, self.s.data_arg() + "/imagenet",
                               self.s.run_path(os.path.dirname(out)), self.s.run_path(init),
                               launch=self.s.cls_launch("backbone_low-" + name))
        tail = "--opts " + self.s.cls_opts if self.s.cls_opts else ""
        return Step("backbone_low", name, out, [init], argv, tail, needs="imagenet")

    def export(self, source, name, arch):
        out = self.export_path(name)
        argv = export_argv(self.s.run_path(source), self.s.run_path(out), arch)
        return Step("export", name, out, [source], argv, single=True)

    def detector(self, row):
        cfg = load_config_chain(row["config"])
        weights = self.s.host_file(config_value(cfg, "MODEL.WEIGHTS") or "")
        extra = self.s.host_file(config_value(cfg, "MODEL.EXTRA_WEIGHTS") or "")
        out_dir = self.s.host_file(config_value(cfg, "OUTPUT_DIR") or "")
        if not weights or not out_dir:
            raise RecipeError("{}: MODEL.WEIGHTS and OUTPUT_DIR must be set for the experiment "
                              "{!r} (the files it starts from and writes)".format(
                                  row["config"], row["name"]))
        argv = detector_argv(row["config"], self.s.det_launch(), data=self.s.data_arg(),
                             weights=self.s.run_path(weights),
                             extra=self.s.run_path(extra) if extra else None,
                             output=self.s.run_path(out_dir))
        return Step("detector", row["name"], os.path.join(out_dir, "model_final.pth"),
                    [weights] + ([extra] if extra else []), argv, self.s.opts,
                    needs=_dataset_need(cfg))

    # -- goals ---------------------------------------------------------------------------------
    def experiment(self, name):
        if name not in self.names:
            raise RecipeError("unknown experiment {!r}: make list-experiments shows them (the rows "
                              "of configs/experiments.yaml).{}".format(
                                  name, did_you_mean(name, self.names, n=3)))
        return self.names[name]

    def plan(self, target, dry_run=False):
        """The steps that make ``target`` (a file), in order: those whose output is missing and
        needed. A finished step is not redone, even where a file it was made from is gone (a
        deleted intermediate is not rebuilt for nothing); one older than a file it was made from
        is reported (RecipeError), at any depth. A missing input that no step writes is an error,
        except under ``dry_run`` (``make -n`` shows the commands before the data is in place)."""
        order, seen = [], set()

        def visit(path, wanted_by, needed):
            if (path, needed) in seen:
                return
            seen.add((path, needed))
            step = self.producers.get(path)
            if step is None:  # provided by a person
                # machines other than 0 wait for a single-process step's file: the files it
                # reads are machine 0's
                theirs = wanted_by is not None and wanted_by.single and self.s.other_machine
                if needed and not os.path.exists(path) and not dry_run and not theirs:
                    raise RecipeError(_missing_input(path, wanted_by, self.s))
                return
            if os.path.exists(step.output):
                for p in step.inputs:  # staleness further up; nothing is run for it
                    visit(p, step, False)
                newer = [p for p in step.inputs if os.path.exists(p)
                         and os.path.getmtime(p) > os.path.getmtime(step.output)]
                if newer:
                    raise RecipeError(
                        "{} is older than {}, which it is made from (the input changed after "
                        "this step ran); to redo the step move {} away, to keep it as it is: "
                        "touch {}".format(step.output, newer[0], os.path.dirname(step.output),
                                          step.output))
                return
            if not needed:
                return
            for p in step.inputs:
                visit(p, step, True)
            if step not in order:
                order.append(step)

        visit(target, None, True)
        return order


def _missing_input(path, wanted_by, settings):
    step = " (needed by {} {})".format(wanted_by.kind, wanted_by.key) if wanted_by else ""
    if path.startswith(settings.weights_dir + os.sep):
        return ("{} not found{}: put it in WEIGHTS_DIR (nothing is downloaded; README: Data and "
                "weights layout)".format(path, step))
    return "{} not found{}: no step of the recipe writes it; create it or fix the config".format(
        path, step)


# ---------------------------------------------------------------------------------------------
# Running a plan

def _check_data(steps, settings):
    for need in sorted({s.needs for s in steps if s.needs}):
        if need == "tiny_coco":
            if not settings.tiny_coco or not os.path.isdir(settings.tiny_coco):
                raise RecipeError("TINY_COCO={!r} is not a folder: the config trains or evaluates "
                                  "on the small COCO folder; set TINY_COCO to it".format(
                                      settings.tiny_coco))
            continue
        folder = os.path.join(settings.data_dir, need)
        if not os.path.isdir(folder):
            what = {"coco": "coco/{train2017,val2017,annotations}",
                    "imagenet": "imagenet/{train,val}"}[need]
            raise RecipeError("{} not found: set DATA_DIR to the folder holding {}".format(
                folder, what))


def _wait_for(path, settings, dry_run):
    line = "machine {} of {}: waiting for {} (machine 0 writes it)".format(
        settings.machine_rank, settings.num_machines, path)
    print(line, flush=True)
    if dry_run:
        return
    deadline = time.time() + settings.machine_wait
    while not os.path.isfile(path):
        if time.time() >= deadline:
            raise RecipeError("{} did not appear in {} s: machine 0 writes it, so OUTPUT_DIR must "
                              "be one folder every machine shares (or raise MACHINE_WAIT)".format(
                                  path, settings.machine_wait))
        time.sleep(1)


def run_steps(steps, settings, dry_run=False):
    """Print and run each step's command (``dry_run``: print only, check no data); stop at the
    first failure."""
    if not dry_run:
        _check_data(steps, settings)
    for step in steps:
        if step.single and settings.other_machine:
            _wait_for(step.output, settings, dry_run)
            continue
        line = settings.command(step.argv, step.tail)
        print(line, flush=True)
        if dry_run:
            continue
        code = subprocess.call(line, shell=True, executable="/bin/bash")
        if code != 0:
            return code
    return 0


# ---------------------------------------------------------------------------------------------
# The goals of the command line

def _need_file(path, what, fix):
    if not path:
        raise RecipeError("{} is empty: {}".format(what, fix))
    if not os.path.isfile(path):
        raise RecipeError("{} not found: {}".format(path, fix))


def _config_inside(settings, config):
    if settings.in_container and not _under(config, "configs"):
        raise RecipeError("CONFIG={} is outside configs/: the container sees only the project's "
                          "configs/ folder (mounted); put it there or use RUNNER=local".format(
                              config))


def _cls_config(config):
    _need_file(config, "CONFIG", "pass CONFIG=configs/classification/<name>.yaml (low-bit "
               "backbone configs are configs/classification/resnetNN_*.yaml)")
    if not _under(config, CLS_DIR):
        raise RecipeError("CONFIG={} is not a classification config: export and backbone-low take "
                          "configs/classification/resnetNN_*.yaml (or export with no CONFIG and "
                          "ARCH=resnet18 for the full-precision backbone)".format(config))
    return _name_of(config)


def _arch(arch):
    if arch not in ARCHS:
        raise RecipeError("unknown backbone {!r}: use ARCH=resnet18, resnet34 or resnet50".format(
            arch))
    return arch


def _det_command(settings, config, dry_run, eval_only=False, checkpoint=""):
    _need_file(config, "CONFIG", "pass CONFIG=<detector config> (see configs/detection/)")
    _config_inside(settings, config)
    name = _name_of(config)
    if eval_only and not dry_run:
        if not checkpoint and "MODEL.WEIGHTS" not in settings.opts:
            raise RecipeError(
                "CHECKPOINT is empty: pass the trained detector to evaluate, the model_final.pth "
                "its training wrote (make train-det: CHECKPOINT={0}/detection/{1}/model_final.pth;"
                " make smoke: {0}/smoke/det/<name>/); the config's MODEL.WEIGHTS is only the "
                "backbone training starts from".format(settings.output_dir, name))
        if checkpoint:
            _need_file(checkpoint, "CHECKPOINT", "CHECKPOINT names no file")
            if settings.in_container and settings.run_path(checkpoint) == os.path.abspath(
                    checkpoint):
                raise RecipeError("CHECKPOINT={} is outside OUTPUT_DIR, WEIGHTS_DIR and DATA_DIR, "
                                  "the folders the container sees: move it there or set one of "
                                  "them".format(checkpoint))
    out = os.path.join(settings.output_dir, "eval" if eval_only else "detection", name)
    argv = detector_argv(config, settings.det_launch(), data=settings.data_arg(),
                         weights=settings.run_path(checkpoint) if checkpoint else None,
                         output=settings.run_path(out), eval_only=eval_only)
    needs = "tiny_coco" if small_coco_config(config) else "coco"
    return Step("detector", name, os.path.join(out, "model_final.pth"), [], argv, settings.opts,
                needs=needs)


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m model_quantization.recipe",
        description="Run what a goal of the recipe needs, in order, skipping finished steps. "
                    "Settings come from MQ_* variables (the Makefile sets them); by hand the "
                    "defaults run natively on output/, weights/ and data/.")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, run nothing, check no data (make -n)")
    parser.add_argument("--experiments", default=_env("EXPERIMENTS") or None,
                        help="the experiment table (default: configs/experiments.yaml)")
    sub = parser.add_subparsers(dest="goal")
    sub.required = True
    p = sub.add_parser("train", help="an experiment of the table, with every step it needs")
    p.add_argument("name")
    p = sub.add_parser("backbone-full", help="step 1: the full-precision backbone")
    p.add_argument("arch", nargs="?", default=_env("ARCH", "resnet18"))
    p = sub.add_parser("backbone-low", help="step 2: a low-bit backbone (classification config)")
    p.add_argument("config")
    p = sub.add_parser("export", help="step 3: a backbone in detectron2 names (a classification "
                                      "config, or none for ARCH's full-precision one)")
    p.add_argument("config", nargs="?", default="")
    p.add_argument("--arch", default=_env("ARCH", "resnet18"))
    p = sub.add_parser("train-det", help="any detector config, into OUTPUT_DIR/detection/<name>")
    p.add_argument("config")
    p = sub.add_parser("eval", help="evaluate a detector checkpoint (prints the AP table)")
    p.add_argument("config")
    p.add_argument("checkpoint", nargs="?", default="")
    sub.add_parser("list", help="the experiment names (and aliases)")
    p = sub.add_parser("verbs", help="the image's verbs (docker run <image> VERB ...)")
    p.add_argument("--command", metavar="VERB", help="print VERB's command, one word a line")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.goal == "verbs":
        return _verbs(args.command)
    if _NO_YAML is not None:
        raise RecipeError("{} has no PyYAML, and the step graph reads the yaml configs: install it "
                          "(apt-get install python3-yaml, or pip install pyyaml), or set "
                          "HOST_PYTHON to a Python that has it".format(sys.executable))
    if not os.path.isfile(os.path.join("scripts", "train_det.py")):
        raise RecipeError("run from the project root (the folder holding scripts/ and configs/), "
                          "not {}".format(os.getcwd()))
    settings = Settings.from_env()
    if args.goal in ("train-det", "eval"):
        step = _det_command(settings, args.config, args.dry_run, args.goal == "eval",
                            getattr(args, "checkpoint", ""))
        return run_steps([step], settings, args.dry_run)
    graph = Graph(settings, table=args.experiments)
    if args.goal == "list":
        for row in graph.experiments:
            print(row["name"])
            for alias in row.get("aliases") or []:
                print(alias)
        return 0
    if args.goal == "train":
        target = graph.experiment(args.name).output
    elif args.goal == "backbone-full":
        target = graph.full_path(_arch(args.arch))
    elif args.goal == "backbone-low":
        target = graph.low_path(_cls_config(args.config))
    else:  # export
        name = _cls_config(args.config) if args.config else "torch-r{}-fp".format(
            _arch(args.arch)[6:])
        target = graph.export_path(name)
    if target not in graph.producers:
        raise RecipeError("no step writes {} (CONFIG={}): its arch {!r} has no torchvision "
                          "backbone here; the recipe's classification configs train {}".format(
                              target, args.config, classifier_arch(args.config), ", ".join(ARCHS)))
    steps = graph.plan(target, args.dry_run)
    if not steps:
        print("{} is done: {}".format(args.goal, target))
    return run_steps(steps, settings, args.dry_run)


def _verbs(verb):
    table = {name: (command, text) for name, command, text in VERBS}
    if verb is None:
        for name, command, text in VERBS:
            print("  {:<14} {:<58} {}".format(name + " ARGS", " ".join(command) + " ARGS", text))
        return 0
    if verb not in table:
        return 1  # not a verb: the entry point runs it as a command
    print("\n".join(table[verb][0]))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, prog="recipe"))
