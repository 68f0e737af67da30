"""Property tests: random and mutated input to the config loader, the checkpoint loader
and the sampler's options. Nothing but rnngen's own errors may escape, and an input
that is valid must succeed: legal configs load with their values, a mutated config
is refused only when a plain reading refuses it too (or by one of rnngen's own
rules), a checkpoint that loads can be used, and legal sampler flags work."""
import math

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, edit_meta, make_text, sample_text
from rnngen import checkpoint, config, corpus, decoding, evaluation
from rnngen.cli import main
from rnngen.config import SCHEDULES
from rnngen.device import DEVICES
from rnngen.engine.cells import CELLS
from rnngen.engine.model import INITS
from rnngen.engine.optim import RULES
from rnngen.errors import RnngenError
from rnngen.run import build_trainer

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

KEYS = [f"{s}.{f}" for s, cls in config.SECTIONS.items()
        for f in cls.__dataclass_fields__]
scalars = (st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.text(max_size=8)
           | st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


@st.composite
def config_dicts(draw):
    """Mostly real keys with random values, some random keys and shapes."""
    data = {}
    for key in draw(st.lists(st.sampled_from(KEYS) | st.text(max_size=12), max_size=6)):
        section, _, name = key.partition(".")
        data.setdefault(section, {})
        if isinstance(data[section], dict):
            data[section][name or draw(st.text(max_size=5))] = draw(values)
    if draw(st.booleans()):
        data[draw(st.text(max_size=6))] = draw(values)
    return data


@FUZZ
@given(config_dicts())
def test_config_from_random_dicts(data):
    try:
        cfg = config.from_dict(data, "fuzz.yaml")
        config.validate(cfg)
    except RnngenError:
        pass


def num(lo, hi):
    """A float in [lo, hi], or a whole number in it (YAML writes 1 for 1.0); the ends
    often, since that is where a wrong bound shows."""
    ints = st.integers(math.ceil(lo), math.floor(hi)) if math.ceil(lo) <= hi else st.nothing()
    return st.sampled_from([lo, hi]) | st.floats(lo, hi) | ints


def whole(lo, hi):
    """A whole number in [lo, hi], the ends often."""
    return st.sampled_from([lo, hi]) | st.integers(lo, hi)


# a legal value for every key, drawn from the ranges config.validate documents
LEGAL = {
    "data.corpus": st.text(min_size=1, max_size=8),
    "data.val_fraction": num(0.001, 0.999),
    "model.hidden_size": whole(1, 4096), "model.num_layers": whole(1, 64),
    "model.dropout": num(0, 0.999), "model.weight_drop": num(0, 0.999),
    "model.skip": st.booleans(), "model.init": st.sampled_from(INITS),
    "model.cell": st.sampled_from(list(CELLS)), "train.device": st.sampled_from(DEVICES),
    "model.init_scale": num(1e-6, 10),
    "train.steps": whole(1, 10**9), "train.batch_size": whole(1, 4096),
    "train.seq_length": whole(1, 4096), "train.optimizer": st.sampled_from(list(RULES)),
    "train.learning_rate": num(1e-9, 10), "train.momentum": num(0, 0.999),
    "train.beta1": num(0, 0.999), "train.beta2": num(0, 0.999),
    "train.decay_rate": num(0, 0.999), "train.epsilon": num(1e-12, 1),
    "train.weight_decay": num(0, 10), "train.lr_schedule": st.sampled_from(SCHEDULES),
    "train.lr_decay": num(0.001, 1), "train.lr_decay_every": whole(1, 10**6),
    "train.min_lr": num(0, 1), "train.warmup_steps": whole(0, 10**6),
    "train.clip_value": num(0, 100), "train.clip_norm": num(0, 100),
    "train.eval_every": whole(1, 10**6), "train.eval_chars": whole(0, 10**9),
    "train.seed": whole(0, 2**63), "train.output": st.text(min_size=1, max_size=8),
    "train.patience": whole(0, 10**6), "model.task": st.just("generate"),
    # a classifier's settings are legal in a generating config only at their defaults
    **{key: st.just(getattr(getattr(config.Config(), key.split(".")[0]), key.split(".")[1]))
       for key in config.CLASSIFY_ONLY},
}


def test_every_key_has_a_legal_strategy():
    assert set(LEGAL) == set(KEYS)


@st.composite
def legal_dicts(draw):
    data = {}
    for key in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS))):
        section, name = key.split(".")
        data.setdefault(section, {})[name] = draw(LEGAL[key])
    model = data.get("model", {})
    if model.get("init") not in CELLS[model.get("cell", "rnn")].INITS:
        model["init"] = "scaled"  # identity is the tanh RNN's only: not a legal pair
    return data


