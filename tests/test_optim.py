"""Update rules, clipping and schedules."""

import numpy as np
import pytest

from rnngen.engine import model, optim


@pytest.mark.parametrize("rule", sorted(optim.RULES))
def test_every_rule_minimises_a_quadratic(rule):
    target = np.array([1.0, -2.0, 3.0])
    w = np.zeros(3)
    config = {"learning_rate": {"sgd": 0.1, "adagrad": 0.5, "rmsprop": 0.01, "adam": 0.05}[rule]}
    for _ in range(500):
        w, config = optim.RULES[rule](w, 2 * (w - target), config)
    assert np.abs(w - target).max() < 0.05, (rule, w)


def test_adam_first_step_moves_each_weight_by_the_learning_rate():
    w = np.zeros(3)
    optim.adam(w, np.array([0.5, -3.0, 1e-3]), {"learning_rate": 0.01})
    np.testing.assert_allclose(w, [-0.01, 0.01, -0.01], rtol=1e-3)  # eps shows at 1e-3


def test_rmsprop_first_step_is_the_gradients_sign_over_root_one_minus_decay():
    w = np.zeros(3)
    optim.rmsprop(w, np.array([0.5, -3.0, 2.0]), {"learning_rate": 0.01, "decay_rate": 0.99})
    np.testing.assert_allclose(w, [-0.1, 0.1, -0.1], rtol=1e-6)  # lr / sqrt(0.01)


def test_sgd_momentum_accumulates():
    w = np.zeros(1)
    cfg = {"learning_rate": 1.0, "momentum": 0.9}
    optim.sgd(w, np.full(1, 2.0), cfg)
    optim.sgd(w, np.full(1, 2.0), cfg)
    np.testing.assert_allclose(w, [-2 - 3.8])


HYPERPARAMETERS = {"sgd": {"momentum": 0.9}, "adagrad": {}, "rmsprop": {}, "adam": {}}


@pytest.mark.parametrize("rule", sorted(optim.RULES))
def test_every_rule_names_the_state_it_keeps(rule):
    """rule.state is what checkpoints save and resume restores: exactly the arrays (and
    counters) the rule adds to its config."""
    cfg = {"learning_rate": 0.1, **HYPERPARAMETERS[rule]}
    given = set(cfg)
    optim.RULES[rule](np.zeros(2), np.ones(2), cfg)
    assert set(cfg) - given == set(optim.RULES[rule].state)


@pytest.mark.parametrize("rule", sorted(optim.RULES))
def test_a_vanishing_gradient_still_steps_downhill_and_boundedly(rule):
    """epsilon keeps the step finite and its sign right where the gradient's scale is
    below epsilon's."""
    w = np.zeros(1)
    lr = 0.1
    optim.RULES[rule](w, np.full(1, 1e-10), {"learning_rate": lr, **HYPERPARAMETERS[rule]})
    assert -lr <= w[0] < 0


def test_adamw_decays_matrices_not_biases():
    W, b = np.ones((2, 2)), np.ones(2)
    for x in (W, b):
        optim.adam(x, np.zeros_like(x), {"learning_rate": 0.1, "weight_decay": 0.5})
    np.testing.assert_allclose(W, 0.95)
    np.testing.assert_allclose(b, 1.0)


def test_update_all_hands_only_large_parameters_to_threads():
    """Parameters under min_split numbers are updated here, in one piece (a thread's
    hand-off would cost more than it saves); a large one is cut into ``parts`` jobs."""
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((40, 10)), "b": rng.standard_normal(10)}
    jobs = []

    def recording_map(fn, items):
        items = list(items)
        jobs.append(len(items))
        return list(map(fn, items))

    for min_split in (401, 400):
        configs = {k: {} for k in params}
        for _ in range(2):  # the first update creates the state, whole
            grads = {k: rng.standard_normal(w.shape) for k, w in params.items()}
            optim.update_all(optim.adam, params, grads, configs, 0.01, recording_map, 2,
                             min_split=min_split)
    assert jobs == [2]  # only W at min_split 400, from its second update on


def test_clip_by_value_and_by_norm():
    grads = {"a": np.array([10.0, -10.0, 1.0]), "b": np.array([[-7.0]])}
    optim.clip_by_value(grads, 5)
    assert grads["a"].tolist() == [5, -5, 1] and grads["b"].item() == -5
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([4.0])}
    assert optim.clip_by_norm(grads, 1.0) == pytest.approx(5.0)
    assert optim.global_norm(grads) == pytest.approx(1.0)
    np.testing.assert_allclose(grads["a"], [0.6, 0.0])


def test_schedules():
    lr = optim.learning_rate
    assert lr(500, 0.1) == 0.1
    assert lr(2500, 0.1, "step", decay=0.5, decay_every=1000) == pytest.approx(0.025)
    assert lr(0, 0.1, "cosine", total_steps=100) == pytest.approx(0.1)
    assert lr(50, 0.1, "cosine", total_steps=100) == pytest.approx(0.05)
    assert lr(100, 0.1, "cosine", total_steps=100, min_lr=0.01) == pytest.approx(0.01)
    assert lr(4, 0.1, "cosine", total_steps=100, warmup_steps=10) == pytest.approx(0.05)


def test_identity_and_orthogonal_inits():
    rng = np.random.default_rng(0)
    from rnngen.engine.spec import ModelSpec
    p = model.init_params(ModelSpec(5, 8, 2), rng, init="identity", dtype=np.float64)
    np.testing.assert_array_equal(p["Whh1"], np.eye(8))
    p = model.init_params(ModelSpec(5, 8, 2), rng, init="orthogonal", dtype=np.float64)
    np.testing.assert_allclose(p["Whh0"] @ p["Whh0"].T, np.eye(8), atol=1e-12)
    p = model.init_params(ModelSpec(5, 8, 1), rng, init="gaussian", init_scale=0.01,
                          dtype=np.float64)
    assert 0.005 < p["Whh0"].std() < 0.015
    assert not any(p[k].any() for k in p if k.startswith("b"))
