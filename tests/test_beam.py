"""Beam search: the most probable string, greedy at K = 1, stop texts, n-gram blocking."""
import itertools

import numpy as np
import pytest

from rnngen import decoding
from rnngen.engine import beam, layers, model
from rnngen.engine.cells import CELLS
from rnngen.engine.spec import ModelSpec


def build(V=5, H=8, L=2, cell="rnn", skip=False, seed=0, scale=1.0):
    spec = ModelSpec(V, H, L, cell, skip)
    params = model.init_params(spec, np.random.default_rng(seed), dtype=np.float64)
    rng = np.random.default_rng(seed + 100)
    for k in params:  # sharper, less uniform predictions than the init's
        params[k] = params[k] * 3 * scale + 0.2 * rng.standard_normal(params[k].shape)
    return spec, params


def log_prob(spec, params, seed_ids, ids, state=None):
    """The log-probability of ids after seed_ids, by the batched forward pass."""
    seq = list(seed_ids) + list(ids)
    s0 = np.zeros(spec.state_shape(1)) if state is None else state.reshape(spec.state_shape(1))
    logits, _, _ = model.forward(spec, params, np.array(seq[:-1])[:, None], s0)
    logp = layers.log_probs(logits[:, 0])
    return sum(logp[t, seq[t + 1]] for t in range(len(seed_ids) - 1, len(seq) - 1))


def greedy_ids(spec, params, seed_ids, n, state=None):
    """Temperature 0 through the sampler's own loop (decoding.stream)."""
    chars = "abcdefghijklmnop"[:spec.vocab_size]
    model_ = decoding.Model(spec, params, chars, state)
    out = decoding.stream(model_, "".join(chars[i] for i in seed_ids),
                          decoding.Decoding(n, temperature=0))
    return [chars.index(c) for c in "".join(list(out)[1:])]


def test_beam_finds_the_most_probable_string_where_greedy_does_not():
    """Hand-set weights. V = 3: 0 is the seed, A = 1, B = 2. After the seed, A has
    p = 0.6 and B 0.4; after A every character is equally likely, after B one is
    near certain. Greedy takes A (total 0.6 / 3 = 0.2); the best string starts with
    B (0.4 x 0.98 = 0.39)."""
    spec = ModelSpec(3, 3, 1, "rnn")
    params = {k: np.zeros(shape) for k, shape in spec.param_shapes().items()}
    params["Wxh0"] = 20 * np.eye(3)  # h = tanh(20 e_x) = e_x to 1e-17: remembers the input
    after = {0: [1e-4, 0.6, 0.4 - 1e-4], 1: [1 / 3] * 3, 2: [0.98, 0.01, 0.01]}
    params["Why"] = np.log(np.array([after[i] for i in range(3)]))
    seed = [0]
    greedy = greedy_ids(spec, params, seed, 2)
    found = beam.beam_search(spec, params, seed, 2, beams=2)
    every = {ids: log_prob(spec, params, seed, ids) for ids in itertools.product(range(3),
                                                                                 repeat=2)}
    best = max(every, key=every.get)
    assert greedy[0] == 1 and best[0] == 2
    assert tuple(found[0].ids) == best
    assert found[0].logprob == pytest.approx(every[best]) and every[best] > every[tuple(greedy)]
    assert found[0].logprob == pytest.approx(np.log(0.4 * 0.98), rel=1e-3)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("skip", [False, True])
def test_beam_of_one_is_temperature_zero(cell, skip):
    spec, params = build(cell=cell, skip=skip, V=9, H=12, L=3, scale=0.3)
    state = np.random.default_rng(4).standard_normal((3, spec.state_size)) * 0.5
    for seed in ([1], [3, 1, 4, 1]):
        greedy = greedy_ids(spec, params, seed, 120, state)
        (found,) = beam.beam_search(spec, params, seed, 120, beams=1, state=state)
        assert found.ids == greedy


