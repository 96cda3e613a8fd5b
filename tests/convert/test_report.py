import json
import logging

from torch import nn

from model_quantization.convert import QuantReport, convert_model, summarize


def test_summarize_lists_float_layers_of_unconverted_model(net):
    report = summarize(net)
    assert [r["module"] for r in report.rows] == ["stem", "layer1.0", "layer1.3", "layer10.0", "fc"]
    assert report.num_quantized == 0
    assert all(r["weight"] == r["activation"] == "float" and r["w_bits"] == 32 for r in report.rows)


def test_summarize_reads_foreign_quantizers_with_describe():
    class ForeignQuant(nn.Module):  # like the compat `quantization` object of the detectron2 fork
        def __init__(self, bits, enabled=True):
            super().__init__()
            self.bits, self.enabled = bits, enabled

        def describe(self):
            return {"method": "dorefa", "bits": self.bits, "enabled": self.enabled}

    class ForkConv(nn.Conv2d):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.quant_weight, self.quant_activation = ForeignQuant(2), ForeignQuant(4, False)

    model = nn.Sequential(ForkConv(3, 4, 3), nn.Conv2d(4, 4, 1))
    rows = summarize(model).rows
    assert (rows[0]["type"], rows[0]["weight"], rows[0]["w_bits"]) == ("ForkConv", "dorefa", 2)
    assert rows[0]["activation"] == "float"  # disabled quantizer reads as float
    assert rows[1]["weight"] == "float"


def test_quant_report_reports_disabled_quantizer_as_float(net, toy_spec):
    convert_model(net, weight=toy_spec(2), scope="fc")
    net.fc.quant_weight.enabled = False
    assert summarize(net).num_quantized == 0


def test_quant_report_format_table_has_one_row_per_layer(net, toy_spec):
    report = convert_model(net, weight=toy_spec(2), activation=toy_spec(4), exclude=["stem"])
    table = report.format_table()
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| module | type | shape | weight | W bits | activation | A bits |")
    assert len(lines) == 1 + len(report.rows) == 6
    assert "| layer1.0 | QuantConv2d | 8->8 k3x3 s1 g8 | toy-convert-test | 2 |" in table
    assert "4 of 5 conv/linear layers quantized" in table


def test_quant_report_save_writes_markdown_and_json(net, toy_spec, tmp_path):
    report = convert_model(net, weight=toy_spec(2), overrides={"fc": {"weight": toy_spec(8)}})
    md, js = report.save(str(tmp_path / "run"))
    assert report.format_table() in open(md).read()
    data = json.load(open(js))
    assert data["num_quantized"] == report.num_quantized == 5
    assert data["rows"] == report.rows
    assert QuantReport(data["rows"]).format_table() == report.format_table()


def test_quant_report_log_writes_every_line(net, toy_spec, caplog):
    report = convert_model(net, weight=toy_spec(2))
    with caplog.at_level(logging.INFO, logger="test.report"):
        report.log(logging.getLogger("test.report"))
    assert len(caplog.records) == len(report.format_table().rstrip("\n").splitlines())
    assert any("| fc | QuantLinear |" in r.getMessage() for r in caplog.records)


def test_quant_report_to_dict_counts(net, toy_spec):
    d = convert_model(net, activation=toy_spec(2), scope=["layer1", "fc"]).to_dict()
    assert (d["num_layers"], d["num_quantized"]) == (5, 3)
    assert {r["module"]: r["note"] for r in d["rows"]}["stem"] == "out of scope"


def test_summarize_root_conv_is_named():
    assert summarize(nn.Conv2d(1, 1, 1)).rows[0]["module"] == "(root)"
