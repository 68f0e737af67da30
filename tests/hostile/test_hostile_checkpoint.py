"""Hostile checkpoints, and the files a checkpoint names.

The metadata cases are checked against the schema (src/rnngen/schema.py): every field is
validated on load, so each is a one-line error.
"""
import json
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from world import (ENV, SHARED_CORPUS, assert_error, assert_ok, cli, digest, edit_meta,
                   make_world, tiny_config)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "ckpt")


def arrays(p):
    with np.load(p) as z:
        return dict(z)


def set_arrays(**kv):
    def edit(p):
        a = arrays(p)
        a.update({k: v(a) if callable(v) else v for k, v in kv.items()})
        np.savez(p, **a)
    return edit


def drop_array(key):
    def edit(p):
        a = arrays(p)
        del a[key]
        np.savez(p, **a)
    return edit


def raw_meta(text):
    return set_arrays(meta=np.array(text))


def meta(**changes):
    return lambda p: edit_meta(p, **changes)


def model_meta(**changes):
    def edit(p):
        m = json.loads(str(arrays(p)["meta"]))
        m["model"].update(changes)
        raw_meta(json.dumps(m))(p)
    return edit


def write(data):
    return lambda p: p.write_bytes(data)


def truncate(fraction):
    return lambda p: p.write_bytes(p.read_bytes()[:int(len(p.read_bytes()) * fraction)])


def shape_of(key, dtype=np.float32, fill=0.0, shape=None):
    return lambda a: np.full(a[key].shape if shape is None else shape, fill, dtype=dtype)


# (id, edit of a good checkpoint's file, a piece of the one-line error)
BROKEN = [
    ("empty file", write(b""), "is not an .npz archive"),
    ("zeros", write(b"\x00" * 4096), "is not an .npz archive"),
    ("random bytes", write(np.random.default_rng(0).bytes(4096)), "is not an .npz archive"),
    ("a text file", write(b"the king and queen\n"), "is not an .npz archive"),
    ("truncated to 1%", truncate(0.01), "truncated or corrupted"),
    ("truncated to half", truncate(0.5), "truncated or corrupted"),
    ("truncated by one byte", truncate(0.9999), "truncated or corrupted"),
    ("zip without meta", lambda p: np.savez(p, weights=np.ones(3)), "not an rnngen checkpoint"),
    ("meta not JSON", raw_meta("{not json"), "unreadable metadata"),
    ("meta a JSON list", raw_meta("[1, 2]"), "not an rnngen checkpoint"),
    ("meta as bytes", set_arrays(meta=np.array(b"{}")), "not an rnngen checkpoint"),
    ("meta 1-d", set_arrays(meta=np.array(["{}", "{}"])), "not an rnngen checkpoint"),
    ("other format", meta(format="something-else"), "not an rnngen checkpoint"),
    ("newer version", meta(version=99), "newer rnngen"),
    ("version a string", meta(version="1"), "'version' must be an integer"),
    ("pickled meta", lambda p: np.savez(p, meta=np.array([{"x": 1}], dtype=object)),
     "refuses to load"),
    ("vocab a number", meta(vocab=5), "not a valid rnngen checkpoint"),
    ("vocab unsorted", meta(vocab="ba"), "not a valid rnngen checkpoint"),
    ("vocab repeats", meta(vocab="aab"), "not a valid rnngen checkpoint"),
    ("vocab empty", meta(vocab=""), "not a valid rnngen checkpoint"),
    ("hidden_size a string", model_meta(hidden_size="4"), "not a valid rnngen checkpoint"),
    ("hidden_size negative", model_meta(hidden_size=-4), "not a valid rnngen checkpoint"),
    ("num_layers 0", model_meta(num_layers=0), "not a valid rnngen checkpoint"),
    ("model a list", meta(model=[1]), "not a valid rnngen checkpoint"),
    ("model missing", meta(model=None), "not a valid rnngen checkpoint"),
    ("state of the wrong rank", set_arrays(**{"state/h": np.zeros((2, 2), np.float32)}),
     "not a valid rnngen checkpoint"),
    ("state of ints", set_arrays(**{"state/h": np.zeros((1, 2, 4), np.int64)}),
     "not a valid rnngen checkpoint"),
    ("optimizer state of the wrong shape", set_arrays(**{"opt/Why/m": np.zeros(3, np.float32)}),
     "not a valid rnngen checkpoint"),
    ("optimizer state for no parameter", set_arrays(**{"opt/Nope/m": np.zeros(3, np.float32)}),
     "not a valid rnngen checkpoint"),
    ("optimizer member with 4 parts", set_arrays(**{"opt/a/b/c": np.zeros(3, np.float32)}),
     "not a valid rnngen checkpoint"),
    ("optimizer scalars a string", meta(optimizer_scalars="x"), "not a valid rnngen checkpoint"),
    ("a parameter 0-d", set_arrays(**{"param/by": np.float32(1)}),
     "not a valid rnngen checkpoint"),
    ("a parameter of ints", set_arrays(**{"param/by": shape_of("param/by", np.int32)}),
     "not a valid rnngen checkpoint"),
    ("a parameter of complex", set_arrays(**{"param/by": shape_of("param/by", np.complex64)}),
     "not a valid rnngen checkpoint"),
    ("a parameter missing", drop_array("param/Why"), "not a valid rnngen checkpoint"),
    ("an extra parameter", set_arrays(**{"param/Wxh7": np.zeros((4, 4), np.float32)}),
     "not a valid rnngen checkpoint"),
    pytest.param("deeply nested JSON", raw_meta('{"a": ' + "[" * 100000 + "]" * 100000 + "}"),
                 "metadata", id="deeply nested JSON"),
    pytest.param("skip a string", model_meta(skip="yes"), "model.skip",
                 id="skip a string"),
    pytest.param("hidden state NaN", set_arrays(**{"state/h": lambda a: np.full(
        a["state/h"].shape, np.nan, np.float32)}), "state", id="hidden state NaN"),
    pytest.param("weights NaN", set_arrays(**{"param/by": shape_of("param/by", fill=np.nan)}),
                 "not finite", id="weights NaN"),
]
COMMANDS = {
    "sample": lambda w, p: ["sample", "--checkpoint", p, "--n", "5"],
    "eval": lambda w, p: ["eval", "--checkpoint", p, "--corpus", "-"],
    "export": lambda w, p: ["export", "--checkpoint", p, "--output", w.d / "exported.npz"],
    "resume": lambda w, p: ["train", "--config", w.cfg, "--resume", p, "--output",
                            w.d / "resumed.npz", "-q"],
}


