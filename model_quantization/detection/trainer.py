"""Training and evaluation with the pinned forks (the body of ``scripts/train_det.py``).

detectron2 and AdelaiDet are imported inside the functions, so importing this module is cheap
and never fails; calling ``main`` without the forks raises an ImportError saying how to get them.

Sequence: ``setup_config`` (the fork's ``get_cfg`` chosen by META_ARCHITECTURE, unknown keys
reported with file and closest key, policy path resolved, datasets checked and registered),
``default_setup`` (logging, config backup, seeding), then either evaluation of MODEL.WEIGHTS or
training: build, refuse a model the fork left in full precision when the config asks for
quantization, initialise (resume / double init / single pass), write the run record, train.
"""
import logging
import os
import re

from ..errors import ForksMissingError, UnknownKeyError, did_you_mean
from ..runrecord import mark_run_failed, set_run_status
from .cli import check_output_dir
from .datasets import register_datasets
from .evaluation import format_ap_table, write_eval_metrics
from .experiments import find_experiment, load_config_chain, repo_root
from .resume import RNGState, fast_forward, unoptimized_torchscript
from .weights import double_init, load_fitted

__all__ = ["FORKS_HINT", "RECIPE_WORLD_SIZE", "schedule_warning", "uses_adelaidet",
           "merge_config", "setup_config", "quantization_requested",
           "is_quantized", "count_quantized", "build_trainer_class", "initialize", "main"]

FORKS_HINT = ("the pinned detectron2/AdelaiDet forks are not importable: run inside the image "
              "(make train ... / make smoke) or install them natively (make install-forks)")
_D2_ARCHITECTURES = ("GeneralizedRCNN", "ProposalNetwork", "RetinaNet", "PanopticFPN",
                     "SemanticSegmentor")
_log = logging.getLogger("detectron2.model_quantization")  # printed by detectron2's handlers


# The detector configs' schedules (SOLVER.IMS_PER_BATCH, BASE_LR, MAX_ITER) are those of the
# reference runs: 8 GPUs.
RECIPE_WORLD_SIZE = 8


def schedule_warning(ims_per_batch, base_lr, max_iter, reference_world_size, world_size):
    """The warning for a GPU run on another number of GPUs than the recipe's, or None.

    detectron2 splits SOLVER.IMS_PER_BATCH over the processes and keeps BASE_LR and MAX_ITER;
    with SOLVER.REFERENCE_WORLD_SIZE set it rescales them itself (auto_scale_workers)."""
    if reference_world_size or world_size == RECIPE_WORLD_SIZE or ims_per_batch % RECIPE_WORLD_SIZE:
        return None  # (a batch that does not split over 8 GPUs is no reference schedule: smoke)
    return ("SOLVER.IMS_PER_BATCH {} is split over {} GPU process(es): {:g} image(s) each, with "
            "the config's BASE_LR {} and MAX_ITER {} (the configs' schedules are for {} GPUs, {:g} "
            "image(s) each). To keep {:g} per GPU and scale the learning rate and iterations "
            "linearly instead, add SOLVER.REFERENCE_WORLD_SIZE {} to the overrides (make: OPTS)"
            .format(ims_per_batch, world_size, ims_per_batch / world_size, base_lr, max_iter,
                    RECIPE_WORLD_SIZE, ims_per_batch / RECIPE_WORLD_SIZE,
                    ims_per_batch / RECIPE_WORLD_SIZE, RECIPE_WORLD_SIZE))


def uses_adelaidet(config_file):
    """True when the config's META_ARCHITECTURE lives in AdelaiDet (FCOS and friends)."""
    arch = (load_config_chain(config_file).get("MODEL") or {}).get("META_ARCHITECTURE",
                                                                    "GeneralizedRCNN")
    return arch not in _D2_ARCHITECTURES


def _import_forks(adet):
    try:
        import detectron2  # noqa: F401
        if adet:
            import adet.modeling  # noqa: F401  (registers OneStageDetector, FCOS, ...)
    except ImportError as exc:
        raise ForksMissingError("{} ({})".format(FORKS_HINT, exc)) from exc


