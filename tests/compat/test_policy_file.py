"""compat.policy_file: QTool's policy-file grammar (docs/forks.md, "The policy file grammar")."""
import pytest

from model_quantization.compat.policy_file import (
    PolicyError,
    parse_index_selector,
    parse_policy,
    parse_policy_text,
    policy_sections,
)


def parse(text, section="init"):
    warnings = []
    return parse_policy_text(text, section=section, source="p.txt", warn=warnings.append), warnings


def test_parse_policy_trigger_is_first_entry():
    result, _ = parse("on epoch: 10 20\n  by_index: 3\n  level_num: 8\n", "epoch")
    assert result == [{"trigger": [10, 20]}, {"by_index": "3", "level_num": "8"}]


def test_parse_policy_skips_comments_and_blank_lines():
    text = "# head\n\non init:   # section\n  by_index: 8 # input layer\n\n  enable: False\n"
    result, _ = parse(text)
    assert result[1] == {"by_index": "8", "enable": "False"}


def test_parse_policy_returns_empty_for_absent_section():
    assert parse("on init:\n  by_index: 1\n  enable: False\n", "norm")[0] == []


def test_parse_policy_skips_other_sections():
    text = "on norm:\n  by_index: all\n  choice: x\non init:\n  by_index: 2\n  stable: 10\n"
    assert parse(text)[0] == [{"trigger": []}, {"by_index": "2", "stable": "10"}]


def test_parse_policy_splits_values_on_commas_then_blanks():
    text = "on init:\n  by_index: 28,29, 30\n  by_tag: fm wt\n  x: a b, c\n  y: one\n"
    block = parse(text)[0][1]
    assert block == {"by_index": ["28", "29", "30"], "by_tag": ["fm", "wt"], "x": ["a b", "c"],
                     "y": "one"}


def test_parse_policy_list_items_become_booleans():
    block = parse("on init:\n  by_index: all\n  flags: True false x\n")[0][1]
    assert block["flags"] == [True, False, "x"]


def test_parse_policy_new_block_starts_at_by_key_after_settings():
    text = ("on init:\n  by_index: 8\n  by_tag: fm\n  enable: False\n"
            "  by_index: 36 37\n  bit: 8\n")
    result, _ = parse(text)
    assert result[1:] == [{"by_index": "8", "by_tag": "fm", "enable": "False"},
                          {"by_index": ["36", "37"], "bit": "8"}]


def test_parse_policy_records_source_line_of_each_block():
    result, _ = parse("\non init:\n  by_index: 8\n  enable: False\n\n  by_index: 9\n  bit: 8\n")
    assert [p.source for p in result[1:]] == ["p.txt:3", "p.txt:6"]


def test_parse_policy_line_without_colon_stops_with_warning():
    text = "on init:\n  by_index: 8\n  enable: False\nstop here\n  by_index: 9\n  bit: 8\n"
    result, warnings = parse(text)
    assert result[1:] == [{"by_index": "8", "enable": "False"}]
    assert any("p.txt:4" in w and "parsing stops" in w for w in warnings)


def test_parse_policy_settings_before_first_selector_are_dropped_with_warning():
    result, warnings = parse("on init:\n  enable: False\n  by_index: 1\n  bit: 8\n")
    assert result[1:] == [{"by_index": "1", "bit": "8"}]
    assert any("lines 2" in w for w in warnings)


def test_parse_policy_key_with_blank_before_colon():
    assert parse("on init:\n  by_index : 36 37\n  enable: True\n")[0][1]["by_index"] == [
        "36", "37"]


def test_parse_policy_repeated_section_restarts_result():
    text = "on init:\n  by_index: 1\n  bit: 8\non init:\n  by_index: 2\n  bit: 4\n"
    result, warnings = parse(text)
    assert result[1:] == [{"by_index": "2", "bit": "4"}] and warnings


@pytest.mark.parametrize("text, line", [
    ("on init:\n  by_index: 8\n  bad key: 1\n", 3),
    ("on init:\n  : 1\n", 2),
    ("on epoch: ten\n", 1),
    ("on init:\n  by_index: 8a\n", 2),
    ("on :\n", 1),
])
def test_parse_policy_unparsable_line_raises_with_file_and_line(text, line):
    with pytest.raises(PolicyError, match="p.txt:{}".format(line)):
        parse(text, "epoch" if "epoch" in text else "init")


def test_parse_policy_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        parse_policy(str(tmp_path / "missing.txt"))


def test_parse_policy_reads_file(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("on init:\n  by_index: all\n  global_buffer: clip_val\n")
    result = parse_policy(str(path))
    assert result[1] == {"by_index": "all", "global_buffer": "clip_val"}
    assert result[1].source == "{}:2".format(path)


@pytest.mark.parametrize("value, expected", [("all", "all"), ("8", [8]), (8, [8]),
                                             ("36 37", [36, 37]), (["1", "2"], [1, 2])])
def test_parse_index_selector_forms(value, expected):
    assert parse_index_selector(value) == expected


def test_policy_sections_lists_headers():
    assert policy_sections("on init:\n by_index: 1\n x: 1\non norm:\non eltwise:\n") == [
        "init", "norm", "eltwise"]
