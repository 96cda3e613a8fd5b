"""The 'what got quantized' report: one row per convolution / linear layer of a model.

``summarize(model)`` reads a model as it is (after ``convert_model``, or after the detectron2
fork's own conversion: any module with ``quant_weight`` / ``quant_activation`` attributes whose
quantizers expose ``describe()``) and returns a ``QuantReport``. The report prints as a markdown
table, logs line by line, and saves as ``quantization.md`` + ``quantization.json``.
"""
import json
import os

from torch import nn

__all__ = ["QuantReport", "summarize", "describe_quantizer"]

FLOAT = "float"
FLOAT_BITS = 32
_COLUMNS = (("module", "module"), ("type", "type"), ("shape", "shape"), ("weight", "weight"),
            ("w_bits", "W bits"), ("activation", "activation"), ("a_bits", "A bits"),
            ("note", "note"))


def describe_quantizer(q):
    """``(method, bits)`` of a quantizer; ``("float", 32)`` for ``None`` or a disabled one.

    Works for our ``Quantizer`` and for any object with a ``describe()`` dict carrying
    ``method``, ``bits`` (or ``levels``) and optionally ``enabled``.
    """
    if q is None:
        return FLOAT, FLOAT_BITS
    info = q.describe() if callable(getattr(q, "describe", None)) else {}
    if not info.get("enabled", True):
        return FLOAT, FLOAT_BITS
    method = info.get("method") or getattr(q, "method", None) or type(q).__name__
    bits = info.get("bits")
    if bits is None and info.get("levels") is not None:
        bits = "{}L".format(info["levels"])
    return str(method), bits if bits is not None else "?"


def _shape_text(module):
    if isinstance(module, nn.Conv2d):
        k = "x".join(str(int(v)) for v in module.kernel_size)
        s = module.stride[0] if len(set(module.stride)) == 1 else "x".join(map(str, module.stride))
        text = "{}->{} k{} s{}".format(module.in_channels, module.out_channels, k, s)
        return text + (" g{}".format(module.groups) if module.groups > 1 else "")
    if isinstance(module, nn.Linear):
        return "{}->{}".format(module.in_features, module.out_features)
    return ""


def _is_reported(module):
    return (isinstance(module, (nn.Conv2d, nn.Linear)) or hasattr(module, "quant_weight")
            or hasattr(module, "quant_activation"))


def summarize(model, notes=None):
    """Build a ``QuantReport`` from ``model`` as it stands (converted or not).

    Args:
        model: any ``nn.Module``.
        notes: optional ``{module_name: text}`` shown in the report's note column.
    """
    notes = notes or {}
    rows = []
    for name, module in model.named_modules():
        if not _is_reported(module):
            continue
        w_method, w_bits = describe_quantizer(getattr(module, "quant_weight", None))
        a_method, a_bits = describe_quantizer(getattr(module, "quant_activation", None))
        rows.append({"module": name or "(root)", "type": type(module).__name__,
                     "shape": _shape_text(module), "weight": w_method, "w_bits": w_bits,
                     "activation": a_method, "a_bits": a_bits, "note": notes.get(name, "")})
    return QuantReport(rows)


class QuantReport(object):
    """Rows ``{module, type, shape, weight, w_bits, activation, a_bits, note}``, one per
    convolution / linear layer, in module registration order. Float layers read ``float``/32."""

    def __init__(self, rows):
        self.rows = [dict(r) for r in rows]

    def __len__(self):
        return len(self.rows)

    @property
    def num_quantized(self):
        """Layers whose weight or input activation is quantized."""
        return sum(1 for r in self.rows if r["weight"] != FLOAT or r["activation"] != FLOAT)

    def quantized_modules(self):
        """Names of the quantized layers, in order."""
        return [r["module"] for r in self.rows if r["weight"] != FLOAT or r["activation"] != FLOAT]

    def summary(self):
        """One line: how many layers are quantized, out of how many."""
        return "{} of {} conv/linear layers quantized".format(self.num_quantized, len(self.rows))

    def to_dict(self):
        return {"num_layers": len(self.rows), "num_quantized": self.num_quantized,
                "rows": [dict(r) for r in self.rows]}

    def format_table(self):
        """The report as a markdown table preceded by the summary line."""
        cols = [c for c in _COLUMNS if c[0] != "note" or any(r.get("note") for r in self.rows)]
        lines = [self.summary(), "",
                 "| " + " | ".join(title for _, title in cols) + " |",
                 "|" + "|".join("---" for _ in cols) + "|"]
        for r in self.rows:
            lines.append("| " + " | ".join(str(r.get(key, "")) for key, _ in cols) + " |")
        return "\n".join(lines) + "\n"

    def log(self, logger=None):
        """Write the table line by line to ``logger.info`` (or ``print`` when None)."""
        emit = print if logger is None else logger.info
        for line in self.format_table().rstrip("\n").split("\n"):
            emit(line)

    def save(self, directory):
        """Write ``quantization.md`` and ``quantization.json`` into ``directory`` (created if
        needed); returns the two paths."""
        os.makedirs(directory, exist_ok=True)
        md = os.path.join(directory, "quantization.md")
        js = os.path.join(directory, "quantization.json")
        with open(md, "w") as f:
            f.write("# Quantized layers\n\n" + self.format_table())
        with open(js, "w") as f:
            json.dump(self.to_dict(), f, indent=2)
            f.write("\n")
        return md, js

    def __str__(self):
        return self.format_table()
