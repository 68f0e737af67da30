"""Property tests: random and mutated input to the config loader, the checkpoint loader
and the sampler's options. Nothing but rnngen's own errors may escape."""
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, edit_meta, make_text
from rnngen import checkpoint, config, corpus, evaluation, generation
from rnngen.cli import main
from rnngen.errors import RnngenError
from rnngen import session

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
        config.load(path)
    except RnngenError:
        pass


@pytest.fixture(scope="module")
def ckpt_bytes(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzzckpt")
    cfg = config.from_dict({"model": {"hidden_size": 8, "num_layers": 2},
                            "train": {"steps": 3, "batch_size": 2, "seq_length": 8,
                                      "eval_every": 3, "output": str(d / "m.npz")}})
    trainer = session.start(cfg, corpus.text_corpus(make_text(1000)))
    list(trainer.run())
    return (d / "m.npz").read_bytes()


def use(ckpt):
    """What sample and eval do with a loaded checkpoint."""
    rng = np.random.default_rng(0)
    "".join(generation.sample_chars(ckpt, None, 5, rng))
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
        use(checkpoint.load(path))
    except RnngenError:
        pass


@FUZZ
@given(meta_edit=st.dictionaries(st.sampled_from(["vocab", "model", "version", "format", "data"]),
                                 values, min_size=1, max_size=2))
def test_checkpoint_with_random_metadata(tmp_path, ckpt_bytes, meta_edit):
    path = tmp_path / "m.npz"
    path.write_bytes(ckpt_bytes)
    edit_meta(path, **meta_edit)
    try:
        use(checkpoint.load(path))
    except RnngenError:
        pass


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
        out = "".join(generation.sample_chars(ckpt, seed, n, np.random.default_rng(1),
                                              temperature, top_k, top_p))
    except RnngenError:
        return
    primed = 0 if "\n" in ckpt.vocab_chars else 1  # no seed: a line break, unprinted
    assert len(out) == (len(seed) or primed) + n
    assert math.isfinite(temperature) and temperature >= 0 and 0 < top_p <= 1


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
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    assert "Traceback" not in result.output
