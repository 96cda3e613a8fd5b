"""clip_fake_quant_: the in-place, autograd-free variant equals clip_fake_quant bit for bit."""
import pytest
import torch

from model_quantization.functional.uniform import clip_fake_quant, clip_fake_quant_


def _data(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * 1.7


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("levels", [2, 3, 4, 256])
def test_clip_fake_quant_inplace_equals_out_of_place_per_group(signed, levels):
    x = _data((3, 500), levels)
    clip = torch.tensor([[0.3], [1.1], [2.9]])
    expected = clip_fake_quant(x, clip, levels, signed=signed)
    got = clip_fake_quant_(x.clone(), clip, levels, signed=signed)
    assert torch.equal(got, expected)


def test_clip_fake_quant_inplace_equals_out_of_place_float_clip():
    x = _data((2, 4, 5, 5), 7)
    assert torch.equal(clip_fake_quant_(x.clone(), 0.9, 4, mode="fixed"),
                       clip_fake_quant(x, 0.9, 4, mode="fixed"))


def test_clip_fake_quant_inplace_overwrites_and_returns_its_input():
    x = _data((4, 10), 3)
    out = clip_fake_quant_(x, torch.tensor([[1.0]]), 4, signed=True)
    assert out.data_ptr() == x.data_ptr() and torch.equal(out, x)


def test_clip_fake_quant_inplace_rejects_a_clip_that_needs_grad():
    clip = torch.tensor([[1.0]], requires_grad=True)
    with pytest.raises(ValueError, match="use clip_fake_quant"):
        clip_fake_quant_(torch.ones(2, 3), clip, 4)


def test_clip_fake_quant_inplace_accepts_learned_clip_under_no_grad():
    x = _data((2, 30), 5)
    clip = torch.tensor([[0.8]], requires_grad=True)
    with torch.no_grad():
        got = clip_fake_quant_(x.clone(), clip, 4)
    assert torch.equal(got, clip_fake_quant(x, clip, 4).detach())


def test_clip_fake_quant_inplace_rejects_pact_signed():
    with pytest.raises(ValueError, match="unsigned only"):
        clip_fake_quant_(torch.ones(2), 1.0, 4, signed=True, mode="pact")
