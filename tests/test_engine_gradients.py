"""Backward passes against centred finite differences, in float64 on tiny shapes:
every parameter and the initial state (h0, and c0 for the LSTM) of every cell."""
import numpy as np
import pytest

from rnngen.engine import layers, model
from rnngen.engine.cells import CELLS
from rnngen.engine.gradcheck import numerical_gradient, relative_error
from rnngen.engine.spec import ModelSpec

TOL = 1e-6


def _tiny(num_layers, cell="rnn", seed=0, V=5, H=4, N=3, T=4, skip=False):
    spec = ModelSpec(V, H, num_layers, cell, skip)
    rng = np.random.default_rng(seed)
    params = model.init_params(spec, rng, init="scaled", dtype=np.float64)
    for k in params:  # non-zero biases so their gradients are exercised
        params[k] += 0.1 * rng.standard_normal(params[k].shape)
    inputs = rng.integers(0, V, (T, N))
    targets = rng.integers(0, V, (T, N))
    s0 = 0.5 * rng.standard_normal(spec.state_shape(N))
    return spec, params, inputs, targets, s0


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("dropout, weight_drop", [(0.0, 0.0), (0.3, 0.0), (0.0, 0.4), (0.3, 0.4)])
def test_model_gradients_every_parameter_and_initial_state(cell, num_layers, dropout,
                                                           weight_drop, skip):
    spec, params, inputs, targets, s0 = _tiny(num_layers, cell, skip=skip)
    assert ("Wsy0" in params) == (skip and num_layers > 1)

    def loss():
        # a fresh generator with a fixed seed gives the same dropout masks each call
        rng = np.random.default_rng(7)
        return model.loss_and_grads(spec, params, inputs, targets, s0, dropout, rng,
                                    weight_drop)[0]

    _, grads, ds0, _ = model.loss_and_grads(
        spec, params, inputs, targets, s0, dropout, np.random.default_rng(7), weight_drop)
    assert set(grads) == set(params)
    for name in params:
        err = relative_error(grads[name], numerical_gradient(loss, params[name]))
        assert err < TOL, (name, err)
    # the whole initial state: h0, and c0 for the LSTM
    assert relative_error(ds0, numerical_gradient(loss, s0)) < TOL


@pytest.mark.parametrize("cell", list(CELLS))
def test_cell_backward_matches_finite_differences_with_upstream_gradient(cell):
    """The cell alone: da, ds0, dWhh and its extras against finite differences."""
    mod = CELLS[cell]
    rng = np.random.default_rng(1)
    T, N, H = 5, 2, 3
    G, S = mod.GATES, len(mod.STATE)
    a, s0 = rng.standard_normal((T, N, G * H)), rng.standard_normal((N, S * H))
    Whh, dh = rng.standard_normal((H, G * H)) * 0.5, rng.standard_normal((T, N, H))
    extra = {k: rng.standard_normal(shape) for k, shape in mod.extra_shapes(H).items()}

    def f():
        return float((mod.forward(a, s0, Whh, extra)[0] * dh).sum())

    _, _, cache = mod.forward(a, s0, Whh, extra)
    da, ds0, dWhh, dextra = mod.backward(dh, cache)
    assert set(dextra) == set(extra)
    for analytic, x in [(da, a), (ds0, s0), (dWhh, Whh)] + [(dextra[k], extra[k]) for k in extra]:
        assert relative_error(analytic, numerical_gradient(f, x)) < TOL


def test_embedding_backward_sums_rows_by_id(monkeypatch):
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 6, (4, 3))
    W = rng.standard_normal((6, 2))
    up = rng.standard_normal((4, 3, 2))

    def f():
        return float((layers.embedding_forward(ids, W)[0] * up).sum())

    num = numerical_gradient(f, W)
    dW = layers.embedding_backward(up, layers.embedding_forward(ids, W)[1])
    assert relative_error(dW, num) < TOL
    monkeypatch.setattr(layers, "SORTED_MAX_VOCAB", 2)  # the large-vocabulary path
    dW = layers.embedding_backward(up, layers.embedding_forward(ids, W)[1])
    assert relative_error(dW, num) < TOL


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(4)
    logits, targets = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    _, d = layers.softmax_cross_entropy(logits, targets)
    num = numerical_gradient(lambda: layers.softmax_cross_entropy(logits, targets)[0], logits)
    assert relative_error(d, num) < TOL


@pytest.mark.parametrize("cell", list(CELLS))
def test_gradient_check_detects_a_wrong_gradient(cell):
    """The check itself must be able to fail: a deliberately wrong gradient is caught."""
    spec, params, inputs, targets, s0 = _tiny(1, cell)
    _, grads, _, _ = model.loss_and_grads(spec, params, inputs, targets, s0)
    num = numerical_gradient(
        lambda: model.loss_and_grads(spec, params, inputs, targets, s0)[0], params["Whh0"])
    assert relative_error(grads["Whh0"] * 1.001, num) > TOL


def test_the_gradient_checker_itself():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda: float((x ** 3).sum()), x),
                               3 * x ** 2, rtol=1e-8)
    assert relative_error(np.array([3.0]), np.array([1.0])) == pytest.approx(0.5)
    assert relative_error(np.array([1.0, 0.0]), np.zeros(2)) == 1.0
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0


def test_split_batch_in_one_part_is_the_whole_batch():
    spec, params, inputs, targets, s0 = _tiny(1, "rnn", N=5)
    split = model.split_loss_and_grads(spec, params, inputs, targets, s0, parts=1)
    whole = model.loss_and_grads(spec, params, inputs, targets, s0)
    assert split[0] == whole[0]
    for name in params:
        np.testing.assert_array_equal(split[1][name], whole[1][name])


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("num_layers, skip", [(1, False), (3, True)])
def test_split_batch_gradients_every_parameter_and_initial_state(cell, num_layers, skip, parts):
    """The batch run as groups of streams (as training does on several cores)."""
    spec, params, inputs, targets, s0 = _tiny(num_layers, cell, N=5, skip=skip)

    def run():
        return model.split_loss_and_grads(spec, params, inputs, targets, s0, 0.3,
                                          np.random.default_rng(7), 0.4, parts=parts)

    loss, grads, ds0, _ = run()
    whole = model.loss_and_grads(spec, params, inputs, targets, s0, 0.3,
                                 np.random.default_rng(7), 0.4)
    assert loss == pytest.approx(whole[0], rel=1e-12)
    for name in params:
        np.testing.assert_allclose(grads[name], whole[1][name], rtol=1e-10, atol=1e-14)
        err = relative_error(grads[name], numerical_gradient(lambda: run()[0], params[name]))
        assert err < TOL, (name, err)
    assert relative_error(ds0, numerical_gradient(lambda: run()[0], s0)) < TOL
