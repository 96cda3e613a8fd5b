"""A fast config for trainer tests (``tiny_folder`` is in tests/conftest.py)."""
import pytest

from model_quantization.classification import load_config


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