@FUZZ
@given(legal_dicts())
def test_legal_configs_always_load_with_their_values(tmp_path, data):
    cfg = config.from_dict(data, "fuzz.yaml")
    config.validate(cfg)
    path = tmp_path / "legal.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    loaded = config.load(path).to_dict()
    for section, values in data.items():
        for name, value in values.items():
            assert loaded[section][name] == value, f"{section}.{name}"


def reference_load(text):
    """What a plain safe_load reading makes of a config, or None where it refuses."""
    try:
        cfg = config.from_dict(yaml.safe_load(text), "ref")
        config.validate(cfg)
        return cfg
    except (RnngenError, yaml.YAMLError, RecursionError):
        return None


def own_rule_applies(message, text):
    """Whether a refusal is one of rnngen's own rules (which a plain safe_load does not
    make) and the text really breaks it, checked here independently of rnngen."""
    if "duplicate key" in message:
        return _has_duplicate_keys(yaml.compose(text))
    if "YAML aliases" in message:
        return sum(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text)) > \
            config.MAX_ALIASES
    return False


def _has_duplicate_keys(node):
    if isinstance(node, yaml.MappingNode):
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)
                and k.tag != "tag:yaml.org,2002:merge"]
        if len(keys) != len(set(keys)):
            return True
        return any(_has_duplicate_keys(v) for _, v in node.value)
    if isinstance(node, yaml.SequenceNode):
        return any(_has_duplicate_keys(v) for v in node.value)
    return False


SHIPPED = (ROOT / "configs" / "shakespeare.yaml").read_bytes()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(SHIPPED)), st.binary(max_size=4),
                          st.integers(0, 3)), min_size=1, max_size=6))
def test_config_from_mutated_yaml(tmp_path, edits):
    data = bytearray(SHIPPED)
    for pos, insert, delete in edits:
        pos = min(pos, len(data))
        data[pos:pos + delete] = insert
    path = tmp_path / "mutated.yaml"
    path.write_bytes(bytes(data))
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        text = None
    want = reference_load(text) if text is not None else None
    try:
        got = config.load(path)
    except RnngenError as e:
        # refused: either the reference refuses too, or one of rnngen's own rules did
        assert want is None or own_rule_applies(str(e), text), str(e)
        return
    assert want is not None
    got_d, want_d = got.to_dict(), want.to_dict()
    for d in (got_d, want_d):  # load names a default output after the file; from_dict cannot
        d["train"].pop("output")
    assert got_d == want_d  # valid, and read alike


@pytest.fixture(scope="module")
def ckpt_bytes(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzzckpt")
    cfg = config.from_dict({"model": {"hidden_size": 8, "num_layers": 2},
                            "train": {"steps": 3, "batch_size": 2, "seq_length": 8,
                                      "eval_every": 3, "output": str(d / "m.npz")}})
    trainer = build_trainer(cfg, corpus.text_corpus(make_text(1000)))
    list(trainer.run())
    return (d / "m.npz").read_bytes()


def use(ckpt):
    """What sample and eval do with a loaded checkpoint."""
    "".join(decoding.stream(decoding.Model.from_checkpoint(ckpt), None, decoding.Decoding(5)))
    evaluation.checkpoint_score(ckpt, ckpt.vocab_chars * 2, "fuzz")


@FUZZ
@given(data=st.data())
def test_checkpoint_from_mutated_bytes(tmp_path, ckpt_bytes, data):
    raw = bytearray(ckpt_bytes)
    how = data.draw(st.sampled_from(["flip", "truncate", "splice"]))
    if how == "flip":
        for pos in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)):
            raw[pos] ^= data.draw(st.integers(1, 255))
    elif how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        pos = data.draw(st.integers(0, len(raw)))
        raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=64))
    path = tmp_path / "m.npz"
    path.write_bytes(bytes(raw))
    try:
        ckpt = checkpoint.load(path)
    except RnngenError:
        return
    use(ckpt)  # a checkpoint that loads must be usable


