"""Checkpoints: round trip, atomic writes, and refusal of what is not ours."""
import os

import numpy as np
import pytest

from conftest import edit_meta
from rnngen import checkpoint
from rnngen.engine import model
from rnngen.engine.spec import ModelSpec
from rnngen.errors import CheckpointError


def make_ckpt(cell="rnn"):
    rng = np.random.default_rng(0)
    spec = ModelSpec(3, 4, 2, cell)
    params = model.init_params(spec, rng)
    meta = {"model": {"hidden_size": 4, "num_layers": 2, "cell": cell}, "vocab": "abc",
            "step": 7, "train": {"optimizer": "adam"}}
    opt = {k: {"m": np.ones_like(v), "t": 7} for k, v in params.items()}
    state = rng.standard_normal(spec.state_shape(5)).astype(np.float32)
    return checkpoint.Checkpoint(spec, params, meta, state, opt)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_round_trip_keeps_every_array_and_the_metadata(tmp_path, cell):
    ckpt = make_ckpt(cell)
    path = tmp_path / "sub" / "c.npz"
    checkpoint.save(path, ckpt)
    back = checkpoint.load(path)
    for k, v in ckpt.params.items():
        np.testing.assert_array_equal(back.params[k], v)
        assert back.params[k].dtype == np.float32
        np.testing.assert_array_equal(back.optimizer_state[k]["m"], 1)
        assert back.optimizer_state[k]["t"] == 7
    np.testing.assert_array_equal(back.state, ckpt.state)  # h, and c for the LSTM
    assert back.spec == ckpt.spec
    assert back.step == 7 and back.vocab_chars == "abc"
    assert [p.name for p in path.parent.iterdir()] == ["c.npz"]  # no temp files left


def test_weights_only_drops_what_resuming_needs_and_keeps_the_record():
    ckpt = make_ckpt()
    ckpt.meta.update(position=[0, 1, 2], rng={"state": 1}, recent_losses=[2.0], best_val=1.5)
    light = checkpoint.weights_only(ckpt)
    assert light.optimizer_state == {} and light.weights_only is True
    assert light.params is ckpt.params and light.state is ckpt.state
    assert "position" not in light.meta and "rng" not in light.meta
    assert "recent_losses" not in light.meta
    assert light.step == 7 and light.best_val == 1.5
    assert light.settings("train") == ckpt.settings("train") and light.vocab_chars == "abc"


def test_an_lstm_state_without_its_cell_part_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, make_ckpt("lstm"))
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "state/c"}
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="state array 'state/c' is missing"):
        checkpoint.load(path)


def test_a_member_with_a_broken_array_header_is_refused(tmp_path):
    """A bad .npy header inside a good zip: one CheckpointError naming the member."""
    import zipfile

    path = tmp_path / "c.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("meta.npy", b"\x93NUMPY\x01\x00garbage, not a header")
    with pytest.raises(CheckpointError, match=r"array 'meta': a broken \.npy header"):
        checkpoint.load(path)


def test_loads_without_pickle(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    checkpoint.save(path, make_ckpt())
    calls = []
    real = np.load

    def spy(*a, **k):
        calls.append(k.get("allow_pickle"))
        return real(*a, **k)

    monkeypatch.setattr(np, "load", spy)
    checkpoint.load(path)
    assert calls == [False]


def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    checkpoint.save(path, make_ckpt())
    before = path.read_bytes()

    def explode(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(CheckpointError, match="No space left"):
        checkpoint.save(path, make_ckpt())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


@pytest.mark.parametrize("corrupt, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "truncated or corrupted"),
    (lambda p: p.write_bytes(b"garbage" * 100), "truncated or corrupted"),
    (lambda p: np.savez(p, meta=np.array([{"a": 1}], dtype=object)), "pickled objects"),
    (lambda p: np.savez(p, x=np.array([{"a": 1}], dtype=object)), "no metadata entry"),
    (lambda p: np.savez(p, x=np.ones(3)), "not an rnngen checkpoint"),
])
def test_bad_files_are_refused(tmp_path, corrupt, message):
    path = tmp_path / "c.npz"
    checkpoint.save(path, make_ckpt())
    corrupt(path)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(path)


def test_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    ckpt = make_ckpt()
    checkpoint.save(path, ckpt)
    edit_meta(path, version=checkpoint.VERSION + 1)
    with pytest.raises(CheckpointError, match="newer rnngen"):
        checkpoint.load(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "nope.npz")


def test_unreadable_checkpoint_is_one_error(tmp_path, monkeypatch):
    """As root every file is readable, so the refusal to open is simulated."""
    path = tmp_path / "c.npz"
    checkpoint.save(path, make_ckpt())

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoint, "open", refuse, raising=False)
    with pytest.raises(CheckpointError, match="cannot read checkpoint .*: Permission denied"):
        checkpoint.load(path)


def test_unwritable_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user that can write anywhere (root)")
        with pytest.raises(CheckpointError, match="cannot write checkpoint"):
            checkpoint.save(locked / "c.npz", make_ckpt())
    finally:
        os.chmod(locked, 0o700)


