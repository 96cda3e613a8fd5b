"""model_quantization.configfiles: the one _BASE_ chain reader (classifier configs, detector
configs read by the experiment table)."""
import pytest

from model_quantization.classification.config import load_config
from model_quantization.configfiles import read_chain
from model_quantization.detection.experiments import load_config_chain


def test_chain_is_root_first_and_bases_are_relative_to_the_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "root.yaml").write_text("a: 1\n")
    (tmp_path / "sub" / "mid.yaml").write_text("_BASE_: ../root.yaml\nb: 2\n")
    (tmp_path / "leaf.yaml").write_text("_BASE_: sub/mid.yaml\na: 3\n")
    chain = read_chain(str(tmp_path / "leaf.yaml"))
    assert [data for _, data in chain] == [{"a": 1}, {"b": 2}, {"a": 3}]
    assert load_config_chain(str(tmp_path / "leaf.yaml")) == {"a": 3, "b": 2}


def test_missing_base_names_the_file_that_refers_to_it(tmp_path):
    (tmp_path / "leaf.yaml").write_text("_BASE_: gone.yaml\n")
    with pytest.raises(FileNotFoundError, match=r"gone.yaml' \(the _BASE_ of .*leaf.yaml'\)"):
        read_chain(str(tmp_path / "leaf.yaml"))


@pytest.mark.parametrize("text, phrase", [("a: [1\n", "is not valid yaml"),
                                          ("- 1\n- 2\n", "must hold a mapping")])
def test_bad_files_are_named(tmp_path, text, phrase):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ValueError, match=phrase):
        read_chain(str(tmp_path / "bad.yaml"))


def test_classifier_config_chain_checks_keys_at_every_level(tmp_path):
    (tmp_path / "base.yaml").write_text("epochs: 3\nbatchsize: 8\n")
    (tmp_path / "leaf.yaml").write_text("_BASE_: base.yaml\n")
    with pytest.raises(ValueError, match="unknown config key 'batchsize' in .*base.yaml"):
        load_config(str(tmp_path / "leaf.yaml"))
