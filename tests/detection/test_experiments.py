"""The experiment table and the detector configs it names (the step graph built from them:
tests/test_recipe.py)."""
import os

import pytest
import yaml

from model_quantization.detection.experiments import (
    config_value,
    find_experiment,
    load_config_chain,
    load_experiments,
    repo_root,
)

ROOT = repo_root()
EXPERIMENTS = load_experiments()
BY_NAME = {row["name"]: row for row in EXPERIMENTS}
IDS = [row["name"] for row in EXPERIMENTS]


def _cfg(row):
    return load_config_chain(os.path.join(ROOT, row["config"]))


def _quant(row):
    return config_value(_cfg(row), "MODEL.QUANTIZATION") or {}


def test_load_experiments_lists_every_issue_row():
    refs = sorted(r["reference_ap"] for r in EXPERIMENTS if r["reference_ap"] is not None)
    expected = sorted([31.5, 32.8, 33.0, 35.2, 36.6, 37.8, 36.4, 38.6, 38.4, 38.5, 38.9, 37.3,
                       32.2, 33.4, 33.9, 33.9, 34.3, 33.4, 30.3, 32.6, 26.2, 34.0, 32.8, 29.6,
                       37.0, 35.9, 33.1, 35.2, 34.1])
    assert refs == expected


@pytest.mark.parametrize("name", IDS)
def test_experiment_config_chain_resolves(name):
    cfg = _cfg(BY_NAME[name])
    arch = config_value(cfg, "MODEL.META_ARCHITECTURE")
    assert arch == {"FCOS": "OneStageDetector", "RetinaNet": "RetinaNet"}[BY_NAME[name]["detector"]]


@pytest.mark.parametrize("name", IDS)
def test_experiment_output_dir_is_named_after_the_row(name):
    assert config_value(_cfg(BY_NAME[name]), "OUTPUT_DIR") == "output/detection/" + name


@pytest.mark.parametrize("name", IDS)
def test_experiment_reference_has_a_source_or_a_note(name):
    row = BY_NAME[name]
    if row["reference_ap"] is None:
        assert row.get("note"), "a row without a reference AP must say why"
    else:
        assert "result_det.md" in row["source"]


@pytest.mark.parametrize("name", [r["name"] for r in EXPERIMENTS if r["init"] != "fp"])
def test_experiment_dependencies_exist_and_match_the_config(name):
    row = BY_NAME[name]
    fp = BY_NAME[row["fp_detector"]]
    assert fp["method"] == "fp"
    fp_final = config_value(_cfg(fp), "OUTPUT_DIR") + "/model_final.pth"
    cfg = _cfg(row)
    if row["init"] == "double":
        assert config_value(cfg, "MODEL.EXTRA_WEIGHTS") == fp_final
        assert os.path.isfile(os.path.join(ROOT, row["cls_config"])), row["cls_config"]
        stem = os.path.splitext(os.path.basename(row["cls_config"]))[0]
        assert config_value(cfg, "MODEL.WEIGHTS") == "output/backbones/{}/model_d2.pth".format(stem)
    else:
        assert config_value(cfg, "MODEL.WEIGHTS") == fp_final
        assert not config_value(cfg, "MODEL.EXTRA_WEIGHTS")


@pytest.mark.parametrize("name", [r["name"] for r in EXPERIMENTS if r["method"] == "fp"])
def test_fp_experiment_quantizes_nothing(name):
    q = _quant(BY_NAME[name])
    assert not q.get("fm_enable") and not q.get("wt_enable")


@pytest.mark.parametrize("name", [r["name"] for r in EXPERIMENTS if r["method"] == "dorefa"])
def test_dorefa_experiment_uses_dorefa_keyword_only(name):
    q = _quant(BY_NAME[name])
    assert q["keyword"] == ["dorefa"]
    assert q["fm_bit"] == q["wt_bit"] == BY_NAME[name]["weight_bits"]
    assert "fm_boundary" in q and "fm_level" not in q


