"""The model's forward pass against naive loops, its loss at initialisation, state carry."""
import math

import numpy as np
import pytest

from rnngen.engine import layers, model


def naive_forward(params, inputs, h0):
    """A per-step, per-layer reference written from the equations, one-hot inputs."""
    V, H, L = model.model_shape(params)
    T, N = inputs.shape
    h = [h0[l].copy() for l in range(L)]
    logits = np.zeros((T, N, V))
    for t in range(T):
        x = np.eye(V)[inputs[t]]
        for l in range(L):
            h[l] = np.tanh(x @ params[f"Wxh{l}"] + h[l] @ params[f"Whh{l}"] + params[f"bh{l}"])
            x = h[l]
        logits[t] = x @ params["Why"] + params["by"]
        for l in range(L - 1):
            if f"Wsy{l}" in params:  # skip connections: y_t also reads every lower layer
                logits[t] += h[l] @ params[f"Wsy{l}"]
    return logits, np.stack(h)


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_forward_matches_naive_loop(num_layers, skip):
    rng = np.random.default_rng(0)
    params = model.init_params(7, 5, num_layers, rng, dtype=np.float64, skip=skip)
    inputs = rng.integers(0, 7, (6, 3))
    h0 = rng.standard_normal((num_layers, 3, 5)) * 0.3
    logits, hT, _ = model.forward(params, inputs, h0)
    ref_logits, ref_h = naive_forward(params, inputs, h0)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hT, ref_h, rtol=1e-12, atol=1e-12)


def test_fused_recurrence_matches_step_loop():
    rng = np.random.default_rng(1)
    a, h0, Whh = rng.standard_normal((8, 4, 6)), rng.standard_normal((4, 6)), rng.standard_normal((6, 6))
    h, _ = layers.rnn_forward(a, h0, Whh)
    prev = h0
    for t in range(8):
        prev, _ = layers.rnn_step_forward(a[t], prev, Whh)
        np.testing.assert_allclose(h[t], prev, rtol=1e-12)


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("init", model.INITS)
def test_loss_at_initialisation_is_about_ln_vocab(init, skip):
    V = 65
    rng = np.random.default_rng(2)
    params = model.init_params(V, 64, 3, rng, init=init, skip=skip)
    inputs, targets = rng.integers(0, V, (50, 8)), rng.integers(0, V, (50, 8))
    loss = model.loss_and_grads(params, inputs, targets, model.zero_state(params, 8))[0]
    # the scaled init gives logits of std ~0.5, which costs ~0.1 nats over uniform
    assert abs(loss - math.log(V)) < 0.15, loss


def test_float32_training_step_stays_float32():
    rng = np.random.default_rng(3)
    params = model.init_params(10, 8, 2, rng)
    inputs, targets = rng.integers(0, 10, (5, 2)), rng.integers(0, 10, (5, 2))
    loss, grads, dh0, hT = model.loss_and_grads(
        params, inputs, targets, model.zero_state(params, 2), dropout=0.2, rng=rng)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert hT.dtype == np.float32 and dh0.dtype == np.float32
    assert np.isfinite(loss)


def test_carried_hidden_state_changes_predictions():
    rng = np.random.default_rng(4)
    params = model.init_params(6, 8, 2, rng, dtype=np.float64)
    inputs = rng.integers(0, 6, (3, 2))
    zero = model.zero_state(params, 2)
    carried = rng.standard_normal(zero.shape)
    a, _, _ = model.forward(params, inputs, zero)
    b, _, _ = model.forward(params, inputs, carried)
    assert np.abs(a - b).max() > 1e-3


def test_final_state_continues_the_sequence():
    """Running T steps then T more from hT equals running 2T steps at once."""
    rng = np.random.default_rng(5)
    params = model.init_params(6, 8, 2, rng, dtype=np.float64)
    inputs = rng.integers(0, 6, (10, 3))
    h0 = model.zero_state(params, 3)
    whole, hw, _ = model.forward(params, inputs, h0)
    first, h1, _ = model.forward(params, inputs[:5], h0)
    second, h2, _ = model.forward(params, inputs[5:], h1)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12)
    np.testing.assert_allclose(h2, hw, rtol=1e-12)


def test_dropout_only_when_asked_and_scaled():
    rng = np.random.default_rng(6)
    mask = layers.dropout_mask((1000, 100), 0.25, rng, np.dtype(np.float32))
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.75)}
    assert abs(mask.mean() - 1.0) < 0.02


def test_weight_drop_zeroes_recurrent_weights_only_while_training():
    rng = np.random.default_rng(8)
    params = model.init_params(5, 8, 2, rng)
    inputs = rng.integers(0, 5, (6, 3))
    h0 = model.zero_state(params, 3)
    plain, _, _ = model.forward(params, inputs, h0)
    dropped, _, cache = model.forward(params, inputs, h0, rng=rng, weight_drop=0.5)
    assert not np.allclose(plain, dropped)
    for l, (_, _, w_mask, _) in enumerate(cache[0]):
        assert w_mask.shape == params[f"Whh{l}"].shape
        assert set(np.unique(w_mask)) == {0.0, np.float32(2.0)}
    # rate 0 draws nothing and changes nothing
    again, _, cache = model.forward(params, inputs, h0, rng=rng, weight_drop=0.0)
    np.testing.assert_array_equal(again, plain)
    assert all(c[2] is None for c in cache[0])
