"""Typed configuration: dataclasses mirrored by YAML sections.

Precedence is command-line override > YAML file > the defaults below. An unknown
key, a wrong type or an out-of-range value is a ConfigError naming key and file.
"""
import dataclasses
import difflib
import math
import reprlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import resources
from .device import DEVICES
from .engine.cells import CELLS
from .engine.heads import POOLINGS
from .engine.model import INITS
from .engine.optim import RULES
from .engine.spec import TASKS
from .errors import ConfigError
from .labelled.read import Limits

SCHEDULES = ("constant", "step", "cosine")
CLASS_WEIGHTS = ("none", "balanced")
_LIMITS = Limits()  # the labelled reader's default bounds
MAX_CONFIG_BYTES = 1 << 20  # a config is a few hundred bytes; this bounds /dev/zero
MAX_ALIASES = 100  # YAML aliases expanded per document; bounds "billion laughs"
_show = reprlib.Repr()  # values in messages: a huge or deeply nested one stays one line
_show.maxstring, _show.maxother, _show.maxlevel = 60, 60, 3


class _Loader(yaml.SafeLoader):
    """safe_load that refuses duplicate keys and bounds alias expansion."""

    source = "config"

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases = getattr(self, "aliases", 0) + 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ConfigError(f"{self.source}: more than {MAX_ALIASES} YAML aliases "
                                  f"(at line {mark.line + 1}); a config needs none: "
                                  "write the values out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
                seen.setdefault(key, line)
            except TypeError:  # an unhashable key: the mapping's own error will say so
                continue
            if first is not None:
                raise ConfigError(f"{self.source}: duplicate key '{key}' at lines {first} "
                                  f"and {line}; keep one of them")
        return super().construct_mapping(node, deep)


def _parse_yaml(text, source):
    """One YAML document through _Loader; ConfigError for syntax errors."""
    loader = _Loader(text)
    loader.source = source
    try:
        return loader.get_single_data()
    except RecursionError:
        raise ConfigError(f"{source}: the YAML is nested too deeply; a config is two "
                          "levels: section, then key") from None
    finally:
        loader.dispose()


@dataclass
class DataConfig:
    # a UTF-8 file path, or a named corpus (tinyshakespeare); to classify, labelled data:
    # a TSV, CSV or JSON Lines file, a folder of class folders, or a named set (surnames)
    corpus: str = "tinyshakespeare"
    # the last fraction of the text held out for validation (classify: that fraction of
    # each class, drawn with train.seed)
    val_fraction: float = 0.1
    val_file: str = ""  # classify: labelled validation data (empty: split data.corpus)
    max_bytes: int = _LIMITS.max_bytes  # classify: the most bytes of labelled data read
    max_rows: int = _LIMITS.max_rows  # classify: the most examples read from one source
    max_text_chars: int = _LIMITS.max_text_chars  # classify: the longest text read


@dataclass
class ModelConfig:
    task: str = "generate"  # generate (the next character) | classify (one label a text)
    cell: str = "rnn"  # rnn (tanh) | lstm | gru
    hidden_size: int = 512  # H, units per layer
    num_layers: int = 1  # L, stacked recurrent layers
    dropout: float = 0.0  # dropout rate on each layer's output while training
    weight_drop: float = 0.0  # rate of W_hh weights dropped per batch while training
    skip: bool = False  # skip connections: the decoder reads every layer, not just the top
    init: str = "scaled"  # scaled | gaussian | identity (rnn only) | orthogonal (W_hh)
    init_scale: float = 0.01  # standard deviation for init: gaussian
    pooling: str = "last"  # classify: the head reads the last step | mean | max over steps
    bidirectional: bool = False  # classify: also read each text from its end to its start


@dataclass
class TrainConfig:
    steps: int = 2000  # optimizer steps (batches) in all
    batch_size: int = 64  # N, parallel streams over the training text (classify: texts)
    # T, steps of truncated backpropagation through time (classify: a batch holds at
    # most batch_size x seq_length characters, padding included)
    seq_length: int = 100
    optimizer: str = "adam"  # sgd | adagrad | rmsprop | adam
    learning_rate: float = 0.002  # base learning rate
    momentum: float = 0.0  # sgd momentum
    beta1: float = 0.9  # adam: first-moment decay
    beta2: float = 0.999  # adam: second-moment decay
    decay_rate: float = 0.99  # rmsprop: squared-gradient decay
    epsilon: float = 1e-8  # adam, rmsprop, adagrad: denominator guard
    weight_decay: float = 0.0  # adam: decoupled weight decay (AdamW) on weight matrices
    lr_schedule: str = "constant"  # constant | step | cosine
    lr_decay: float = 0.97  # step schedule: factor applied every lr_decay_every steps
    lr_decay_every: int = 1000  # step schedule: steps between decays
    min_lr: float = 0.0  # floor for the step and cosine schedules
    warmup_steps: int = 0  # linear warmup from 0 over this many steps
    clip_value: float = 5.0  # clamp gradient entries to +-this (0 turns it off)
    clip_norm: float = 0.0  # scale gradients to this global norm at most (0 turns it off)
    eval_every: int = 200  # validate and write the checkpoint every this many steps
    eval_chars: int = 0  # generate: validation characters scored (0: the whole split)
    patience: int = 0  # stop once this many validations in a row do not improve (0: never)
    class_weights: str = "none"  # classify: none | balanced (each class weighs the same)
    seed: int = 1337  # random seed: initialisation, dropout, data offsets
    device: str = "cpu"  # cpu | cuda (a GPU through the optional CuPy extra)
    output: str = ""  # where the checkpoint is written (empty: runs/<config name>.npz)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self):
        return dataclasses.asdict(self)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
# settings that mean something only to a classifier
CLASSIFY_ONLY = ("data.val_file", "data.max_bytes", "data.max_rows", "data.max_text_chars",
                 "model.pooling", "model.bidirectional", "train.class_weights")


def recorded(cfg):
    """{section: {key: value}}: the settings a checkpoint records, without the ones
    that mean nothing to its task (a character model's record has no classifier's)."""
    sections = cfg.to_dict()
    if cfg.model.task != "classify":
        for key in CLASSIFY_ONLY:
            section, name = key.split(".")
            del sections[section][name]
    return sections
# sections a config file may hold that another module reads and checks (sweep: the
# sweep package); from_dict passes over them, so a config with a sweep trains as it is
OTHER_SECTIONS = ("sweep",)


def _suggest(key, options):
    close = difflib.get_close_matches(key, options, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _coerce(value, typ, where):
    """Check a YAML value against a field type; ints are accepted where floats are."""
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ is float and isinstance(value, str):
        try:  # PyYAML reads 1e-8 (no dot) as a string; take it as the number meant
            return float(value)
        except ValueError:
            pass
    if typ is bool and isinstance(value, bool):
        return value
    if isinstance(value, bool) or not isinstance(value, typ):
        got = "null" if value is None else type(value).__name__
        raise ConfigError(f"{where} must be {typ.__name__}, got {got} {_show.repr(value)}")
    return value


def key_type(dotted, source):
    """The type (int, float, bool, str) of the config key 'section.name'; a ConfigError
    from ``source`` naming the key if there is none."""
    parts = str(dotted).split(".")
    if len(parts) != 2 or parts[0] not in SECTIONS:
        raise ConfigError(f"{source}: unknown key '{dotted}'{_suggest(parts[0], list(SECTIONS))}; "
                          f"keys look like section.name, with section one of {', '.join(SECTIONS)}")
    section, name = parts
    fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])}
    if name not in fields:
        raise ConfigError(f"{source}: unknown key '{dotted}'{_suggest(name, list(fields))}")
    return fields[name].type


