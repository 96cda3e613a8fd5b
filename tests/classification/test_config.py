"""Tests for the classifier config: defaults, yaml + _BASE_, --opts, validation messages."""
import pytest

from model_quantization.classification.config import DEFAULTS, apply_opts, load_config, parse_opt


def test_load_config_defaults_without_file():
    cfg = load_config()
    assert cfg == DEFAULTS and cfg is not DEFAULTS


def test_load_config_unknown_key_suggests_close_key(tmp_path):
    (tmp_path / "c.yaml").write_text("optimizer:\n  learning_rate: 0.1\n")
    with pytest.raises(ValueError, match=r"optimizer\.learning_rate.*c\.yaml.*Did you mean"):
        load_config(tmp_path / "c.yaml")


def test_load_config_unknown_top_level_key_did_you_mean(tmp_path):
    (tmp_path / "c.yaml").write_text("epoch: 3\n")
    with pytest.raises(ValueError, match="'epoch'.*Did you mean 'epochs'"):
        load_config(tmp_path / "c.yaml")


def test_apply_opts_unknown_key_did_you_mean():
    with pytest.raises(ValueError,
                       match="'optimizer.wd'.*--opts.*Did you mean 'optimizer.weight_decay'"):
        apply_opts(load_config(), ["optimizer.wd=0.1"])


def test_apply_opts_parses_yaml_values():
    cfg = apply_opts(load_config(), ["optimizer.lr=0.01", "init_skip=[fc.]", "num_classes=10",
                                     "quantization.weight={method: lsq, bits: 2}"])
    assert cfg["optimizer"]["lr"] == 0.01
    assert cfg["init_skip"] == ["fc."]
    assert cfg["num_classes"] == 10
    assert cfg["quantization"]["weight"] == {"method": "lsq", "bits": 2}


def test_apply_opts_merges_free_form_dicts():
    cfg = apply_opts(load_config(), ["quantization.weight={method: lsq, bits: 2}",
                                     "quantization.weight.bits=4"])
    assert cfg["quantization"]["weight"] == {"method": "lsq", "bits": 4}


def test_apply_opts_wrong_type_is_type_error():
    with pytest.raises(TypeError, match="'epochs'.*int.*'many'"):
        apply_opts(load_config(), ["epochs=many"])


def test_parse_opt_requires_equals():
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_opt("epochs")


def test_load_config_bad_choice_did_you_mean():
    with pytest.raises(ValueError, match="optimizer.name = 'sdg'.*Did you mean 'sgd'"):
        load_config(None, ["optimizer.name=sdg"])


def test_load_config_base_inheritance(tmp_path):
    (tmp_path / "base.yaml").write_text("arch: resnet34\nepochs: 5\noptimizer:\n  lr: 0.2\n")
    (tmp_path / "child.yaml").write_text("_BASE_: base.yaml\nepochs: 7\n")
    cfg = load_config(tmp_path / "child.yaml")
    assert (cfg["arch"], cfg["epochs"], cfg["optimizer"]["lr"]) == ("resnet34", 7, 0.2)
    assert cfg["optimizer"]["momentum"] == DEFAULTS["optimizer"]["momentum"]


def test_load_config_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_apply_opts_null_for_a_number_is_type_error():
    with pytest.raises(TypeError, match="'epochs' in --opts cannot be null"):
        apply_opts(load_config(), ["epochs=null"])


def test_apply_opts_null_path_means_empty():
    assert apply_opts(load_config(), ["pretrained.path=null"])["pretrained"]["path"] == ""
