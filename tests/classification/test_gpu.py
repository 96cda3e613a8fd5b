"""The trainer on a CUDA GPU with mixed precision (skipped without one)."""
import pytest
import torch

from model_quantization.checkpoint import load_checkpoint
from model_quantization.classification import apply_opts, train


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="needs a CUDA GPU: run on a GPU machine (make test GPUS=all)")
def test_train_cuda_amp_lsq_w2a2(tiny_folder, tiny_cfg, tmp_path):
    cfg = apply_opts(tiny_cfg, ["device=cuda", "amp=true", "epochs=1",
                                "quantization.weight={method: lsq, bits: 2}",
                                "quantization.activation={method: lsq, bits: 2}"])
    result = train(cfg, tmp_path / "run", data=tiny_folder)
    assert 0.0 <= result["top1"] <= 100.0
    ckpt = load_checkpoint(tmp_path / "run" / "last.pth")
    assert ckpt["scaler"] is not None
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