def _flat_keys(node, prefix=""):
    keys = []
    for key, value in node.items():
        if isinstance(value, dict):
            keys.extend(_flat_keys(value, prefix + key + "."))
        else:
            keys.append(prefix + key)
    return keys


def _explain_unknown_key(exc, cfg, source, fork):
    match = re.search(r"Non-existent (?:config )?key: ([A-Za-z0-9_.]+)", str(exc))
    if not match:
        return None
    key = match.group(1)
    hint = did_you_mean(key, _flat_keys(cfg))
    return UnknownKeyError('{}: config key "{}" is not known to the {} config (check the spelling '
                           "and the section it is under).{}".format(source, key, fork, hint))


def _resolve_policy(policy):
    if not policy:
        return policy
    for base in (os.getcwd(), repo_root()):
        path = policy if os.path.isabs(policy) else os.path.join(base, policy)
        if os.path.isfile(path):
            return os.path.abspath(path)
    raise FileNotFoundError("MODEL.QUANTIZATION.policy {!r} does not exist (looked relative to "
                            "{!r} and the project root {!r}); the policy files live in "
                            "configs/policies/".format(policy, os.getcwd(), repo_root()))


def merge_config(config_file, opts=()):
    """The fork's default config merged with ``config_file`` and ``opts`` (not frozen).

    Unknown keys raise KeyError naming the file (or the overrides), the key and the closest key.
    """
    adet = uses_adelaidet(config_file)
    _import_forks(adet)
    if adet:
        from adet.config import get_cfg
    else:
        from detectron2.config import get_cfg
    fork = "AdelaiDet" if adet else "detectron2"
    cfg = get_cfg()
    if "EXTRA_WEIGHTS" not in cfg.MODEL:
        cfg.MODEL.EXTRA_WEIGHTS = ""  # double initialization is ours, for every detector
    for source, merge in ((config_file, lambda: cfg.merge_from_file(config_file)),
                          ("command-line overrides", lambda: cfg.merge_from_list(list(opts)))):
        try:
            merge()
        except (KeyError, AssertionError) as exc:  # yacs: KeyError from files, assert from lists
            better = _explain_unknown_key(exc, cfg, source, fork)
            if better is None:
                raise
            raise better from exc
    return cfg


def setup_config(args):
    """The frozen, merged config for ``args`` (policy resolved, datasets checked and registered)."""
    cfg = merge_config(args.config_file, args.opts)
    cfg.MODEL.QUANTIZATION.policy = _resolve_policy(cfg.MODEL.QUANTIZATION.policy)
    import torch
    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        _log.warning("no CUDA device: running on the CPU (MODEL.DEVICE cpu)")
        cfg.MODEL.DEVICE = "cpu"
    register_datasets(list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST),
                      data_root=args.data_dir, tiny_coco=args.tiny_coco)
    cfg.freeze()
    return cfg


def quantization_requested(cfg):
    """Does the config ask the fork to quantize anything?"""
    q = cfg.MODEL.QUANTIZATION
    return bool((q.fm_enable or q.wt_enable) and any(s for s in q.scope))


def is_quantized(module):
    """Does ``module`` hold a weight or activation quantizer?"""
    return (getattr(module, "quant_weight", None) is not None
            or getattr(module, "quant_activation", None) is not None)


def count_quantized(model):
    """Number of modules holding a weight or activation quantizer."""
    return sum(1 for m in model.modules() if is_quantized(m))


def _check_quantized(cfg, model):
    if quantization_requested(cfg) and count_quantized(model) == 0:
        raise RuntimeError(
            "the config asks for quantization (MODEL.QUANTIZATION scope {}, keyword {}) but the "
            "built model has no quantized layer: the fork skipped conversion, most likely because "
            "third_party.quantization is not importable. Wire the library in (python -m "
            "model_quantization.compat.wire --detectron2 forks/detectron2) instead of "
            "training in full precision".format(list(cfg.MODEL.QUANTIZATION.scope),
                                                list(cfg.MODEL.QUANTIZATION.keyword)))


