"""Sampling: the single-stream stepper, temperature, top-k, top-p, reproducibility."""
import numpy as np
import pytest

from rnngen.engine import layers, model, sampling
from rnngen.engine.cells import CELLS
from rnngen.engine.spec import ModelSpec


def build(V=9, H=12, L=3, cell="rnn", skip=False, seed=0):
    spec = ModelSpec(V, H, L, cell, skip)
    return spec, model.init_params(spec, np.random.default_rng(seed), dtype=np.float64)


@pytest.fixture(params=list(CELLS))
def net(request):
    return build(cell=request.param)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("streams", [1, 3])
def test_stepper_matches_batched_forward(cell, skip, streams):
    spec, params = build(cell=cell, skip=skip)
    for k in params:  # non-zero biases, so the sampler's bias folding is exercised
        params[k] += 0.1 * np.random.default_rng(2).standard_normal(params[k].shape)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 9, (7, streams))
    s0 = rng.standard_normal(spec.state_shape(streams)) * 0.5
    stepper = sampling.Stepper(spec, params, s0, streams=streams)
    got = np.stack([stepper.step(i).copy() for i in ids])
    logits, sT, _ = model.forward(spec, params, ids, s0)
    np.testing.assert_allclose(got, logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stepper.state, sT, rtol=1e-10, atol=1e-12)


def test_temperature_zero_is_argmax(net):
    spec, params = net
    ids = list(sampling.generate(spec, params, [1, 2], 20, np.random.default_rng(0),
                                 temperature=0))
    stepper = sampling.Stepper(spec, params)
    stepper.step(1)
    logits = stepper.step(2)[0]
    expect = []
    for _ in range(20):
        expect.append(int(np.argmax(logits)))
        logits = stepper.step(expect[-1])[0]
    assert ids == expect


def test_same_random_seed_same_text_and_prefix_stable(net):
    spec, params = net
    a = list(sampling.generate(spec, params, [3], 300, np.random.default_rng(42)))
    b = list(sampling.generate(spec, params, [3], 300, np.random.default_rng(42)))
    c = list(sampling.generate(spec, params, [3], 100, np.random.default_rng(42)))
    d = list(sampling.generate(spec, params, [3], 300, np.random.default_rng(43)))
    assert a == b and a[:100] == c and a != d


def test_top_k_restricts_support():
    logits = np.log(np.array([0.05, 0.4, 0.3, 0.2, 0.05]))
    p = sampling.next_probs(logits, top_k=2)
    assert set(np.flatnonzero(p)) == {1, 2}
    np.testing.assert_allclose(p[[1, 2]], [0.4 / 0.7, 0.3 / 0.7])


def test_top_p_keeps_smallest_set_reaching_p():
    logits = np.log(np.array([0.05, 0.4, 0.3, 0.2, 0.05]))
    assert set(np.flatnonzero(sampling.next_probs(logits, top_p=0.65))) == {1, 2}
    assert set(np.flatnonzero(sampling.next_probs(logits, top_p=0.4))) == {1}
    assert set(np.flatnonzero(sampling.next_probs(logits, top_p=1.0))) == {0, 1, 2, 3, 4}


def test_temperature_sharpens_and_flattens():
    logits = np.array([2.0, 1.0, 0.0])
    cold, hot = sampling.next_probs(logits, 0.5), sampling.next_probs(logits, 2.0)
    assert cold[0] > sampling.next_probs(logits, 1.0)[0] > hot[0]
    softmax = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(sampling.next_probs(logits), softmax)  # the default is 1


def test_sampled_frequencies_follow_the_distribution():
    """With a model whose output ignores its input, draws follow softmax(by / T)."""
    V = 4
    spec, params = build(V, 3, 1)
    params["Why"][:] = 0
    params["by"][:] = np.log([0.1, 0.2, 0.3, 0.4])
    ids = list(sampling.generate(spec, params, [0], 20000, np.random.default_rng(5)))
    freq = np.bincount(ids, minlength=V) / len(ids)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.015)
    ids = list(sampling.generate(spec, params, [0], 20000, np.random.default_rng(5), top_k=2))
    freq = np.bincount(ids, minlength=V) / len(ids)
    np.testing.assert_allclose(freq, [0, 0, 3 / 7, 4 / 7], atol=0.015)


def test_skip_connections_reach_both_sampling_paths():
    """The Gumbel-max path and the argmax path decode every layer, as forward does."""
    spec, params = build(skip=True)
    for l in range(2):  # make the skips matter: argmax would differ without them
        params[f"Wsy{l}"] *= 20
    greedy = list(sampling.generate(spec, params, [1, 2], 40, np.random.default_rng(0),
                                    temperature=0))
    cold = list(sampling.generate(spec, params, [1, 2], 40, np.random.default_rng(0),
                                  temperature=1e-9))
    assert cold == greedy
    logits, _, _ = model.forward(spec, params, np.array([[1], [2]] + [[i] for i in greedy[:-1]]),
                                 np.zeros((3, 1, 12)))
    assert greedy == [int(np.argmax(row)) for row in logits[1:, 0]]