@FUZZ
@given(meta_edit=st.dictionaries(st.sampled_from(["vocab", "model", "version", "format", "data"]),
                                 values, min_size=1, max_size=2))
def test_checkpoint_with_random_metadata(tmp_path, ckpt_bytes, meta_edit):
    path = tmp_path / "m.npz"
    path.write_bytes(ckpt_bytes)
    edit_meta(path, **meta_edit)
    try:
        ckpt = checkpoint.load(path)
    except RnngenError:
        return
    use(ckpt)  # metadata that loads must be usable


@FUZZ
@given(n=st.integers(-5, 30), temperature=st.floats(allow_nan=True, allow_infinity=True),
       top_k=st.integers(-3, 80), top_p=st.floats(allow_nan=True, allow_infinity=True),
       seed=st.text(max_size=6))
def test_sampler_options_from_the_library(ckpt_bytes, tmp_path, n, temperature, top_k, top_p,
                                          seed):
    path = tmp_path / "m.npz"
    path.write_bytes(ckpt_bytes)
    ckpt = checkpoint.load(path)
    try:
        out = sample_text(ckpt, seed, n, 1, temperature=temperature, top_k=top_k, top_p=top_p)
    except RnngenError:
        return
    primed = 0 if "\n" in ckpt.vocab_chars else 1  # no seed: a line break, unprinted
    assert len(out) == (len(seed) or primed) + n
    assert math.isfinite(temperature) and temperature >= 0 and 0 < top_p <= 1


def _legal_option(flag, text):
    """Whether a sample flag's value is in its documented range."""
    if flag == "--seed":
        return set(text) <= set(make_text(1000)) or text == "-"  # the model's characters
    try:
        value = float(text) if flag in ("--temperature", "--top-p") else int(text)
    except ValueError:
        return False
    return {"--n": lambda v: v >= 0, "--temperature": lambda v: math.isfinite(v) and v >= 0,
            "--top-k": lambda v: v >= 1, "--top-p": lambda v: 0 < v <= 1,
            "--random-seed": lambda v: v >= 0}[flag](value)


LEGAL_FLAGS = {"--n": st.integers(0, 50), "--temperature": num(0, 5),
               "--top-k": st.integers(1, 80), "--top-p": st.floats(1e-6, 1),
               "--random-seed": st.integers(0, 2**64), "--seed": st.sampled_from(
                   ["KING", "the ", "-", "", "ROMEO:\n"])}


@FUZZ
@given(opts=st.fixed_dictionaries({}, optional=LEGAL_FLAGS))
def test_legal_sampler_flags_always_work(ckpt_bytes, tmp_path, opts):
    path = tmp_path / "m.npz"
    path.write_bytes(ckpt_bytes)
    args = ["sample", "--checkpoint", str(path)]
    for k, v in opts.items():
        args += [k, str(v)]
    result = CliRunner().invoke(main, args, input="KING")
    assert result.exit_code == 0, (opts, result.output)
    n = opts.get("--n", 500)
    seed = {"-": "KING"}.get(opts.get("--seed"), opts.get("--seed"))
    if not seed:  # primed with an unprinted line break, or a printed random character
        seed = "" if "\n" in checkpoint.load(path).vocab_chars else "x"
    assert len(result.stdout) == len(seed) + n  # no newline added off a tty


option_text = st.one_of(st.text(max_size=6), st.integers(-3, 100).map(str),
                        st.floats(allow_nan=True).map(str))


@FUZZ
@given(opts=st.dictionaries(st.sampled_from(["--n", "--temperature", "--top-k", "--top-p",
                                             "--random-seed", "--seed"]),
                            option_text, max_size=4))
def test_sampler_options_from_the_command_line(ckpt_bytes, tmp_path, opts):
    path = tmp_path / "m.npz"
    path.write_bytes(ckpt_bytes)
    args = ["sample", "--checkpoint", str(path)]
    for k, v in opts.items():
        args += [k, v]
    if "--n" not in opts:
        args += ["--n", "5"]
    result = CliRunner().invoke(main, args, input="KING")
    assert result.exit_code in (0, 1, 2), result.output
    if all(_legal_option(k, v) for k, v in opts.items()):
        assert result.exit_code == 0, (opts, result.output)  # valid options must work
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    assert "Traceback" not in result.output