def cases(rows):
    """Rows as pytest params named by their first field (marks kept)."""
    return [row if hasattr(row, "marks") else pytest.param(*row, id=row[0]) for row in rows]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name, edit, fragment", cases(BROKEN))
def test_broken_checkpoints_are_refused_in_one_line(w, tmp_path, command, name, edit, fragment):
    path = tmp_path / "bad.npz"
    shutil.copy(w.ckpt, path)
    edit(path)
    before = digest(path)
    for leftover in ("exported.npz", "resumed.npz"):
        (w.d / leftover).unlink(missing_ok=True)
    result = cli(COMMANDS[command](w, path), input="the king")
    assert_error(result, fragment)
    assert digest(path) == before
    assert not (w.d / "exported.npz").exists() and not (w.d / "resumed.npz").exists()


# training state that only --resume reads
RESUME = [
    ("rng not a state", meta(rng={"x": 1}), "'rng' must be a PCG64 generator state"),
    ("rng a string", meta(rng="x"), "'rng' must be a PCG64 generator state"),
    ("position without fields", meta(position={"epoch": 0}), "'position' must be"),
    ("position null", meta(position=None), "'position' must be"),
    ("train a string", meta(train="x"), "'train' must be a mapping"),
    ("another optimizer", lambda p: edit_meta(p, train=dict(json.loads(str(arrays(p)["meta"]))[
        "train"], optimizer="sgd")), "unexpected array 'opt/"),  # adam's slots, sgd's name
    ("weights only", meta(weights_only=True), "exported (weights-only)"),
    pytest.param("step a string", meta(step="x"), "step", id="step a string"),
    pytest.param("step negative", meta(step=-1), "step", id="step negative"),
    pytest.param("history a string", meta(history="x"), "history",
                 id="history a string"),
    pytest.param("best_val a string", meta(best_val="x"), "best_val",
                 id="best_val a string"),
    pytest.param("train_seconds a string", meta(train_seconds="x"), "train_seconds",
                 id="train_seconds a string"),
    pytest.param("recent_losses a string", meta(recent_losses="x"), "recent_losses",
                 id="recent_losses a string"),
]


@pytest.mark.parametrize("name, edit, fragment", cases(RESUME))
def test_broken_training_state_is_refused_on_resume(w, tmp_path, name, edit, fragment):
    path = tmp_path / "bad.npz"
    shutil.copy(w.ckpt, path)
    edit(path)
    before = digest(path)
    out = tmp_path / "out.npz"
    result = cli(["train", "--config", w.cfg, "--resume", path, "--output", out, "-q"])
    assert_error(result, fragment)
    assert digest(path) == before and not out.exists()


