"""Sampling: the single-stream stepper, temperature, top-k, top-p, reproducibility."""
import numpy as np
import pytest

from rnngen.engine import model, sampling


@pytest.fixture
def params():
    return model.init_params(9, 12, 3, np.random.default_rng(0), dtype=np.float64)


@pytest.mark.parametrize("skip", [False, True])
def test_stepper_matches_batched_forward(skip):
    params = model.init_params(9, 12, 3, np.random.default_rng(0), dtype=np.float64, skip=skip)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 9, 7)
    h0 = rng.standard_normal((3, 12)) * 0.5
    stepper = sampling.Stepper(params, h0)
    got = np.stack([stepper.step(i).copy() for i in ids])
    logits, hT, _ = model.forward(params, ids[:, None], h0[:, None, :])
    np.testing.assert_allclose(got, logits[:, 0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stepper.h, hT[:, 0], rtol=1e-10, atol=1e-12)


def test_temperature_zero_is_argmax(params):
    ids = list(sampling.generate(params, [1, 2], 20, np.random.default_rng(0), temperature=0))
    stepper = sampling.Stepper(params)
    stepper.step(1)
    logits = stepper.step(2)
    expect = []
    for _ in range(20):
        expect.append(int(np.argmax(logits)))
        logits = stepper.step(expect[-1])
    assert ids == expect


def test_same_random_seed_same_text_and_prefix_stable(params):
    a = list(sampling.generate(params, [3], 300, np.random.default_rng(42)))
    b = list(sampling.generate(params, [3], 300, np.random.default_rng(42)))
    c = list(sampling.generate(params, [3], 100, np.random.default_rng(42)))
    d = list(sampling.generate(params, [3], 300, np.random.default_rng(43)))
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
    params = model.init_params(V, 3, 1, np.random.default_rng(0), dtype=np.float64)
    params["Why"][:] = 0
    params["by"][:] = np.log([0.1, 0.2, 0.3, 0.4])
    ids = list(sampling.generate(params, [0], 20000, np.random.default_rng(5)))
    freq = np.bincount(ids, minlength=V) / len(ids)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.015)
    ids = list(sampling.generate(params, [0], 20000, np.random.default_rng(5), top_k=2))
    freq = np.bincount(ids, minlength=V) / len(ids)
    np.testing.assert_allclose(freq, [0, 0, 3 / 7, 4 / 7], atol=0.015)


def test_skip_connections_reach_both_sampling_paths():
    """The Gumbel-max path and the argmax path decode every layer, as forward does."""
    params = model.init_params(9, 12, 3, np.random.default_rng(0), dtype=np.float64, skip=True)
    for l in range(2):  # make the skips matter: argmax would differ without them
        params[f"Wsy{l}"] *= 20
    greedy = list(sampling.generate(params, [1, 2], 40, np.random.default_rng(0), temperature=0))
    cold = list(sampling.generate(params, [1, 2], 40, np.random.default_rng(0), temperature=1e-9))
    assert cold == greedy
    logits, _, _ = model.forward(params, np.array([[1], [2]] + [[i] for i in greedy[:-1]]),
                                 np.zeros((3, 1, 12)))
    assert greedy == [int(np.argmax(row)) for row in logits[1:, 0]]