def coerce(dotted, value, source):
    """``value`` as the config key 'section.name' takes it; a ConfigError naming both."""
    return _coerce(value, key_type(dotted, source), f"{source}: {dotted}")


def _set(cfg, dotted, value, source):
    value = coerce(dotted, value, source)  # first: it refuses a key that is not section.name
    section, name = dotted.split(".")
    setattr(getattr(cfg, section), name, value)


def from_dict(data, source="config", name="model"):
    """A Config from nested dicts ({section: {key: value}}), validated. Without a
    train.output, the checkpoint goes to runs/<name>.npz (name: the config's)."""
    cfg = Config()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections "
                          f"({', '.join(SECTIONS)}), got {type(data).__name__}")
    for section, values in data.items():
        if section in OTHER_SECTIONS:
            continue
        if section not in SECTIONS:
            raise ConfigError(f"{source}: unknown section {_show.repr(section)}"
                              f"{_suggest(str(section), list(SECTIONS))}")
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section '{section}' must be a mapping of keys")
        for key, value in values.items():
            _set(cfg, f"{section}.{key}", value, source)
    if not cfg.train.output:
        cfg.train.output = str(resources.default_output(name))
    return cfg


def load(path, overrides=()):
    """Read a YAML config file, apply (dotted key, value) overrides, validate."""
    path = Path(path)
    cfg = from_dict(read(path), str(path), path.stem)
    apply_overrides(cfg, overrides)
    return cfg


def read(path):
    """The parsed YAML of a config file (bounded, duplicate keys refused), unchecked:
    for from_dict, and for the modules that own an OTHER_SECTIONS section."""
    path = Path(path)
    try:
        with open(path, "rb") as f:  # at most a bounded read: the path may be /dev/zero
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"config {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB "
                              "(or an endless device); pass --config with a YAML file")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass --config with a YAML file "
                          "or the name of a shipped config (rnngen configs lists them)") from None
    except IsADirectoryError:
        raise ConfigError(f"config {path} is a directory; pass --config with a YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        data = _parse_yaml(text, str(path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: YAML syntax error{where}: {problem}") from None
    return data


