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
