"""A tiny synthetic ImageFolder (3 colour-coded classes) and a fast config for trainer tests."""
import random

import pytest
from PIL import Image

from model_quantization.classification import load_config

CLASSES = ("blue", "green", "red")
_COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def _make_split(root, split, per_class, rng):
    for name in CLASSES:
        folder = root / split / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            base = _COLOURS[name]
            pixels = [tuple(min(255, max(0, c + rng.randint(-40, 40))) for c in base)
                      for _ in range(24 * 24)]
            img = Image.new("RGB", (24, 24))
            img.putdata(pixels)
            img.save(folder / "{}_{}.png".format(name, i))


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """``<root>/train/<class>/*.png`` (8 per class) and ``<root>/val/...`` (3 per class)."""
    root = tmp_path_factory.mktemp("tiny_imagefolder")
    rng = random.Random(0)
    _make_split(root, "train", 8, rng)
    _make_split(root, "val", 3, rng)
    return root


@pytest.fixture
def tiny_cfg():
    """A config that trains ResNet-18 on 16-pixel images in about a second per epoch."""
    return load_config(None, ["epochs=2", "batch_size=8", "workers=0", "data.image_size=16",
                              "data.val_resize=16", "data.crop_scale=[0.5, 1.0]", "progress=false",
                              "optimizer.lr=0.02", "print_freq=1", "device=cpu"])


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a shared 2-core machine this is several times faster."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
