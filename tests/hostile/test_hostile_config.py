"""Hostile configs: duplicate keys, alias bombs, devices, odd YAML, values out of range."""
import dataclasses

import pytest

from world import assert_error, assert_ok, cli, digest, make_world
from rnngen import checkpoint, config


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "config")


def refused(w, tmp_path, text, fragment, *extra):
    """Train with a config holding text: refused with one line, nothing written."""
    path = tmp_path / "c.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = digest(path)
    out = tmp_path / "out.npz"
    result = cli(["train", "--config", path, "--corpus", w.text, "--output", out, "-q", *extra])
    line = assert_error(result, fragment)
    assert not out.exists() and digest(path) == before
    return line


DUPLICATES = [
    ("two train sections", "train:\n  steps: 5\nmodel:\n  hidden_size: 4\ntrain:\n  seed: 2\n",
     "duplicate key 'train' at lines 1 and 5"),
    ("key twice in a section", "train:\n  steps: 5\n  steps: 6\n",
     "duplicate key 'steps' at lines 2 and 3"),
    ("output twice", "train:\n  output: a.npz\n  seed: 1\n  output: b.npz\n",
     "duplicate key 'output' at lines 2 and 4"),
    ("flow mapping", "train: {steps: 5, steps: 6}\n", "duplicate key 'steps' at lines 1 and 1"),
    ("quoted and plain", "train:\n  steps: 5\n  'steps': 6\n",
     "duplicate key 'steps' at lines 2 and 3"),
    ("data twice, far apart", "data:\n  val_fraction: 0.1\n" + "# pad\n" * 50 + "data: {}\n",
     "duplicate key 'data' at lines 1 and 53"),
    ("nested in a value", "train:\n  steps: {a: 1, a: 2}\n", "duplicate key 'a' at lines 2 and 2"),
]


@pytest.mark.parametrize("name, text, fragment", DUPLICATES, ids=[d[0] for d in DUPLICATES])
def test_duplicate_keys_name_the_key_and_both_lines(w, tmp_path, name, text, fragment):
    refused(w, tmp_path, text, fragment)


def bomb(levels, width):
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines) + f"\ntrain: {{steps: *l{levels - 1}}}\n"


@pytest.mark.parametrize("levels, width", [(10, 12), (21, 6), (3, 60)])
def test_alias_bombs_are_bounded(w, tmp_path, levels, width):
    refused(w, tmp_path, bomb(levels, width), f"more than {config.MAX_ALIASES} YAML aliases")


def test_a_value_built_of_aliases_is_shown_in_one_short_line(w, tmp_path):
    # under the alias limit, but 10^8 elements if printed out in full
    text = "x0: &x0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" + "".join(
        f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]\n" for i in range(1, 8))
    line = refused(w, tmp_path, "train:\n  steps: &t [[1, 2], [3, 4]]\n  seed: *t\n"
                   + text.replace("\n", "\n  ").replace("x0:", "  x0:", 1),
                   "train.steps must be int, got list")
    assert len(line) < 300


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_devices_are_read_only_a_bounded_amount(w, tmp_path, device):
    out = tmp_path / "out.npz"
    result = cli(["train", "--config", device, "--corpus", w.text, "--output", out])
    assert_error(result, "is larger than 1024 KiB (or an endless device)")


@pytest.mark.parametrize("name, text, fragment", [
    ("over 1 MiB of comments", b"# " + b"x" * (1 << 20) + b"\n", "is larger than 1024 KiB"),
    ("deeply nested", b"[" * 20000, "nested too deeply"),
    ("deep flow mappings", b"{a: " * 20000, "nested too deeply"),
    ("not UTF-8", b"train:\n  output: caf\xe9.npz\n", "is not UTF-8 text"),
    ("NUL byte", b"train:\n  steps: 5\x00\n", "YAML syntax error"),
    ("python object tag", b"train: !!python/object/apply:os.system ['true']\n",
     "YAML syntax error"),
    ("a list at the top", b"- train\n- model\n", "the top level must be a mapping"),
    ("a scalar at the top", b"42\n", "the top level must be a mapping"),
    ("a section that is a list", b"train: [1, 2]\n", "section 'train' must be a mapping"),
    ("a section that is a string", b"train: fast\n", "section 'train' must be a mapping"),
    ("unknown section", b"trian:\n  steps: 5\n", "unknown section 'trian' (did you mean 'train'?)"),
    ("a list as a key", b"? [a, b]\n: 1\n", "YAML syntax error"),
    ("two documents", b"train: {steps: 5}\n---\ntrain: {steps: 6}\n", "YAML syntax error"),
    ("tab indentation", b"train:\n\tsteps: 5\n", "YAML syntax error"),
    ("unclosed quote", b"train:\n  output: 'x.npz\n", "YAML syntax error"),
    ("merge of a scalar", b"train:\n  <<: 5\n", "YAML syntax error"),
])
def test_malformed_config_files(w, tmp_path, name, text, fragment):
    refused(w, tmp_path, text, fragment)


