"""Every shipped classification config loads, converts a ResNet and trains one step."""
import glob
import os

import pytest
import torch

from model_quantization.classification import load_config
from model_quantization.classification.model import build_model, quantize_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "classification", "*.yaml")))


def test_configs_exist():
    names = {os.path.basename(p) for p in CONFIGS}
    assert {"resnet18_fp.yaml", "resnet18_lsq_w2a2.yaml", "resnet18_dorefa_w2a2.yaml",
            "resnet18_lqnet_ternary.yaml", "resnet34_lsq_w2a2.yaml", "smoke_resnet18_fp.yaml",
            "smoke_resnet18_dorefa_w2a2.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_config_converts_and_trains_one_step(path):
    cfg = load_config(path)
    torch.manual_seed(0)
    model = build_model(cfg["arch"], 4)
    report = quantize_model(model, cfg["quantization"])
    name = os.path.basename(path)
    if "_fp" in name:
        assert report is None
    else:
        assert report.num_quantized > 0
        rows = {r["module"]: r for r in report.to_dict()["rows"]}
        assert rows["layer1.0.conv1"]["w_bits"] < 8
    x = torch.randn(2, 3, 32, 32)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 3]))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for n, p in model.named_parameters() if "fc" in n)
