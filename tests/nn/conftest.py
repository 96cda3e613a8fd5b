"""A tiny test-only quantizer (registered for one test, removed afterwards), so the layer tests
do not depend on any real method: it clips to [-c, c] (signed) or [0, c] and rounds to
``num_levels`` evenly spaced values, with a learned ``clip_val``."""
import pytest
import torch
from torch import nn

from model_quantization.functional.ste import round_ste
from model_quantization.quantizers import QUANTIZERS, Quantizer, register_quantizer

TOY = "toy-nn-test"


def _reference(x, clip, levels, signed):
    lo = -clip if signed else 0.0
    step = (clip - lo) / (levels - 1)
    return torch.round((x.clamp(lo, clip) - lo) / step) * step + lo


@pytest.fixture
def toy_reference():
    """The toy quantizer's formula in plain tensor code (the independent reference)."""
    return _reference


@pytest.fixture
def toy_quantizer():
    """Yield a factory ``make(levels, signed, clip)`` of toy quantizers."""

    @register_quantizer(TOY)
    class ToyQuantizer(Quantizer):
        def __init__(self, num_levels=4, signed=True, stable=0, correlate=-1.0, clip=1.0):
            super().__init__(num_levels, signed, stable, correlate)
            self.clip_val = nn.Parameter(torch.tensor([float(clip)]))

        def quantize(self, x):
            self.step()
            c = self.clip_val
            lo = -c if self.signed else torch.zeros_like(c)
            step = (c - lo) / (self.num_levels - 1)
            y = torch.min(torch.max(x, lo), c)
            return round_ste((y - lo) / step) * step + lo

    def make(levels=4, signed=True, clip=1.0):
        return ToyQuantizer(num_levels=levels, signed=signed, clip=clip)

    yield make
    QUANTIZERS.pop(TOY, None)