def build_trainer_class(adet):
    """A DefaultTrainer subclass evaluating with COCOEvaluator (AdelaiDet's mapper for FCOS)."""
    from detectron2.engine import DefaultTrainer
    from detectron2.evaluation import COCOEvaluator

    class DetectionTrainer(DefaultTrainer):
        @classmethod
        def build_evaluator(cls, cfg, dataset_name, output_folder=None):
            folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference")
            return COCOEvaluator(dataset_name, distributed=True, output_dir=folder)

        # The pinned fork's DefaultTrainer checkpoints the iteration and the hooks but not the
        # optimizer (SGD momentum), so a resumed run would drift; keep the inner trainer's state.
        def state_dict(self):
            state = super().state_dict()
            state["_trainer"] = self._trainer.state_dict()
            return state

        def load_state_dict(self, state):
            super().load_state_dict(state)
            if "_trainer" in state:
                self._trainer.load_state_dict(state["_trainer"])
            else:
                _log.warning("checkpoint has no optimizer state (written by another trainer): "
                             "momentum restarts from zero")

    if not adet:
        return DetectionTrainer
    from adet.data.dataset_mapper import DatasetMapperWithBasis
    from detectron2.data import build_detection_train_loader

    class AdetTrainer(DetectionTrainer):
        @classmethod
        def build_train_loader(cls, cfg):
            return build_detection_train_loader(cfg, mapper=DatasetMapperWithBasis(cfg, True))

    return AdetTrainer


def _local_file(path):
    return bool(path) and "://" not in path and not path.endswith(".pkl")


def initialize(trainer, cfg, resume):
    """Resume, double-init or single-pass init the trainer's model; return a summary dict."""
    from torch.nn.parallel import DistributedDataParallel
    model = trainer.model.module if isinstance(trainer.model, DistributedDataParallel) \
        else trainer.model
    rng = RNGState()
    trainer.checkpointer.checkpointables["rng"] = rng  # saved with every checkpoint
    if resume and trainer.checkpointer.has_checkpoint():
        trainer.resume_or_load(resume=True)
        fast_forward(trainer._trainer._data_loader_iter, trainer.start_iter, rng,
                     cfg.DATALOADER.NUM_WORKERS)
        return {"mode": "resume", "start_iter": trainer.start_iter}
    weights, extra = cfg.MODEL.WEIGHTS, cfg.MODEL.EXTRA_WEIGHTS
    if extra:
        for key, path in (("MODEL.EXTRA_WEIGHTS", extra), ("MODEL.WEIGHTS", weights)):
            if not _local_file(path):
                raise ValueError("double initialization needs local .pth files; {} is {!r} "
                                 "(convert it with scripts/export_detectron2.py)".format(key, path))
        infos = double_init(model, extra, weights, log=_log.info)
        return {"mode": "double", "extra_weights": extra, "weights": weights,
                "from_extra": len(infos["extra"]["matched"]),
                "from_weights": len(infos["weights"]["matched"])}
    if _local_file(weights):
        info = load_fitted(model, weights, role="MODEL.WEIGHTS", log=_log.info)
        return {"mode": "single", "weights": weights, "loaded": len(info["matched"])}
    if not weights:
        _log.warning("MODEL.WEIGHTS is empty: training from random initialization")
        return {"mode": "scratch"}
    trainer.resume_or_load(resume=False)  # detectron2:// URLs and Caffe2 .pkl: fork's loader
    return {"mode": "single", "weights": weights}


def _record(cfg, model, args, output_dir, extra):
    from ..convert.report import summarize
    from ..runrecord import write_run_record
    policy = cfg.MODEL.QUANTIZATION.policy or None
    row = find_experiment(args.config_file)
    info = dict(extra, experiment=row["name"] if row else None,
                config_file=os.path.abspath(args.config_file), opts=list(args.opts))
    return write_run_record(output_dir, config=cfg.dump(), policy=policy,
                            quant_report=summarize(model), extra=info)


def _report_results(cfg, args, results, weights):
    from detectron2.utils import comm
    if not results or not comm.is_main_process():
        return
    if len(cfg.DATASETS.TEST) == 1 and "bbox" in results:
        results = {cfg.DATASETS.TEST[0]: results}  # detectron2 unnests a single dataset
    row = find_experiment(args.config_file)
    print("COCO evaluation of {}:\n{}".format(weights, format_ap_table(results)), flush=True)
    path = write_eval_metrics(cfg.OUTPUT_DIR, results, experiment=row["name"] if row else None,
                              config_file=os.path.abspath(args.config_file), weights=weights)
    _log.info("saved %s", path)


