"""Typed config loading: defaults, YAML, overrides, and errors that name the key."""
import pytest

from rnngen import config
from rnngen.errors import ConfigError

ROOT_CONFIGS = ["configs/shakespeare.yaml", "configs/tiny.yaml"]


@pytest.mark.parametrize("name", ROOT_CONFIGS)
def test_shipped_configs_load(name):
    from conftest import ROOT
    cfg = config.load(ROOT / name)
    assert cfg.data.corpus == "tinyshakespeare"


def test_precedence_override_beats_yaml_beats_default(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  steps: 10\n  batch_size: 8\n")
    cfg = config.load(path, [("train.steps", 99)])
    assert cfg.train.steps == 99  # flag over YAML
    assert cfg.train.batch_size == 8  # YAML over default
    assert cfg.train.seq_length == config.TrainConfig().seq_length  # default


def test_ints_accepted_for_floats_but_not_the_reverse(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rate: 1\n")
    assert config.load(path).train.learning_rate == 1.0
    path.write_text("train:\n  steps: 1.5\n")
    with pytest.raises(ConfigError, match=r"train.steps must be int, got float 1.5"):
        config.load(path)


@pytest.mark.parametrize("yaml_text, message", [
    ("train:\n  stpes: 10\n", r"unknown key 'train.stpes' \(did you mean 'steps'\?\)"),
    ("trian:\n  steps: 10\n", r"unknown section 'trian' \(did you mean 'train'\?\)"),
    ("model:\n  hidden_size: big\n", r"model.hidden_size must be int, got str 'big'"),
    ("model:\n  hidden_size: true\n", r"model.hidden_size must be int, got bool"),
    ("model:\n  hidden_size: 0\n", r"model.hidden_size must be > 0"),
    ("train:\n  learning_rate: -1\n", r"train.learning_rate must be > 0"),
    ("data:\n  val_fraction: 1.5\n", r"data.val_fraction must be in \(0, 1\)"),
    ("train:\n  optimizer: adamw\n", r"train.optimizer must be one of"),
    ("train: [1, 2]\n", r"section 'train' must be a mapping"),
    ("- a\n- b\n", r"top level must be a mapping"),
    ("train:\n  steps: [10\n", r"YAML syntax error at line 3"),
])
def test_bad_configs_name_the_key_and_file(tmp_path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message) as err:
        config.load(path)
    assert "\n" not in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "none.yaml")


def test_the_shipped_classifier_config_loads():
    from conftest import ROOT
    cfg = config.load(ROOT / "configs/names.yaml")
    assert (cfg.data.corpus, cfg.model.task, cfg.model.bidirectional) == \
        ("surnames", "classify", True)


def test_parse_assignment_reads_yaml_values():
    assert config.parse_assignment("model.dropout=0.25") == ("model.dropout", 0.25)
    assert config.parse_assignment("train.optimizer=sgd") == ("train.optimizer", "sgd")
    with pytest.raises(ConfigError, match="key=value"):
        config.parse_assignment("model.dropout")


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("train: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="YAML"):
        config.load(path)


def test_config_reference_lists_every_key_with_its_default():
    import re

    import yaml
    from conftest import ROOT

    page = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    section = page.split("## Configuration reference", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    assert yaml.safe_load(block) == config.Config().to_dict()
