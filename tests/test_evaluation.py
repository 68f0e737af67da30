"""evaluation.score: every prediction scored exactly once, whatever the cut."""
import numpy as np
import pytest

from rnngen import evaluation, threads
from rnngen.engine import layers, model
from rnngen.engine.spec import ModelSpec


def context_free_params(V, rng):
    """A model whose prediction ignores its input: only the decoder bias is non-zero,
    so the loss of each prediction is known without running the network."""
    params = model.init_params(ModelSpec(V, 8, 2), rng)
    for name in params:
        params[name][...] = 0
    params["by"][:] = rng.normal(size=V) * 3
    return params


@pytest.mark.parametrize("n", [2, 3, 17, 128, 129, 1000, 4099])
@pytest.mark.parametrize("streams, seq_length, warmup", [(64, 256, 128), (7, 5, 3), (3, 1, 0),
                                                         (5, 64, 1)])
def test_every_prediction_is_scored_exactly_once(n, streams, seq_length, warmup):
    rng = np.random.default_rng(n)
    V = 11
    params = context_free_params(V, rng)
    ids = rng.integers(0, V, n).astype(np.uint8)
    logp = layers.log_probs(params["by"][None, :].astype(np.float64))[0]
    want = -logp[ids[1:]].mean()  # each of the n-1 predictions once
    got = evaluation.score(ModelSpec(V, 8, 2), params, ids, streams, seq_length, warmup)
    assert got.chars == n - 1
    assert got.nats == pytest.approx(want, rel=1e-5)


def test_groups_on_threads_score_the_same():
    rng = np.random.default_rng(1)
    spec = ModelSpec(20, 16, 2)
    params = model.init_params(spec, rng)
    ids = rng.integers(0, 20, 5000).astype(np.uint8)
    one = evaluation.score(spec, params, ids)
    two = evaluation.score(spec, params, ids, workers=threads.Workers(2))
    assert two.nats == pytest.approx(one.nats, rel=1e-5) and two.chars == one.chars


def test_pieces_see_context_from_their_warmup():
    """With a warmup as long as the text, one piece reads it all: the same as one pass."""
    rng = np.random.default_rng(2)
    spec = ModelSpec(9, 8, 1)
    params = model.init_params(spec, rng)
    ids = rng.integers(0, 9, 300).astype(np.uint8)
    logits, _, _ = model.forward(spec, params, ids[:-1, None].astype(np.intp),
                                 model.zero_state(spec, 1))
    want = -layers.log_probs(logits[:, 0, :].astype(np.float64))[np.arange(299), ids[1:]].mean()
    assert evaluation.score(spec, params, ids, warmup=1000).nats == pytest.approx(want, rel=1e-5)


def test_a_score_in_bits_and_perplexity():
    s = evaluation.Score(nats=np.log(4.0), chars=10)
    assert s.bits == pytest.approx(2.0) and s.perplexity == pytest.approx(4.0)
    assert evaluation.Score(nats=708.0, chars=1).perplexity == pytest.approx(np.exp(708.0))
    assert evaluation.Score(nats=709.9, chars=1).perplexity == float("inf")  # exp overflows
    d = s.as_dict()
    assert d["nats_per_char"] == s.nats and d["bits_per_char"] == s.bits


@pytest.fixture
def long_text_model(tmp_path):
    """A tiny checkpoint and a text long enough for eval to measure its thread count."""
    from conftest import make_text
    from rnngen import checkpoint

    text = make_text(evaluation.MEASURED_FROM + 500, seed=4)
    vocab = "".join(sorted(set(text)))
    spec = ModelSpec(len(vocab), 8, 1)
    params = model.init_params(spec, np.random.default_rng(0))
    path = tmp_path / "m.npz"
    checkpoint.save(path, checkpoint.Checkpoint(spec, params, {"vocab": vocab}))
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    return path, tmp_path / "t.txt"


