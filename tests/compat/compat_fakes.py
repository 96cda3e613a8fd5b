"""Test doubles that call the compat API exactly as the detectron2 fork does (docs/forks.md,
"What the forks import and call"), without the fork: a quantizable conv, a quant-aware BN, an
eltwise add, a detector whose module order gives the fork's index map ("Layer indices"), the
fork's default MODEL.QUANTIZATION node ("Config keys") and its convert2quantization walk."""
import copy

import torch
import torch.nn.functional as F
from torch import nn
from yacs.config import CfgNode as CN

from model_quantization.compat.dorefa import RoundSTE
from model_quantization.compat.policy_apply import assign_attribute, policy_selects
from model_quantization.compat.quant import quantization

LSQ_2BIT = {"keyword": ["debug", "dorefa", "lsq"], "fm_enable": True, "wt_enable": True,
            "fm_bit": 2.0, "wt_bit": 2.0, "fm_boundary": 1.0, "wt_boundary": 1.0,
            "wt_quant_group": 1, "wt_adaptive": "var-mean", "padding_after_quant": True}


def quant_cfg(freeze=True, **options):
    """``MODEL.QUANTIZATION`` with the fork's defaults, then ``options``; frozen like the fork's."""
    q = CN()
    q.global_buffer = CN()
    q.keyword = [""]
    q.scope = [""]
    q.stable = 0
    q.policy = ""
    q.padding_after_quant = False
    q.probe_list = []
    for tag, half in (("fm", True), ("wt", False)):
        defaults = {"enable": False, "bit": 32.0, "level": 0, "half_range": half,
                    "separator": 0.38, "ratio": 1.0, "scale": 0.5, "boundary": 1.0,
                    "quant_group": 0, "adaptive": "none", "grad_type": "none"}
        for key, value in defaults.items():
            q["{}_{}".format(tag, key)] = value
    for key, value in options.items():
        q[key] = copy.deepcopy(value)
    root = CN()
    root.MODEL = CN()
    root.MODEL.QUANTIZATION = q
    if freeze:
        root.freeze()
    return root.MODEL.QUANTIZATION


class ForkConv(nn.Conv2d):
    """The fork's detectron2 ``Conv2d`` + ``Quant`` mixin, as far as the library sees it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.quant_activation = None
        self.quant_weight = None
        self.force_fp = True

    def convert_to_quantization_version(self, cfg, index=-1):
        self.quant_activation = quantization(args=cfg, tag="fm", shape=[1, self.in_channels, 1, 1])
        self.quant_weight = quantization(args=cfg, tag="wt",
                                         shape=[self.out_channels, self.in_channels,
                                                *self.kernel_size])
        self.quant_activation.update_quantization(index=index)
        self.quant_weight.update_quantization(index=index)
        self.force_fp = False

    def update_quantization_parameter(self, **parameters):
        if self.force_fp:
            return None
        feedback = {}
        for q in (self.quant_activation, self.quant_weight):
            fd = q.update_quantization(**parameters)
            for key, value in (fd or {}).items():
                feedback[key] = feedback.get(key, []) + value if isinstance(value, list) else value
        return feedback

    def forward(self, x):
        if self.force_fp:
            return super().forward(x)
        return F.conv2d(self.quant_activation(x), self.quant_weight(self.weight), self.bias,
                        self.stride, self.padding, self.dilation, self.groups)


class _Indexed:
    """The fork's norm/eltwise update logic: index, by_index/by_tag, typed set by attribute."""

    def _update(self, **parameters):
        if "index" in parameters:
            self.index = int(parameters["index"])
        if "by_index" in parameters and policy_selects(parameters, self.index, self.tag):
            for key, value in parameters.items():
                if key.startswith("by_") or not hasattr(self, key):
                    continue
                if key == "input_index" and isinstance(value, str):
                    value = value.replace("same", str(self.index))
                assign_attribute(self, key, value)


class ForkBN(nn.BatchNorm2d, _Indexed):
    def __init__(self, channels):
        super().__init__(channels)
        self.enable, self.args, self.index, self.tag = False, None, -1, "norm"
        self.input_scale, self.input_index, self.choice = 1.0, "", "identify"
        self.quant_functions = {"RoundSTE": RoundSTE.apply, "identify": lambda x: x}

    def convert_norm_to_quantization_version(self, args=None, index=-1):
        self.args = args
        self._update(index=index)

    def update_norm_quantization_parameter(self, **parameters):
        self._update(**parameters)


class ForkEltWise(nn.Module, _Indexed):
    def __init__(self):
        super().__init__()
        self.enable, self.args, self.index, self.tag = False, None, -1, "eltwise"
        self.x_index, self.y_index = [], []

    def convert_eltwise_to_quantization_version(self, args=None, index=-1):
        self.args = args
        self._update(index=index)

    def update_eltwise_quantization_parameter(self, **parameters):
        self._update(**parameters)

    def forward(self, x, y):
        return x + y


def _conv_bn(c=4):
    return nn.Sequential(ForkConv(c, c, 3, padding=1, bias=False), ForkBN(c))


class FakeDetector(nn.Module):
    """Module order of the fork's RetinaNet/FCOS: FPN lateral/output (0-5), top block (6-7),
    bottom-up stem (8) and ``backbone_convs`` block convs, FPN add; head towers (4+4 convs, 5
    per-level BNs each) and ``predictors`` final convs."""

    def __init__(self, backbone_convs=19, blocks=8, predictors=3, c=4):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.fpn = nn.Sequential(*[_conv_bn(c) for _ in range(6)])
        self.backbone.top_block = nn.Sequential(_conv_bn(c), _conv_bn(c))
        bottom = nn.Module()
        bottom.stem = _conv_bn(c)
        bottom.blocks = nn.Sequential(*[_conv_bn(c) for _ in range(backbone_convs)])
        bottom.adds = nn.ModuleList([ForkEltWise() for _ in range(blocks)])
        self.backbone.bottom_up = bottom
        self.backbone.add = ForkEltWise()
        self.head = nn.Module()
        for name in ("cls_tower", "bbox_tower"):
            tower = nn.ModuleList()
            for _ in range(4):
                tower.append(nn.ModuleList([ForkConv(c, c, 3, padding=1)] +
                                           [ForkBN(c) for _ in range(5)]))
            setattr(self.head, name, tower)
        self.head.predictors = nn.ModuleList([ForkConv(c, c, 3, padding=1)
                                              for _ in range(predictors)])


def convert2quantization(model, cfg, scope=("backbone", "head")):
    """The fork's walk: convert convs under ``scope`` (running index), index norms/eltwise."""
    index = -1
    for item in scope:
        cur = model
        for attr in item.split("."):
            cur = getattr(cur, attr)
        for m in cur.modules():
            if hasattr(m, "convert_to_quantization_version"):
                index += 1
                m.convert_to_quantization_version(cfg, index)
    for method in ("convert_norm_to_quantization_version",
                   "convert_eltwise_to_quantization_version"):
        for i, m in enumerate(x for x in model.modules() if hasattr(x, method)):
            getattr(m, method)(cfg, i)
    return model


def conv_at(model, index):
    """The conv that the fork's global indexing gives ``index``."""
    return [m for m in model.modules() if hasattr(m, "update_quantization_parameter")][index]


def norm_at(model, index):
    return [m for m in model.modules() if hasattr(m, "update_norm_quantization_parameter")][index]


def run_conv(conv):
    """One forward of a fake conv on a small non-negative input (training mode)."""
    return conv(torch.rand(1, conv.in_channels, 5, 5))