def _eval_weights(cfg, resume):
    """MODEL.WEIGHTS, or with --resume the last checkpoint OUTPUT_DIR names."""
    marker = os.path.join(cfg.OUTPUT_DIR, "last_checkpoint")
    if resume and os.path.isfile(marker):
        with open(marker) as f:
            return os.path.join(cfg.OUTPUT_DIR, f.read().strip())
    return cfg.MODEL.WEIGHTS


def main(args):
    """Evaluate (``--eval-only``) or train; returns the evaluation results (or None)."""
    from detectron2.engine import default_setup
    from detectron2.utils import comm
    cfg = setup_config(args)
    adet = uses_adelaidet(args.config_file)
    check_output_dir(cfg.OUTPUT_DIR, resume=args.resume, overwrite=args.overwrite,
                     eval_only=args.eval_only)
    if not args.eval_only:
        _check_inputs_outside(cfg)
    default_setup(cfg, args)
    if cfg.MODEL.DEVICE.startswith("cuda") and comm.is_main_process() and not args.eval_only:
        note = schedule_warning(cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.BASE_LR, cfg.SOLVER.MAX_ITER,
                                cfg.SOLVER.REFERENCE_WORLD_SIZE, comm.get_world_size())
        if note:
            _log.warning(note)
    trainer_cls = build_trainer_class(adet)
    if args.eval_only:
        model = trainer_cls.build_model(cfg)
        _check_quantized(cfg, model)
        weights = _eval_weights(cfg, args.resume)
        if not weights:
            raise ValueError(
                "--eval-only with MODEL.WEIGHTS empty would evaluate a randomly initialized "
                "detector; give the trained detector's checkpoint: MODEL.WEIGHTS "
                "path/model_final.pth (make eval CHECKPOINT=path/model_final.pth)")
        if _local_file(weights):
            load_fitted(model, weights, role="MODEL.WEIGHTS", log=_log.info, complete=True)
        else:
            from detectron2.checkpoint import DetectionCheckpointer
            DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).load(weights)
        results = trainer_cls.test(cfg, model)
        if comm.is_main_process():
            _record(cfg, model, args, os.path.join(cfg.OUTPUT_DIR, "eval"),
                    {"mode": "eval", "weights": weights})
        _report_results(cfg, args, results, weights)
        return results
    trainer = trainer_cls(cfg)
    raw_model = getattr(trainer.model, "module", trainer.model)
    _check_quantized(cfg, raw_model)
    init = initialize(trainer, cfg, args.resume)
    if comm.is_main_process():
        _record(cfg, raw_model, args, cfg.OUTPUT_DIR,
                {"mode": "train", "init": init, "status": "running"})
    try:
        with unoptimized_torchscript():  # same gradients in a resumed process (see resume.py)
            results = trainer.train() or getattr(trainer, "_last_eval_results", None)
    except Exception as exc:
        if comm.is_main_process():
            mark_run_failed(cfg.OUTPUT_DIR, exc)
        raise
    if comm.is_main_process():
        set_run_status(cfg.OUTPUT_DIR, "finished")
    _report_results(cfg, args, results, os.path.join(cfg.OUTPUT_DIR, "model_final.pth"))
    return results


def _check_inputs_outside(cfg):
    """The checkpoints a run starts from are not files it writes (model_*.pth in OUTPUT_DIR)."""
    out = os.path.realpath(cfg.OUTPUT_DIR)
    for key, path in (("MODEL.WEIGHTS", cfg.MODEL.WEIGHTS),
                      ("MODEL.EXTRA_WEIGHTS", cfg.MODEL.EXTRA_WEIGHTS)):
        if not _local_file(path):
            continue
        name = os.path.basename(path)
        if os.path.realpath(os.path.dirname(os.path.abspath(path))) == out and \
                re.match(r"^model_(final|\d+)\.pth$", name):
            raise ValueError("{} {!r} lies in OUTPUT_DIR {!r}, where this run writes its own "
                             "{}: it would be replaced. Copy it elsewhere, or use --resume to "
                             "continue that run".format(key, path, cfg.OUTPUT_DIR, name))