def apply_overrides(cfg, overrides, source="command line"):
    """Set dotted keys (e.g. ('train.steps', 100)) on cfg, then validate it."""
    for key, value in overrides:
        _set(cfg, key, value, source)
    validate(cfg)
    return cfg


def parse_assignment(text):
    """'train.steps=100' -> ('train.steps', 100); the value is read as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value (e.g. train.steps=100), got {text!r}")
    try:
        value = _parse_yaml(raw, f"--set {key.strip()}")
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _need(ok, key, message):
    if not ok:
        raise ConfigError(f"{key} {message}")


def validate(cfg):
    """Range checks; raises ConfigError naming the first bad key."""
    d, m, t = cfg.data, cfg.model, cfg.train
    _need(d.corpus != "", "data.corpus", "is empty; name a text file or 'tinyshakespeare'")
    _need(0 < d.val_fraction < 1, "data.val_fraction", f"must be in (0, 1), got {d.val_fraction}")
    for key in ("max_bytes", "max_rows", "max_text_chars"):
        value = getattr(d, key)
        _need(value >= 1, f"data.{key}", f"must be >= 1, got {value}")
    _need(m.task in TASKS, "model.task", f"must be one of {', '.join(TASKS)}, got {m.task!r}")
    _need(m.pooling in POOLINGS, "model.pooling",
          f"must be one of {', '.join(POOLINGS)}, got {m.pooling!r}")
    _need(t.class_weights in CLASS_WEIGHTS, "train.class_weights",
          f"must be one of {', '.join(CLASS_WEIGHTS)}, got {t.class_weights!r}")
    _need(t.patience >= 0, "train.patience", f"must be >= 0, got {t.patience}")
    if m.task == "classify":
        _need(not m.skip, "model.skip", "feeds the next-character decoder; a classifier's "
              "head reads the top layer: set it false")
    else:  # a classifier's setting in a config that generates is a mistake worth a word
        for key in CLASSIFY_ONLY:
            section, name = key.split(".")
            value = getattr(getattr(cfg, section), name)
            _need(value == getattr(SECTIONS[section](), name), key,
                  f"= {_show.repr(value)} is for model.task: classify; this config generates")
    _need(m.hidden_size > 0, "model.hidden_size", f"must be > 0, got {m.hidden_size}")
    _need(m.num_layers > 0, "model.num_layers", f"must be > 0, got {m.num_layers}")
    _need(0 <= m.dropout < 1, "model.dropout", f"must be in [0, 1), got {m.dropout}")
    _need(0 <= m.weight_drop < 1, "model.weight_drop", f"must be in [0, 1), got {m.weight_drop}")
    _need(m.cell in CELLS, "model.cell", f"must be one of {', '.join(CELLS)}, got {m.cell!r}")
    _need(m.init in INITS, "model.init", f"must be one of {', '.join(INITS)}, got {m.init!r}")
    cell = CELLS[m.cell]
    _need(m.init in cell.INITS, "model.init",
          f"{m.init!r} is not defined for the {cell.TITLE} cell; use one of "
          f"{', '.join(cell.INITS)}")
    _need(math.isfinite(m.init_scale) and m.init_scale > 0, "model.init_scale",
          f"must be > 0, got {m.init_scale}")
    for key in ("steps", "batch_size", "seq_length", "eval_every", "lr_decay_every"):
        value = getattr(t, key)
        _need(value >= 1, f"train.{key}", f"must be >= 1, got {value}")
    _need(t.optimizer in RULES, "train.optimizer",
          f"must be one of {', '.join(RULES)}, got {t.optimizer!r}")
    _need(t.lr_schedule in SCHEDULES, "train.lr_schedule",
          f"must be one of {', '.join(SCHEDULES)}, got {t.lr_schedule!r}")
    for key in ("learning_rate", "epsilon"):
        value = getattr(t, key)
        _need(math.isfinite(value) and value > 0, f"train.{key}", f"must be > 0, got {value}")
    for key in ("momentum", "beta1", "beta2", "decay_rate"):
        value = getattr(t, key)
        _need(0 <= value < 1, f"train.{key}", f"must be in [0, 1), got {value}")
    _need(0 < t.lr_decay <= 1, "train.lr_decay", f"must be in (0, 1], got {t.lr_decay}")
    for key in ("weight_decay", "min_lr", "clip_value", "clip_norm"):
        value = getattr(t, key)
        _need(math.isfinite(value) and value >= 0, f"train.{key}", f"must be >= 0, got {value}")
    for key in ("warmup_steps", "eval_chars", "seed"):
        value = getattr(t, key)
        _need(value >= 0, f"train.{key}", f"must be >= 0, got {value}")
    _need(t.output != "", "train.output", "is empty; name a .npz file")
    _need(t.device in DEVICES, "train.device",
          f"must be one of {', '.join(DEVICES)}, got {t.device!r}")
