"""Test-only quantizer and spec, so conversion is tested without depending on a real method.

``ToySpec`` has the one method ``convert_model`` calls on a spec, ``build(role, shape)``; the toy
quantizer records the role and nominal shape it was built for.
"""
import pytest
import torch
from torch import nn

from model_quantization.quantizers import QUANTIZERS, Quantizer, build_quantizer, register_quantizer

TOY = "toy-convert-test"


class ToySpec(object):
    def __init__(self, bits):
        self.bits = bits

    def build(self, role, shape):
        return build_quantizer(TOY, num_levels=2 ** self.bits, signed=role == "weight",
                               role=role, shape=list(shape))


@pytest.fixture
def toy_spec():
    """Yield ``ToySpec`` with the toy method registered; unregister it afterwards."""

    @register_quantizer(TOY)
    class ToyQuantizer(Quantizer):
        def __init__(self, num_levels, signed, stable=0, correlate=-1.0, role=None, shape=None):
            super().__init__(num_levels, signed, stable, correlate)
            self.role, self.shape = role, shape
            self.clip_val = nn.Parameter(torch.ones(1))

        def quantize(self, x):
            return torch.round(x * self.clip_val) / self.clip_val

    yield ToySpec
    QUANTIZERS.pop(TOY, None)


class Net(nn.Module):
    """stem conv, two 'layer' blocks (one depthwise), 'layer10' and a linear head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8),
                                    nn.ReLU(), nn.Conv2d(8, 16, 1))
        self.layer10 = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.layer10(self.layer1(self.stem(x)))
        return self.fc(self.pool(x).flatten(1))


@pytest.fixture
def net():
    torch.manual_seed(0)
    return Net()