# -- many samples as one batch --------------------------------------------------

def single(spec, params, seed, n, random_seed, state=None, **kw):
    return list(sampling.generate(spec, params, seed, n, np.random.default_rng(random_seed),
                                  state, **kw))


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("kw", [dict(), dict(temperature=0.6), dict(temperature=0),
                                dict(top_k=3), dict(top_p=0.8, temperature=1.3)])
def test_batch_equals_single_samples_with_seeds_s_plus_i(cell, kw):
    """Stream i with generator seed S + i gives what one sample with seed S + i gives."""
    spec, params = build(cell=cell, skip=True)
    state = np.random.default_rng(3).standard_normal((3, spec.state_size)) * 0.5
    seeds = [[1, 2, 3], [4, 2, 3], [1, 2, 3], [0, 0, 8]]  # rows may differ
    S, K = 40, len(seeds)
    batch = sampling.generate_batch(spec, params, seeds, 150, [np.random.default_rng(S + i)
                                                               for i in range(K)], state, **kw)
    for i in range(K):
        ids, logprobs = batch.sample(i)
        assert ids == single(spec, params, seeds[i], 150, S + i, state, **kw)
        assert logprobs is None
    if kw.get("temperature", 1) > 0:  # streams with the same seed still differ
        assert batch.sample(0)[0] != batch.sample(2)[0]


def test_batch_crosses_noise_blocks_like_a_single_sample():
    spec, params = build(V=5, H=4, L=1)
    n = sampling.BLOCK + 100
    batch = sampling.generate_batch(spec, params, [[1], [2]], n,
                                    [np.random.default_rng(7), np.random.default_rng(8)])
    assert batch.sample(0)[0] == single(spec, params, [1], n, 7)
    assert batch.sample(1)[0] == single(spec, params, [2], n, 8)


@pytest.mark.parametrize("kw", [dict(), dict(top_k=4), dict(temperature=0)])
def test_batch_stops_each_stream_at_the_first_occurrence(kw):
    spec, params = build(V=4, H=8, L=2)
    K, n = 6, 200
    rngs = lambda: [np.random.default_rng(i) for i in range(K)]  # noqa: E731
    full = sampling.generate_batch(spec, params, [[1, 2]] * K, n, rngs(), **kw)
    stop = full.sample(0)[0][50:52]  # a pair stream 0 makes (maybe earlier too)
    batch = sampling.generate_batch(spec, params, [[1, 2]] * K, n, rngs(), stop_ids=stop, **kw)
    for i in range(K):
        whole, (ids, _) = full.sample(i)[0], batch.sample(i)
        first = next((t + 2 for t in range(n - 1) if whole[t:t + 2] == stop), None)
        assert batch.stopped[i] == (first is not None)
        assert ids == whole[:first or n]  # stopping changes nothing before the stop
    assert batch.stopped.any()


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("kw", [dict(), dict(top_p=0.5)])
def test_batch_scores_are_the_forward_pass_log_probabilities(cell, kw):
    spec, params = build(cell=cell)
    state = np.random.default_rng(3).standard_normal((3, spec.state_size)) * 0.5
    seed = [5, 1, 2]
    batch = sampling.generate_batch(spec, params, [seed] * 3, 30,
                                    [np.random.default_rng(i) for i in range(3)], state,
                                    scores=True, **kw)
    for i in range(3):
        ids, got = batch.sample(i)
        seq = np.array(seed + ids)
        logits, _, _ = model.forward(spec, params, seq[:-1, None], state[:, None, :])
        logp = layers.log_probs(logits[:, 0])[np.arange(len(seq) - 1), seq[1:]]
        np.testing.assert_allclose(got, logp[len(seed) - 1:], rtol=1e-10)
        np.testing.assert_allclose(sampling.seed_log_probs(spec, params, seed, state),
                                   logp[:len(seed) - 1], rtol=1e-10)


def test_a_stop_text_counts_only_in_the_generated_characters():
    """The seed's last id and the first generated one make the stop text: no stop there."""
    spec, params = build(V=4, H=8, L=1)
    seed = [1, 3]
    greedy = single(spec, params, seed, 40, 0, temperature=0)
    batch = sampling.generate_batch(spec, params, [seed], 40, [np.random.default_rng(0)],
                                    temperature=0, stop_ids=[seed[-1], greedy[0]])
    ids, _ = batch.sample(0)
    first = next((t + 2 for t in range(39) if greedy[t:t + 2] == [seed[-1], greedy[0]]), 40)
    assert ids == greedy[:first] and len(ids) > 1


def test_log_softmax_at_is_stable_for_large_logits():
    got = sampling.log_softmax_at(np.array([[1000.0, 0.0], [0.0, -1000.0]]), np.array([1, 0]))
    np.testing.assert_allclose(got, [-1000.0, 0.0], atol=1e-9)