@pytest.mark.parametrize("name, extra, fragment", [
    ("another vocabulary", ["--corpus", "xyz"], "vocabulary differs"),
    ("another shape", ["--set", "model.num_layers=2"],
     "the checkpoint has model.num_layers = 1 but the config says 2"),
    ("another cell", ["--set", "model.cell=gru"], "model.cell = rnn but the config says gru"),
])
def test_a_checkpoint_of_another_run_is_refused_on_resume(w, tmp_path, name, extra, fragment):
    extra = [str(w.file("xyz.txt", "xyz" * 3000)) if a == "xyz" else a for a in extra]
    before = digest(w.ckpt)
    out = tmp_path / "out.npz"
    result = cli(["train", "--config", w.cfg, "--resume", w.ckpt, "--output", out, "-q",
                  *extra])
    assert_error(result, fragment)
    assert digest(w.ckpt) == before and not out.exists()


@pytest.mark.parametrize("device, fragment", [
    ("/dev/zero", "is not a regular file"),
    ("/dev/null", "is not a regular file"),
    ("/", "is a directory"),
    ("/nonexistent/model.npz", "does not exist"),
])
@pytest.mark.parametrize("command", ["sample", "eval"])
def test_checkpoint_paths_that_are_not_checkpoints(w, device, fragment, command):
    assert_error(cli(COMMANDS[command](w, device), input="the king"), fragment)