def test_config_that_is_a_directory_or_missing(w, tmp_path):
    assert_error(cli(["train", "--config", tmp_path]), "is a directory")
    assert_error(cli(["train", "--config", tmp_path / "none.yaml"]), "does not exist")


# every key, given a value of the wrong type
FIELDS = [(s, f.name, f.type) for s, cls in config.SECTIONS.items()
          for f in dataclasses.fields(cls)]
WRONG = {int: "[1, 2]", float: "not-a-number", str: "{a: 1}", bool: "maybe"}


@pytest.mark.parametrize("section, key, typ", FIELDS, ids=[f"{s}.{k}" for s, k, _ in FIELDS])
def test_every_key_rejects_a_wrong_type(w, tmp_path, section, key, typ):
    line = refused(w, tmp_path, f"{section}:\n  {key}: {WRONG[typ]}\n",
                   f"{section}.{key} must be {typ.__name__}, got")
    assert line.count("\n") == 0


OUT_OF_RANGE = [
    ("data.val_fraction", ".nan"), ("data.val_fraction", "0"), ("data.val_fraction", "1"),
    ("model.hidden_size", "0"), ("model.hidden_size", "-5"), ("model.num_layers", "0"),
    ("model.dropout", "1.0"), ("model.dropout", ".nan"), ("model.weight_drop", "-0.1"),
    ("model.init", "zeros"), ("model.init_scale", "0"), ("model.init_scale", ".inf"),
    ("model.init_scale", ".nan"), ("train.steps", "0"), ("train.batch_size", "0"),
    ("train.seq_length", "-1"), ("train.optimizer", "lbfgs"), ("train.learning_rate", "0"),
    ("train.learning_rate", ".inf"), ("train.learning_rate", ".nan"), ("train.momentum", "1"),
    ("train.beta1", "-0.1"), ("train.beta2", "1.0"), ("train.decay_rate", ".nan"),
    ("train.epsilon", "0"), ("train.weight_decay", "-1"), ("train.weight_decay", ".inf"),
    ("train.lr_schedule", "linear"), ("train.lr_decay", "0"), ("train.lr_decay", "1.5"),
    ("train.lr_decay_every", "0"), ("train.min_lr", "-.inf"), ("train.warmup_steps", "-1"),
    ("train.clip_value", ".nan"), ("train.clip_norm", "-1"), ("train.eval_every", "0"),
    ("train.eval_chars", "-1"), ("train.seed", "-1"), ("train.output", "''"),
    ("data.corpus", "''"),
]


@pytest.mark.parametrize("key, value", OUT_OF_RANGE, ids=[f"{k}={v}" for k, v in OUT_OF_RANGE])
def test_out_of_range_values_name_the_key(w, tmp_path, key, value):
    out = tmp_path / "out.npz"
    extra = [] if key in ("train.output", "data.corpus") else ["--corpus", w.text, "--output", out]
    result = cli(["train", "--config", w.cfg, "--set", f"{key}={value}", "-q", *extra])
    assert_error(result, key)
    assert not out.exists()


# valid YAML in unusual clothes must still be read, and train
VALID = [
    ("anchors and a merge", "train: &t\n  steps: 2\n  seed: 1\n"),
    ("crlf line ends", "train:\r\n  steps: 2\r\n"),
    ("utf-8 BOM", "\ufefftrain:\n  steps: 2\n"),
    ("comments everywhere", "# hello\ntrain: # the section\n  steps: 2 # two\n"),
    ("flow style", "{train: {steps: 2}, model: {hidden_size: 4}}\n"),
    ("empty sections", "data:\nmodel:\ntrain:\n  steps: 2\n"),
    ("quoted keys", "'train':\n  \"steps\": 2\n"),
    ("explicit document markers", "---\ntrain:\n  steps: 2\n...\n"),
    ("exponent without a dot", "train:\n  steps: 2\n  epsilon: 1e-8\n"),
    ("merge inside a section", "train:\n  <<: {steps: 3, seed: 1}\n  steps: 2\n"),
]


