"""The forks' CUDA kernels that docker/patches rewrites (THC removed in torch 1.11), run on a GPU:
detectron2's deformable convolution (0001: atomicAdd from ATen/cuda/Atomic.cuh) and AdelaiDet's
multi-label NMS (0001: the c10 caching allocator instead of THCudaMalloc). Skipped without a CUDA
GPU; scripts/gpu_check.py runs them (make gpu-check)."""
import pytest
import torch

pytestmark = [
    pytest.mark.gpu, pytest.mark.forks,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA GPU: run on a GPU machine (make gpu-check)"),
]


def test_deform_conv_with_zero_offsets_is_a_plain_convolution():
    from detectron2.layers import DeformConv
    torch.manual_seed(0)
    conv = DeformConv(4, 6, kernel_size=3, padding=1, bias=False).cuda()
    x = torch.randn(2, 4, 9, 11, device="cuda", requires_grad=True)
    offset = torch.zeros(2, 2 * 3 * 3, 9, 11, device="cuda", requires_grad=True)
    out = conv(x, offset)
    ref = torch.nn.functional.conv2d(x, conv.weight, padding=1)
    assert torch.allclose(out, ref, atol=1e-4, rtol=1e-4)
    out.square().sum().backward()  # the backward kernels use the patched atomicAdd
    grad_x = x.grad.clone()
    x.grad = None
    ref.square().sum().backward()
    assert torch.allclose(grad_x, x.grad, atol=1e-3, rtol=1e-3)
    assert torch.isfinite(offset.grad).all()


def test_ml_nms_keeps_the_best_box_per_class_and_cluster():
    from adet import _C
    boxes = torch.tensor([[0, 0, 50, 50], [2, 2, 52, 52], [0, 0, 50, 50], [100, 100, 150, 150],
                          [101, 101, 151, 151]], dtype=torch.float32, device="cuda")
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.95], device="cuda")
    labels = torch.tensor([1, 1, 2, 1, 1], dtype=torch.float32, device="cuda")
    keep = _C.ml_nms(boxes, scores, labels, 0.5)
    # box 1 overlaps box 0 (same class, IoU ~0.85); box 2 is the same place but another class;
    # box 3 overlaps the better box 4
    assert sorted(keep.cpu().tolist()) == [0, 2, 4]
    assert _C.ml_nms(boxes[:0], scores[:0], labels[:0], 0.5).numel() == 0