@pytest.mark.parametrize("chosen", ["one", "all"])
def test_eval_scores_on_the_thread_count_its_trial_chooses(long_text_model, monkeypatch,
                                                           chosen):
    """Without --threads, eval times a trial (timings injected here) and scores the
    whole text on the count it chose; with --threads it measures nothing."""
    from click.testing import CliRunner
    from rnngen.cli import main

    if (threads.thread_count() or 1) < 2:
        pytest.skip("OpenBLAS's thread count cannot be set to 2 or more here")
    ckpt, text = long_text_model
    trials, seen = [], []

    def timings(work, rounds=5):
        trials.append(work)
        work()  # the trial runs: a short scoring
        most = threads.thread_count()
        return (1, 1.0, 3.0) if chosen == "one" else (most, 3.0, 1.0)

    real = evaluation.score

    def score(spec, params, ids, *args, **kw):
        seen.append((len(ids), threads.thread_count(), kw["workers"].groups))
        return real(spec, params, ids, *args, **kw)

    monkeypatch.setattr(threads, "timings", timings)
    monkeypatch.setattr(evaluation, "score", score)
    most = threads.thread_count()
    with threads.blas_threads(most):
        result = CliRunner().invoke(main, ["eval", "--checkpoint", ckpt, "--corpus", text])
        assert threads.thread_count() == most  # the choice is undone after eval
    assert result.exit_code == 0, result.output
    assert len(trials) == 1
    assert seen[0][0] == evaluation.TRIAL_CHARS + 1  # the trial's slice
    whole = [s for s in seen if s[0] > evaluation.TRIAL_CHARS + 1]
    want = 1 if chosen == "one" else most
    assert [(count, groups) for _, count, groups in whole] == [(want, want)]
    del trials[:], seen[:]
    with threads.blas_threads(most):
        result = CliRunner().invoke(main, ["eval", "--checkpoint", ckpt, "--corpus", text,
                                           "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert trials == [] and [(c, g) for _, c, g in seen] == [(1, 1)]


def test_eval_prints_the_same_score_whichever_count_its_trial_picks(tmp_path, monkeypatch):
    """The pieces are cut into groups for the BLAS's thread count before the trial, so
    the trial's pick (timing, which varies from run to run) moves no digit: one
    thread runs the same groups one after the other."""
    from click.testing import CliRunner
    from conftest import make_text
    from rnngen import checkpoint
    from rnngen.cli import main

    most = threads.thread_count() or 1
    if most < 2:
        pytest.skip("OpenBLAS's thread count cannot be set to 2 or more here")
    text = make_text(evaluation.MEASURED_FROM + 500, seed=5)
    vocab = "".join(sorted(set(text)))
    spec = ModelSpec(len(vocab), 128, 2)  # wide enough for the pieces to be cut in two
    assert threads.groups_for(64, spec.hidden_size, most=most) >= 2
    params = model.init_params(spec, np.random.default_rng(3), dtype=np.float32)
    path = tmp_path / "m.npz"
    checkpoint.save(path, checkpoint.Checkpoint(spec, params, {"vocab": vocab}))
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    printed = {}
    for pick in (1, most):
        monkeypatch.setattr(threads, "timings", lambda work, rounds=5, pick=pick: (pick, 1, 1))
        result = CliRunner().invoke(main, ["eval", "--checkpoint", path, "--corpus",
                                           tmp_path / "t.txt", "--json"])
        assert result.exit_code == 0, result.output
        printed[pick] = result.stdout
    assert printed[1] == printed[most]


def test_a_short_text_is_scored_without_a_trial(long_text_model, monkeypatch):
    ckpt, _ = long_text_model
    from rnngen import checkpoint

    monkeypatch.setattr(threads, "timings", lambda *a, **k: pytest.fail("measured"))
    loaded = checkpoint.load(ckpt)
    text = loaded.vocab_chars * 10
    assert evaluation.checkpoint_score(loaded, text, measure=True).chars == len(text) - 1