@pytest.mark.parametrize("name", [r["name"] for r in EXPERIMENTS if r["method"] == "lqnet"])
def test_lqnet_experiment_is_ternary(name):
    q = _quant(BY_NAME[name])
    assert q["keyword"] == ["lq"]
    assert q["fm_level"] == 3 and q["wt_level"] == 3


@pytest.mark.parametrize("name", [r["name"] for r in EXPERIMENTS if r["method"] == "lsq"])
def test_lsq_experiment_has_policy_with_8bit_first_and_last(name):
    row = BY_NAME[name]
    q = _quant(row)
    assert q["keyword"] == ["dorefa", "lsq"]
    assert q["fm_bit"] == q["wt_bit"] == row["weight_bits"]
    text = open(os.path.join(ROOT, q["policy"])).read()
    assert "level_num: 256" in text and "num_levels: 256" in text
    assert "stable: 10" in text and "correlate: 0.8" in text


@pytest.mark.parametrize("name", [r["name"] for r in EXPERIMENTS if r["quantize_scope"]])
def test_quantize_scope_matches_the_row(name):
    row = BY_NAME[name]
    scope = _quant(row)["scope"]
    heads = [s for s in scope if s.startswith(("proposal_generator", "head"))]
    if row["quantize_scope"] == "backbone":
        assert not heads and "backbone.bottom_up.res2" in scope
    else:
        assert heads


def test_find_experiment_resolves_alias_to_the_2bit_dorefa_row():
    row = find_experiment("fcos-r18-2bit", EXPERIMENTS)
    assert row["name"] == "fcos-r18-fpnbn-dorefa-w2a2-all"
    assert (row["method"], row["weight_bits"], row["quantize_scope"], row["init"]) == \
        ("dorefa", 2, "all", "double")


def test_find_experiment_by_config_path():
    row = BY_NAME["fcos-r18-fpnbn-fp"]
    assert find_experiment(os.path.join(ROOT, row["config"]), EXPERIMENTS) is row
    assert find_experiment("some/other/config.yaml", EXPERIMENTS) is None


def test_find_experiment_unknown_name_suggests_close_one():
    with pytest.raises(KeyError, match="Did you mean 'fcos-r18-fp'"):
        find_experiment("fcos-r18-fq", EXPERIMENTS)


def test_load_experiments_rejects_unknown_field(tmp_path):
    row = dict(EXPERIMENTS[0], refrence_ap=1.0)
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump({"experiments": [row]}))
    with pytest.raises(KeyError, match="refrence_ap.*Did you mean 'reference_ap'"):
        load_experiments(str(path))


def test_load_experiments_rejects_bad_choice(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump({"experiments": [dict(EXPERIMENTS[0], init="dubble")]}))
    with pytest.raises(ValueError, match="init = 'dubble'.*Did you mean 'double'"):
        load_experiments(str(path))


def test_load_config_chain_merges_and_derived_wins(tmp_path):
    (tmp_path / "base.yaml").write_text("A: {x: 1, y: [1, 2]}\nB: 1\n")
    (tmp_path / "child.yaml").write_text("_BASE_: base.yaml\nA: {y: [3]}\n")
    assert load_config_chain(str(tmp_path / "child.yaml")) == {"A": {"x": 1, "y": [3]}, "B": 1}


def test_load_config_chain_missing_base_names_the_referring_file(tmp_path):
    (tmp_path / "child.yaml").write_text("_BASE_: nope.yaml\n")
    with pytest.raises(FileNotFoundError, match="nope.yaml.*_BASE_ of .*child.yaml"):
        load_config_chain(str(tmp_path / "child.yaml"))


def test_load_config_chain_detects_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("_BASE_: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_BASE_: a.yaml\n")
    with pytest.raises(ValueError, match="cycle"):
        load_config_chain(str(tmp_path / "a.yaml"))
