"""Sampling: the single-stream stepper, temperature, top-k, top-p, reproducibility."""
import numpy as np
import pytest

from rnngen.engine import model, sampling
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