@pytest.mark.parametrize("cell", list(CELLS))
def test_enough_beams_search_exhaustively_and_score_as_forward_does(cell):
    """With K = V^(n-1) beams no prefix is ever dropped, so the best of n characters is
    the best of all V^n strings; each beam's log-probabilities are the forward pass's
    (which fails if the carried state's rows do not follow their beams)."""
    V, n = 4, 3
    spec, params = build(V=V, cell=cell)
    state = np.random.default_rng(1).standard_normal((2, spec.state_size)) * 0.5
    seed = [2, 0]
    found = beam.beam_search(spec, params, seed, n, beams=V ** (n - 1), state=state)
    every = {ids: log_prob(spec, params, seed, ids, state)
             for ids in itertools.product(range(V), repeat=n)}
    ranked = sorted(every, key=every.get, reverse=True)
    assert [tuple(h.ids) for h in found] == ranked[:len(found)]
    for h in found:
        assert h.logprob == pytest.approx(every[tuple(h.ids)], rel=1e-12)
        assert h.score == h.logprob
    assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)


def test_no_repeat_ngram_breaks_loops():
    spec, params = build(V=6, H=10, L=1)
    seed = [0, 1]
    plain = beam.beam_search(spec, params, seed, 80, beams=3)[0]
    grams = lambda ids, N: [tuple(ids[i:i + N]) for i in range(len(ids) - N + 1)]  # noqa: E731
    assert len(set(grams(seed + plain.ids, 4))) < len(grams(seed + plain.ids, 4))  # it loops
    for N in (1, 2, 4):
        best = beam.beam_search(spec, params, seed, 80, beams=3, no_repeat_ngram=N)[0]
        text = seed + best.ids
        assert len(set(grams(text, N))) == len(grams(text, N))  # no N-gram twice
        if N == 4:
            assert len(best.ids) == 80  # 6^4 4-grams: room enough
        assert best.logprob == pytest.approx(log_prob(spec, params, seed, best.ids))
    # N = 1 allows each character once: the search ends when every character is used
    assert len(beam.beam_search(spec, params, seed, 80, beams=3, no_repeat_ngram=1)[0].ids) == 4


def test_stop_ends_a_beam_at_the_first_occurrence():
    spec, params = build(V=5, H=8, L=1, scale=0.5)
    seed = [0]
    plain = beam.beam_search(spec, params, seed, 60, beams=4)[0].ids
    stop = plain[10:12]  # a pair of characters the best beam makes
    found = beam.beam_search(spec, params, seed, 60, beams=4, stop_ids=stop)
    stopped = [h for h in found if h.stopped]
    assert stopped and len(found) == 4  # the 4 best, finished or running
    for h in stopped:
        assert h.ids[-2:] == stop
        assert all(h.ids[i:i + 2] != stop for i in range(len(h.ids) - 2))  # the first one
    for h in found:
        if not h.stopped:
            assert all(h.ids[i:i + 2] != stop for i in range(len(h.ids) - 1))
    assert found[0].stopped and len(found[0].ids) <= 12
    assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)


def test_length_norm_ranks_by_log_probability_per_character():
    spec, params = build(V=5, H=8, L=1, scale=0.5)
    plain = beam.beam_search(spec, params, [0], 40, beams=4)[0].ids
    found = beam.beam_search(spec, params, [0], 40, beams=4, stop_ids=plain[5:6],
                             length_norm=True)
    for h in found:
        assert h.score == pytest.approx(h.logprob / len(h.ids))
    assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)


def test_zero_characters():
    spec, params = build()
    (h,) = beam.beam_search(spec, params, [1], 0, beams=3)
    assert h.ids == [] and h.logprob == 0


def test_scores_stay_finite_for_a_confident_model():
    """Logits in the thousands: the log-softmax subtracts each row's maximum first."""
    spec, params = build(V=4, scale=300)
    found = beam.beam_search(spec, params, [1, 2], 4, beams=3)
    assert len(found) == 3
    for h in found:
        assert np.isfinite(h.logprob)
        assert h.logprob == pytest.approx(log_prob(spec, params, [1, 2], h.ids), abs=1e-9)
