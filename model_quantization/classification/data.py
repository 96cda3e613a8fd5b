"""ImageFolder data for the classifier trainer: transforms, samplers and loaders.

Layout: ``<root>/train/<class>/*.jpg`` and ``<root>/val/<class>/*.jpg`` (ImageNet's usual
layout; the folder names are configurable). Both splits must list the same classes.

Determinism: the training order of epoch ``e`` is a permutation drawn from ``seed + e`` (by
``DistributedSampler``, also with a single process), and the random augmentations draw from a
torch generator the trainer reseeds at the start of every epoch, so a resumed run sees the same
batches as an uninterrupted one. Evaluation shards the validation set without padding, so every
image is counted exactly once across processes.
"""
import math
import os
import random

import torch
from torch.utils.data import DataLoader, Sampler
from torch.utils.data.distributed import DistributedSampler

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "build_transforms", "build_datasets",
           "build_loaders", "ShardSampler", "seed_epoch", "load_image_folder"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_transforms(data_cfg):
    """(train transform, eval transform) for the configured image size."""
    from torchvision import transforms as T

    size = int(data_cfg["image_size"])
    resize = data_cfg["val_resize"] or int(math.floor(size / 0.875 + 0.5))
    normalize = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train = [T.RandomResizedCrop(size, scale=tuple(data_cfg["crop_scale"]))]
    if data_cfg["hflip"]:
        train.append(T.RandomHorizontalFlip())
    train += [T.ToTensor(), normalize]
    val = [T.Resize(int(resize)), T.CenterCrop(size), T.ToTensor(), normalize]
    return T.Compose(train), T.Compose(val)


def load_image_folder(root, transform, split):
    """``ImageFolder(root)``; a missing or empty folder is a ``FileNotFoundError`` saying how to
    make one."""
    from torchvision.datasets import ImageFolder

    if not os.path.isdir(root):
        parent = os.path.dirname(root.rstrip(os.sep))
        listing = sorted(os.listdir(parent)) if os.path.isdir(parent) else []
        raise FileNotFoundError(
            "{} folder {!r} does not exist{}; the data root must hold train/ and val/ folders "
            "with one sub-folder per class (make a small one with scripts/make_cls_crops.py)"
            .format(split, root, " (found: {})".format(", ".join(listing)) if listing else ""))
    try:
        return ImageFolder(root, transform=transform)
    except (FileNotFoundError, RuntimeError) as exc:
        raise FileNotFoundError("cannot read {} images from {!r}: {}".format(
            split, root, exc)) from None


def build_datasets(root, data_cfg):
    """(train dataset, val dataset) from ``root``; the class lists must agree."""
    root = os.fspath(root)
    train_tf, val_tf = build_transforms(data_cfg)
    train = load_image_folder(os.path.join(root, data_cfg["train_dir"]), train_tf, "training")
    val = load_image_folder(os.path.join(root, data_cfg["val_dir"]), val_tf, "validation")
    if train.classes != val.classes:
        only_train = sorted(set(train.classes) - set(val.classes))
        only_val = sorted(set(val.classes) - set(train.classes))
        raise ValueError("train and val folders under {!r} list different classes (only in "
                         "train: {}; only in val: {}); give both splits the same class folders"
                         .format(root, only_train[:5], only_val[:5]))
    return train, val


class ShardSampler(Sampler):
    """Indices ``rank, rank + world, ...`` in order: an exact, unpadded evaluation shard."""

    def __init__(self, size, rank=0, world_size=1):
        self.indices = list(range(rank, size, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


def build_loaders(train_set, val_set, cfg, rank=0, world_size=1, pin_memory=False):
    """(train loader, val loader, train sampler); ``batch_size`` is the total over processes.

    The training loader draws worker seeds from its own generator; reseed it (and the global
    RNG) per epoch with :func:`seed_epoch` in the trainer.
    """
    total = int(cfg["batch_size"])
    if total % world_size:
        raise ValueError("batch_size {} must be divisible by the number of processes {}; "
                         "use e.g. batch_size={}".format(
                             total, world_size, max(world_size, total - total % world_size)))
    per_process = total // world_size
    eval_total = int(cfg["eval_batch_size"] or total)
    eval_per_process = max(1, eval_total // world_size)
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=int(cfg["seed"]), drop_last=False)
    if len(train_set) < per_process * world_size:
        raise ValueError("the training set has {} images, fewer than one batch of {}; lower "
                         "batch_size".format(len(train_set), per_process * world_size))
    workers = int(cfg["workers"])
    generator = torch.Generator()
    generator.manual_seed(int(cfg["seed"]))
    train_loader = DataLoader(train_set, batch_size=per_process, sampler=sampler,
                              num_workers=workers, pin_memory=pin_memory, drop_last=True,
                              generator=generator, persistent_workers=False)
    val_loader = DataLoader(val_set, batch_size=eval_per_process,
                            sampler=ShardSampler(len(val_set), rank, world_size),
                            num_workers=workers, pin_memory=pin_memory, drop_last=False)
    return train_loader, val_loader, sampler


def seed_epoch(loader, seed, epoch, rank=0):
    """Reseed python/numpy/torch RNGs and ``loader``'s generator from (seed, epoch, rank).

    Augmentations then depend only on these three numbers, whether the run was resumed or not.
    """
    import numpy as np

    value = (int(seed) * 1000003 + int(epoch) * 1009 + int(rank)) % (2 ** 31)
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)
    if getattr(loader, "generator", None) is not None:
        loader.generator.manual_seed(value)
    return value
