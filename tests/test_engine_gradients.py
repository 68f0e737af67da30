"""Backward passes against centred finite differences, in float64 on tiny shapes."""
import numpy as np
import pytest

from rnngen.engine import layers, model
from rnngen.engine.gradcheck import numerical_gradient, relative_error

TOL = 1e-6


def _tiny(num_layers, seed=0, V=5, H=4, N=3, T=4, skip=False):
    rng = np.random.default_rng(seed)
    params = model.init_params(V, H, num_layers, rng, init="scaled", dtype=np.float64,
                               skip=skip)
    for k in params:  # non-zero biases so their gradients are exercised
        params[k] += 0.1 * rng.standard_normal(params[k].shape)
    inputs = rng.integers(0, V, (T, N))
    targets = rng.integers(0, V, (T, N))
    h0 = 0.5 * rng.standard_normal((num_layers, N, H))
    return params, inputs, targets, h0


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("dropout, weight_drop", [(0.0, 0.0), (0.3, 0.0), (0.0, 0.4), (0.3, 0.4)])
def test_model_gradients_every_parameter_and_initial_state(num_layers, dropout, weight_drop, skip):
    params, inputs, targets, h0 = _tiny(num_layers, skip=skip)
    assert ("Wsy0" in params) == (skip and num_layers > 1)

    def loss():
        # a fresh generator with a fixed seed gives the same dropout masks each call
        rng = np.random.default_rng(7)
        return model.loss_and_grads(params, inputs, targets, h0, dropout, rng, weight_drop)[0]

    _, grads, dh0, _ = model.loss_and_grads(
        params, inputs, targets, h0, dropout, np.random.default_rng(7), weight_drop)
    assert set(grads) == set(params)
    for name in params:
        err = relative_error(grads[name], numerical_gradient(loss, params[name]))
        assert err < TOL, (name, err)
    assert relative_error(dh0, numerical_gradient(loss, h0)) < TOL


def test_rnn_backward_matches_finite_differences_with_upstream_gradient():
    rng = np.random.default_rng(1)
    T, N, H = 5, 2, 3
    a, h0 = rng.standard_normal((T, N, H)), rng.standard_normal((N, H))
    Whh, dh = rng.standard_normal((H, H)) * 0.5, rng.standard_normal((T, N, H))

    def f():
        return float((layers.rnn_forward(a, h0, Whh)[0] * dh).sum())

    _, cache = layers.rnn_forward(a, h0, Whh)
    da, dh0, dWhh = layers.rnn_backward(dh, cache)
    for analytic, x in ((da, a), (dh0, h0), (dWhh, Whh)):
        assert relative_error(analytic, numerical_gradient(f, x)) < TOL


def test_step_backward_matches_finite_differences():
    rng = np.random.default_rng(2)
    a, prev, Whh = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
    up = rng.standard_normal((2, 3))

    def f():
        return float((layers.rnn_step_forward(a, prev, Whh)[0] * up).sum())

    da, dprev, dW = layers.rnn_step_backward(up, layers.rnn_step_forward(a, prev, Whh)[1])
    for analytic, x in ((da, a), (dprev, prev), (dW, Whh)):
        assert relative_error(analytic, numerical_gradient(f, x)) < TOL


def test_embedding_backward_sums_rows_by_id():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 6, (4, 3))
    W = rng.standard_normal((6, 2))
    up = rng.standard_normal((4, 3, 2))

    def f():
        return float((layers.embedding_forward(ids, W)[0] * up).sum())

    dW = layers.embedding_backward(up, layers.embedding_forward(ids, W)[1])
    assert relative_error(dW, numerical_gradient(f, W)) < TOL


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(4)
    logits, targets = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    _, d = layers.softmax_cross_entropy(logits, targets)
    num = numerical_gradient(lambda: layers.softmax_cross_entropy(logits, targets)[0], logits)
    assert relative_error(d, num) < TOL


def test_gradient_check_detects_a_wrong_gradient():
    """The check itself must be able to fail: a deliberately wrong gradient is caught."""
    params, inputs, targets, h0 = _tiny(1)
    _, grads, _, _ = model.loss_and_grads(params, inputs, targets, h0)
    num = numerical_gradient(
        lambda: model.loss_and_grads(params, inputs, targets, h0)[0], params["Whh0"])
    assert relative_error(grads["Whh0"] * 1.001, num) > TOL


@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("num_layers, skip", [(1, False), (3, True)])
def test_split_batch_gradients_every_parameter_and_initial_state(num_layers, skip, parts):
    """The batch run as groups of streams (as training does on several cores)."""
    params, inputs, targets, h0 = _tiny(num_layers, N=5, skip=skip)

    def run():
        return model.split_loss_and_grads(params, inputs, targets, h0, 0.3,
                                          np.random.default_rng(7), 0.4, parts=parts)

    loss, grads, dh0, _ = run()
    whole = model.loss_and_grads(params, inputs, targets, h0, 0.3, np.random.default_rng(7), 0.4)
    assert loss == pytest.approx(whole[0], rel=1e-12)
    for name in params:
        np.testing.assert_allclose(grads[name], whole[1][name], rtol=1e-10, atol=1e-14)
        err = relative_error(grads[name], numerical_gradient(lambda: run()[0], params[name]))
        assert err < TOL, (name, err)
    assert relative_error(dh0, numerical_gradient(lambda: run()[0], h0)) < TOL