@pytest.mark.parametrize("name, text", VALID, ids=[v[0] for v in VALID])
def test_valid_yaml_in_unusual_form_trains(w, tmp_path, name, text):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8", newline="")
    out = tmp_path / "out.npz"
    result = cli(["train", "--config", path, "--corpus", w.text, "--output", out, "-q",
                  "--set", "model.hidden_size=4", "--set", "train.batch_size=2",
                  "--set", "train.seq_length=8", "--set", "train.eval_every=2"])
    assert_ok(result)
    assert out.exists()
    from rnngen import checkpoint
    assert checkpoint.load(out).settings("train")["steps"] == 2


@pytest.mark.parametrize("value, fragment", [
    ("&a [*a]", "train.steps must be int"),
    ("!!python/name:os.system", "train.steps must be int, got str"),
    ("[" * 5000, "nested too deeply"),
])
def test_hostile_set_values(w, tmp_path, value, fragment):
    out = tmp_path / "out.npz"
    result = cli(["train", "--config", w.cfg, "--set", f"train.steps={value}",
                  "--output", out, "--corpus", w.text])
    line = assert_error(result, fragment)
    assert len(line) < 300 and not out.exists()


@pytest.mark.parametrize("aliases, refused_", [(100, False), (101, True)])  # as documented
def test_the_alias_limit_is_exact(w, tmp_path, aliases, refused_):
    text = "train:\n  seed: &s 1\n  steps: 2\n" + "".join(
        f"x{i}: *s\n" for i in range(aliases))
    path = tmp_path / "c.yaml"
    path.write_text(text)
    result = cli(["train", "--config", path, "--corpus", w.text, "--output", tmp_path / "m.npz"])
    if refused_:
        assert_error(result, "more than 100 YAML aliases")
    else:  # within the limit, the next error is the unknown section, not the aliases
        assert_error(result, "unknown section 'x0'")


def test_every_schedule_is_accepted(w, tmp_path):
    for schedule in config.SCHEDULES:
        assert config.from_dict({"train": {"lr_schedule": schedule}}).train.lr_schedule \
            == schedule
    assert set(config.SCHEDULES) == {"constant", "step", "cosine"}  # as the README lists


# -- a name of a few choices, in any case; a wrong one names the file and the choices ----
@pytest.mark.parametrize("key, written, stored", [
    ("model.cell", "LSTM", "lstm"), ("model.cell", "Gru", "gru"), ("model.cell", " rnn ", "rnn"),
    ("model.init", "Orthogonal", "orthogonal"), ("train.optimizer", "AdaM", "adam"),
    ("train.lr_schedule", "COSINE", "cosine"), ("train.device", "CPU", "cpu"),
])
def test_a_choice_is_read_in_any_case(w, tmp_path, key, written, stored):
    section, name = key.split(".")
    path = tmp_path / "c.yaml"
    path.write_text(f"{section}:\n  {name}: '{written}'\nmodel:\n  hidden_size: 4\n"
                    if section != "model" else f"model:\n  {name}: '{written}'\n"
                    "  hidden_size: 4\n")
    out = tmp_path / "out.npz"
    assert_ok(cli(["train", "--config", path, "--corpus", w.text, "--output", out, "--steps",
                   "2", "--set", "train.eval_every=2", "--set", "train.batch_size=2",
                   "--set", "train.seq_length=8", "-q"]))
    assert checkpoint.load(out).settings(section)[name] == stored


@pytest.mark.parametrize("where", ["file", "command line"])
def test_a_wrong_choice_names_where_it_was_set_and_the_choices(w, tmp_path, where):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  cell: LTSM\n" if where == "file" else "model:\n  cell: gru\n")
    extra = ["--set", "model.cell=LTSM"] if where == "command line" else []
    origin = str(path) if where == "file" else "command line"
    line = refused(w, tmp_path, path.read_text(),
                   f"{origin}: model.cell must be one of rnn, lstm, gru, got 'ltsm'", *extra)
    assert line.startswith("Error: ")