def test_a_fifo_as_checkpoint_is_refused_without_waiting(w, tmp_path):
    path = tmp_path / "fifo.npz"
    os.mkfifo(path)
    try:
        done = subprocess.run([sys.executable, "-m", "rnngen", "sample", "--checkpoint",
                               str(path)], capture_output=True, env=ENV, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("sample waited on a FIFO")
    assert_error(done, "regular file")


def test_a_billion_layers_in_metadata_is_refused_without_building_them(w, tmp_path):
    path = tmp_path / "m.npz"
    shutil.copy(w.ckpt, path)
    model_meta(num_layers=10**9)(path)
    try:
        done = subprocess.run([sys.executable, "-m", "rnngen", "sample", "--checkpoint",
                               str(path)], capture_output=True, env=ENV, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("loading spent its time on the metadata's num_layers")
    assert_error(done, "num_layers")


# -- eval without --corpus: the corpus the checkpoint names is trusted only if unchanged --
def trained_on(w, tmp_path, text=None):
    corpus = tmp_path / "c.txt"
    corpus.write_text(text or w.text.read_text())
    cfg = tiny_config(tmp_path / "c.yaml", corpus, tmp_path / "m.npz")
    assert_ok(cli(["train", "--config", cfg, "-q"]))
    return corpus, tmp_path / "m.npz"


def test_eval_scores_the_recorded_corpus_when_unchanged(w, tmp_path):
    corpus, ckpt = trained_on(w, tmp_path)
    result = cli(["eval", "--checkpoint", ckpt, "--json"])
    assert_ok(result)
    assert json.loads(result.stdout)["chars"] == 399  # the last 10% of 4000, less one


def replace_with(make):
    def edit(corpus, tmp_path):
        corpus.unlink()
        make(corpus, tmp_path)
    return edit


def link_to_other(corpus, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("x" * 4000)
    corpus.symlink_to(other)


RECORDED = [
    ("same size, other bytes", lambda c, t: c.write_text(c.read_text()[::-1]),
     "its sha256 differs"),
    ("one character more", lambda c, t: c.write_text(c.read_text() + "x"), "sha256 differs"),
    ("truncated", lambda c, t: c.write_text(c.read_text()[:100]), "has changed"),
    ("grown fivefold", lambda c, t: c.write_text(c.read_text() * 5), "has changed"),
    ("deleted", lambda c, t: c.unlink(), "cannot be opened"),
    ("a directory now", replace_with(lambda c, t: c.mkdir()), "not a regular file"),
    ("a FIFO now", replace_with(lambda c, t: os.mkfifo(c)), "not a regular file"),
    ("a link to /dev/zero", replace_with(lambda c, t: c.symlink_to("/dev/zero")),
     "not a regular file"),
    ("a link to /dev/urandom", replace_with(lambda c, t: c.symlink_to("/dev/urandom")),
     "not a regular file"),
    ("a link to another text", replace_with(link_to_other), "sha256 differs"),
    ("unreadable", lambda c, t: c.chmod(0), "cannot be opened"),
]


# eval scores the recorded corpus's validation split; report shows its opening
READERS = {"eval": ["eval"], "report": ["report", "--terminal"]}


@pytest.mark.parametrize("command", READERS)
@pytest.mark.parametrize("name, change, fragment", RECORDED, ids=[r[0] for r in RECORDED])
def test_a_recorded_corpus_that_changed_is_refused(w, tmp_path, name, change, fragment,
                                                   command):
    if name == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    corpus, ckpt = trained_on(w, tmp_path)
    change(corpus, tmp_path)
    # a subprocess with a timeout: a FIFO must never make a command wait for a writer
    done = subprocess.run([sys.executable, "-m", "rnngen", *READERS[command],
                           "--checkpoint", str(ckpt)],
                          capture_output=True, text=True, env=ENV, timeout=60)
    line = assert_error(done, fragment)
    assert "--corpus" in line and done.stdout == ""


@pytest.mark.parametrize("field, value, fragment", [
    ("sha256", None, "pass --corpus"), ("chars", None, "pass --corpus"),
    # a record of the wrong type is a broken checkpoint, refused when it is loaded
    ("corpus", 5, "'data' must be"), ("chars", "4000", "'data' must be"),
    ("val_fraction", "x", "data.val_fraction must be float"),
])
@pytest.mark.parametrize("command", READERS)
def test_a_record_that_cannot_be_checked_is_refused(w, tmp_path, field, value, fragment,
                                                    command):
    corpus, ckpt = trained_on(w, tmp_path)
    data = json.loads(str(arrays(ckpt)["meta"]))["data"]
    if value is None:
        del data[field]
    else:
        data[field] = value
    edit_meta(ckpt, data=data)
    assert_error(cli([*READERS[command], "--checkpoint", ckpt]), fragment)


def test_eval_trusts_a_named_corpus_from_the_cache(w, tmp_path, monkeypatch):
    if not SHARED_CORPUS.exists():
        pytest.skip("tinyshakespeare is not in the shared corpora folder")
    monkeypatch.setenv("RNNGEN_CORPORA", str(SHARED_CORPUS.parent))
    cfg = tiny_config(tmp_path / "c.yaml", "tinyshakespeare", tmp_path / "m.npz")
    assert_ok(cli(["train", "--config", cfg, "-q"]))
    result = cli(["eval", "--checkpoint", tmp_path / "m.npz", "--json"])
    assert_ok(result)
    assert json.loads(result.stdout)["chars"] == 111539


# -- --json never prints NaN or Infinity ------------------------------------------------
def no_constants(name):
    raise AssertionError(f"{name} in JSON output")


@pytest.mark.parametrize("fill", [np.nan, np.inf, -np.inf, 3e38])
@pytest.mark.parametrize("param", ["by", "Why"])
def test_json_output_is_always_json(w, tmp_path, fill, param):
    path = tmp_path / "m.npz"
    shutil.copy(w.ckpt, path)
    set_arrays(**{f"param/{param}": shape_of(f"param/{param}", fill=fill)})(path)
    result = cli(["eval", "--checkpoint", path, "--corpus", "-", "--json"], input="the king")
    if result.exit_code == 0:  # today; once weights are validated, a one-line refusal
        report = json.loads(result.stdout, parse_constant=no_constants)
        assert set(report) >= {"nats_per_char", "bits_per_char", "perplexity", "chars"}
        assert result.stderr == ""
    else:
        assert_error(result, "Error: ")


def test_json_reports_an_infinite_loss_as_null(w, tmp_path):
    path = tmp_path / "m.npz"
    shutil.copy(w.ckpt, path)
    # finite weights (infinite ones are refused on load) whose logits overflow float32
    set_arrays(**{"param/Why": lambda a: np.where(np.arange(a["param/Why"].shape[1]) % 2,
                                                  3e38, -3e38).astype(np.float32)
                  * np.ones(a["param/Why"].shape, np.float32)})(path)
    result = cli(["eval", "--checkpoint", path, "--corpus", "-", "--json"], input="the king")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout, parse_constant=no_constants)
    assert report["nats_per_char"] is None and report["perplexity"] is None


def test_a_checkpoint_is_only_ever_read(w, tmp_path):
    path = tmp_path / "m.npz"
    shutil.copy(w.ckpt, path)
    before = digest(path)
    for command in ("sample", "eval"):
        assert_ok(cli(COMMANDS[command](w, path), input="the king"))
    assert digest(path) == before


def test_opening_many_checkpoints_at_once_is_safe(w):
    results = []

    def one():
        results.append(cli(["sample", "--checkpoint", w.ckpt, "--n", "3"]).exit_code)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