def test_save_sweeps_temp_files_of_killed_writers_only(tmp_path):
    import subprocess
    import sys
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    from rnngen.atomic import _HOST as host
    path = tmp_path / "c.npz"
    stale = tmp_path / f".c.npz.{host}.{gone}.abc123.tmp"  # its writer was killed mid-write
    kept = [
        tmp_path / f".c.npz.{host}.{os.getppid()}.def456.tmp",  # a writer still running
        tmp_path / f".d.npz.{host}.{gone}.ghi789.tmp",  # another checkpoint's
        tmp_path / f".c.npz.{host}.{os.getppid()}.npz.{host}.{gone}.x.tmp",  # c.npz.{host}...'s
        tmp_path / f".c.npz.otherhost.{gone}.jkl012.tmp",  # written from another host
        tmp_path / f".c.npz.{host}.99999999999999999999.mno345.tmp",  # no such PID
    ]
    for f in [stale] + kept:
        f.write_bytes(b"partial")
    checkpoint.save(path, make_ckpt())
    assert not stale.exists()
    assert all(f.exists() for f in kept)
    assert checkpoint.load(path).step == 7


RNG = np.random.default_rng(0).bit_generator.state
SHA = "0" * 64


def _rng(**state):
    return dict(RNG, state=dict(RNG["state"], **state))


@pytest.mark.parametrize("changes, ok", [
    ({"rng": RNG}, True), ({"rng": dict(RNG, has_uint32=1)}, True),
    ({"rng": _rng(state=2**128 - 1, inc=2**128 - 1)}, True),
    ({"rng": _rng(state=2**128)}, False), ({"rng": _rng(inc=2**128)}, False),
    ({"rng": dict(RNG, has_uint32=2)}, False),
    ({"data": {"corpus": "x.txt", "sha256": SHA}}, True),
    ({"data": {"corpus": "x.txt", "sha256": "X" * 64}}, False),
    ({"data": {"corpus": "x.txt", "sha256": SHA[1:]}}, False),
    ({"vocab": ""}, False),
], ids=["rng", "has_uint32 1", "rng at its bounds", "state 2^128", "inc 2^128",
        "has_uint32 2", "sha256", "sha256 not hex", "sha256 short", "empty vocab"])
def test_metadata_fields_at_their_bounds(tmp_path, changes, ok):
    path = tmp_path / "c.npz"
    checkpoint.save(path, make_ckpt())
    edit_meta(path, **changes)
    if ok:
        checkpoint.load(path)
    else:
        field = next(iter(changes))
        with pytest.raises(CheckpointError, match=f"'?{field}'?"):
            checkpoint.load(path)


def test_metadata_depth_is_counted_up_to_one_past_the_limit():
    from rnngen import schema

    deep = []
    for _ in range(20):
        deep = [deep]
    assert schema.depth(5) == 0 and schema.depth([]) == 1 and schema.depth({"a": 1}) == 1
    assert schema.depth([[1], {"a": [2]}]) == 3
    assert schema.depth(deep) == schema.MAX_DEPTH + 1  # counted no further: bounded work


def _raw_meta(path):
    import json

    with np.load(path) as npz:
        return json.loads(str(npz["meta"]))


def test_version_3_stores_the_model_description_once(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, make_ckpt("gru"))
    raw = _raw_meta(path)
    assert raw["version"] == checkpoint.VERSION == 3
    assert raw["spec"] == {"vocab_size": 3, "hidden_size": 4, "num_layers": 2, "cell": "gru",
                           "skip": False, "task": "generate", "output_size": 3}
    assert raw["model"] == {}  # every model setting of make_ckpt is the description's
    back = checkpoint.load(path)
    assert back.settings("model") == {"task": "generate", "cell": "gru", "hidden_size": 4,
                                      "num_layers": 2, "skip": False}


def test_a_version_3_file_that_repeats_the_description_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, make_ckpt())
    edit_meta(path, model={"hidden_size": 4, "dropout": 0.1})
    with pytest.raises(CheckpointError, match="model.hidden_size is stored twice"):
        checkpoint.load(path)


def test_version_2_and_its_two_copies_of_the_description(tmp_path):
    """Version 2 kept the description twice: they must agree, as before."""
    from conftest import ROOT

    path = tmp_path / "v2.npz"
    path.write_bytes((ROOT / "tests" / "data" / "v2_gru.npz").read_bytes())
    edit_meta(path, model=dict(_raw_meta(path)["model"], hidden_size=13))
    with pytest.raises(CheckpointError, match="model.hidden_size = 13 disagrees"):
        checkpoint.load(path)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_version_2_files_load_resume_and_are_saved_as_version_3(tmp_path, cell):
    """The fixtures were written by the rnngen of format version 2 (tests/data): they
    keep their record, resume, and a copy saved now holds the same model and settings."""
    from conftest import ROOT
    from rnngen import config, corpus
    from rnngen.run import build_trainer

    old = checkpoint.load(ROOT / "tests" / "data" / f"v2_{cell}.npz")
    raw = _raw_meta(ROOT / "tests" / "data" / f"v2_{cell}.npz")
    assert old.version == 2 and old.spec.cell == cell and old.step == 30
    assert old.settings("model") == raw["model"] and old.settings("train") == raw["train"]
    assert old.corpus.sha256 == raw["data"]["sha256"] and old.history == raw["history"]
    copy = tmp_path / "v3.npz"
    checkpoint.save(copy, old)
    new = checkpoint.load(copy)
    assert new.version == 3 and new.spec == old.spec
    # version 3 reads the description's settings from the description, the task among them
    assert new.settings("model") == dict(old.settings("model"), task="generate")
    for k, v in old.params.items():
        np.testing.assert_array_equal(new.params[k], v)
    cfg = config.from_dict({"model": old.settings("model"), "train": dict(
        old.settings("train"), steps=32, output=str(tmp_path / "r.npz"))})
    from conftest import make_text

    text = corpus.text_corpus(make_text(4000, seed=1))  # the fixtures' text (make_fixtures.py)
    trainer = build_trainer(cfg, text, resume=old)
    assert trainer.step == 30 and len(list(trainer.run())) == 2
