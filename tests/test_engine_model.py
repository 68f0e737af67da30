"""The model's forward pass against naive loops, its loss at initialisation, state carry."""
import math

import numpy as np
import pytest

from rnngen.engine import layers, model
from rnngen.engine.cells import CELLS
from rnngen.engine.spec import ModelSpec


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naive_cell(cell, x_part, h, c, Whh, extra):
    """One step written from the equations. x_part = x W_xh + b_h (N, G*H)."""
    H = h.shape[1]
    if cell == "rnn":
        return np.tanh(x_part + h @ Whh), None
    if cell == "lstm":
        pre = x_part + h @ Whh
        i, f, o = sigmoid(pre[:, :H]), sigmoid(pre[:, H:2 * H]), sigmoid(pre[:, 2 * H:3 * H])
        g = np.tanh(pre[:, 3 * H:])
        c = f * c + i * g
        return o * np.tanh(c), c
    hr, hz, hn = np.split(h @ Whh, 3, axis=1)
    xr, xz, xn = np.split(x_part, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * (hn + extra["bhn"]))
    return (1 - z) * n + z * h, None


def naive_forward(spec, params, inputs, s0):
    """A per-step, per-layer reference written from the equations, one-hot inputs."""
    V, H, L = spec.vocab_size, spec.hidden_size, spec.num_layers
    T, N = inputs.shape
    h = [s0[l, :, :H].copy() for l in range(L)]
    c = [s0[l, :, H:].copy() for l in range(L)]
    logits = np.zeros((T, N, V))
    for t in range(T):
        x = np.eye(V)[inputs[t]]
        for l in range(L):
            x_part = x @ params[f"Wxh{l}"] + params[f"bh{l}"]
            h[l], c[l] = naive_cell(spec.cell, x_part, h[l], c[l], params[f"Whh{l}"],
                                    spec.layer_extras(params, l))
            x = h[l]
        logits[t] = x @ params["Why"] + params["by"]
        for l in spec.skip_layers:  # skip connections: y_t also reads every lower layer
            logits[t] += h[l] @ params[f"Wsy{l}"]
    state = [np.concatenate([h[l]] + ([c[l]] if c[l] is not None and c[l].size else []),
                            axis=1) for l in range(L)]
    return logits, np.stack(state)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_forward_matches_naive_loop(cell, num_layers, skip):
    rng = np.random.default_rng(0)
    spec = ModelSpec(7, 5, num_layers, cell, skip)
    params = model.init_params(spec, rng, dtype=np.float64)
    for k in params:
        params[k] += 0.1 * rng.standard_normal(params[k].shape)
    inputs = rng.integers(0, 7, (6, 3))
    s0 = rng.standard_normal(spec.state_shape(3)) * 0.3
    logits, sT, _ = model.forward(spec, params, inputs, s0)
    ref_logits, ref_s = naive_forward(spec, params, inputs, s0)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sT, ref_s, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", list(CELLS))
def test_fused_recurrence_matches_step_loop(cell):
    """The fused time loop and the one-step form (the sampler's) agree."""
    mod = CELLS[cell]
    rng = np.random.default_rng(1)
    T, N, H = 8, 4, 6
    a = rng.standard_normal((T, N, mod.GATES * H))
    s0 = rng.standard_normal((N, len(mod.STATE) * H))
    Whh = rng.standard_normal((H, mod.GATES * H)) * 0.4
    extra = {k: rng.standard_normal(shape) for k, shape in mod.extra_shapes(H).items()}
    h, sT, _ = mod.forward(a, s0, Whh, extra)
    s = s0.copy()
    for t in range(T):
        s_before = s.copy()
        out = mod.step(a[t].copy(), s[:, :H] @ Whh, s, extra)
        np.testing.assert_allclose(h[t], out, rtol=1e-12)
        if mod.ADDITIVE:  # the sampler may add h W_hh into a itself
            out2 = mod.step(a[t] + s_before[:, :H] @ Whh, None, s_before, extra)
            np.testing.assert_allclose(out2, out, rtol=1e-12)
    np.testing.assert_allclose(sT, s, rtol=1e-12)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("skip", [False, True])
def test_loss_at_initialisation_is_about_ln_vocab(cell, skip):
    V = 65
    rng = np.random.default_rng(2)
    for init in CELLS[cell].INITS:
        spec = ModelSpec(V, 64, 3, cell, skip)
        params = model.init_params(spec, rng, init=init)
        inputs, targets = rng.integers(0, V, (50, 8)), rng.integers(0, V, (50, 8))
        loss = model.loss_and_grads(spec, params, inputs, targets, model.zero_state(spec, 8))[0]
        # the scaled init gives logits of std ~0.5, which costs ~0.1 nats over uniform
        assert abs(loss - math.log(V)) < 0.15, (init, loss)


def test_identity_init_is_refused_for_gated_cells():
    for cell in ("lstm", "gru"):
        with pytest.raises(ValueError, match="not defined for the"):
            model.init_params(ModelSpec(5, 4, 1, cell), np.random.default_rng(0), "identity")
        with pytest.raises(ValueError, match="tanh RNN only"):  # the cells' own check
            CELLS[cell].init_recurrent(np.random.default_rng(0), 4, "identity")


def test_inits_are_every_cells_own_in_order():
    assert model.INITS == ("scaled", "gaussian", "identity", "orthogonal")
    for cell in CELLS.values():
        assert set(cell.INITS) <= set(model.INITS)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("skip", [False, True])
def test_scaled_init_fills_plus_minus_one_over_root_fan_in(cell, skip):
    """Each weight uniform in +-1/sqrt(fan_in): fan_in 1 for the character lookup, H
    for a hidden input, L*H for the decoder when every layer reaches it (skip)."""
    V, H, L = 5, 9, 2
    spec = ModelSpec(V, H, L, cell, skip=skip)
    params = model.init_params(spec, np.random.default_rng(0), "scaled", dtype=np.float64)
    for name, w in params.items():
        if name.startswith("b"):
            continue
        fan_in = 1 if name == "Wxh0" else H * (L if skip and name[:3] in ("Why", "Wsy") else 1)
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(w).max() <= bound, name
        assert w.max() > 0.7 * bound and w.min() < -0.7 * bound, name  # both signs, full width


def test_lstm_forget_gate_bias_starts_at_one_and_gates_are_orthogonal_blocks():
    spec = ModelSpec(5, 4, 2, "lstm")
    params = model.init_params(spec, np.random.default_rng(0), "orthogonal", dtype=np.float64)
    for l in range(2):
        np.testing.assert_array_equal(params[f"bh{l}"], np.repeat([0.0, 1.0, 0.0, 0.0], 4))
        for block in np.split(params[f"Whh{l}"], 4, axis=1):
            np.testing.assert_allclose(block.T @ block, np.eye(4), atol=1e-12)


@pytest.mark.parametrize("cell", list(CELLS))
def test_float32_training_step_stays_float32(cell):
    rng = np.random.default_rng(3)
    spec = ModelSpec(10, 8, 2, cell)
    params = model.init_params(spec, rng)
    inputs, targets = rng.integers(0, 10, (5, 2)), rng.integers(0, 10, (5, 2))
    loss, grads, ds0, sT = model.loss_and_grads(
        spec, params, inputs, targets, model.zero_state(spec, 2), dropout=0.2, rng=rng)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert sT.dtype == np.float32 and ds0.dtype == np.float32
    assert np.isfinite(loss)


@pytest.mark.parametrize("cell", list(CELLS))
def test_carried_state_changes_predictions(cell):
    """Every part of the carried state is used: h, and c for the LSTM."""
    rng = np.random.default_rng(4)
    spec = ModelSpec(6, 8, 2, cell)
    params = model.init_params(spec, rng, dtype=np.float64)
    inputs = rng.integers(0, 6, (3, 2))
    zero = model.zero_state(spec, 2)
    base, _, _ = model.forward(spec, params, inputs, zero)
    H = spec.hidden_size
    for part in range(len(spec.cell_module.STATE)):
        carried = zero.copy()
        carried[..., part * H:(part + 1) * H] = rng.standard_normal((2, 2, H))
        other, _, _ = model.forward(spec, params, inputs, carried)
        assert np.abs(base - other).max() > 1e-3, part


@pytest.mark.parametrize("cell", list(CELLS))
def test_final_state_continues_the_sequence(cell):
    """Running T steps then T more from sT equals running 2T steps at once."""
    rng = np.random.default_rng(5)
    spec = ModelSpec(6, 8, 2, cell)
    params = model.init_params(spec, rng, dtype=np.float64)
    inputs = rng.integers(0, 6, (10, 3))
    s0 = model.zero_state(spec, 3, np.float64)
    whole, sw, _ = model.forward(spec, params, inputs, s0)
    first, s1, _ = model.forward(spec, params, inputs[:5], s0)
    second, s2, _ = model.forward(spec, params, inputs[5:], s1)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12)
    np.testing.assert_allclose(s2, sw, rtol=1e-12)


@pytest.mark.parametrize("source", ["generator", "counter"])
def test_dropout_only_when_asked_and_scaled(source):
    if source == "generator":
        bits = layers.GeneratorBits(np.random.default_rng(6))
    else:
        bits = layers.CounterBits(seed=6, key=0)
    mask = layers.dropout_mask((1000, 100), 0.25, bits, np.dtype(np.float32))
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.75)}
    assert abs(mask.mean() - 1.0) < 0.02
    assert abs((mask == 0).mean() - 0.25) < 0.01


def splitmix64(state, n):
    """SplitMix64 as published (Steele, Lea and Flood 2014), in Python integers."""
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) % 2**64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        out.append(z ^ (z >> 31))
    return out


def test_counter_bits_are_splitmix64():
    """The finaliser is SplitMix64's: seeded with 0 its first output is the published
    0xE220A8397B1DCDAF, and a counter source at base 0 yields the generator's outputs."""
    assert splitmix64(0, 1) == [0xE220A8397B1DCDAF]
    golden = np.uint64(0x9E3779B97F4A7C15)
    counters = np.arange(1, 6, dtype=np.uint64)
    with np.errstate(over="ignore"):
        got = layers._splitmix(counters * golden)
    assert [int(x) for x in got] == splitmix64(0, 5)


def test_counter_bits_are_a_function_of_seed_key_and_draw():
    """Counter-based masks: the same (seed, key) gives the same draws, in order, with
    no state to save; another seed or key (training step) gives other bits."""
    def draws(seed, key):
        bits = layers.CounterBits(seed, key)
        return bits((7, 5)), bits((3,))

    a1, a2 = draws(1, 10)
    b1, b2 = draws(1, 10)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert a1.dtype == np.uint16 and a1.shape == (7, 5)
    assert not np.array_equal(draws(1, 11)[0], a1) and not np.array_equal(draws(2, 10)[0], a1)
    assert not np.array_equal(a1.ravel()[:3], a2)  # the second draw continues the counter
    big = layers.CounterBits(3, 4)((1 << 16,))
    counts = np.bincount(big >> 12, minlength=16)  # top 4 bits about uniform
    assert counts.min() > 0.85 * counts.mean() and counts.max() < 1.15 * counts.mean()


@pytest.mark.parametrize("cell", list(CELLS))
def test_weight_drop_zeroes_recurrent_weights_only_while_training(cell):
    rng = np.random.default_rng(8)
    spec = ModelSpec(5, 8, 2, cell)
    params = model.init_params(spec, rng)
    inputs = rng.integers(0, 5, (6, 3))
    s0 = model.zero_state(spec, 3)
    plain, _, _ = model.forward(spec, params, inputs, s0)
    dropped, _, cache = model.forward(spec, params, inputs, s0, rng=rng, weight_drop=0.5)
    assert not np.allclose(plain, dropped)
    for l, (_, _, w_mask, _) in enumerate(cache[0]):
        assert w_mask.shape == params[f"Whh{l}"].shape
        assert set(np.unique(w_mask)) == {0.0, np.float32(2.0)}
    # rate 0 draws nothing and changes nothing
    again, _, cache = model.forward(spec, params, inputs, s0, rng=rng, weight_drop=0.0)
    np.testing.assert_array_equal(again, plain)
    assert all(c[2] is None for c in cache[0])


def test_spec_param_shapes_follow_the_cell():
    for cell, G in (("rnn", 1), ("lstm", 4), ("gru", 3)):
        shapes = ModelSpec(7, 5, 2, cell, skip=True).param_shapes()
        assert shapes["Wxh0"] == (7, G * 5) and shapes["Wxh1"] == (5, G * 5)
        assert shapes["Whh1"] == (5, G * 5) and shapes["bh0"] == (G * 5,)
        assert shapes["Wsy0"] == (5, 7) and "Wsy1" not in shapes
        assert ("bhn0" in shapes) == (cell == "gru")
    assert ModelSpec(7, 5, 1, "rnn", skip=True).skip is False  # nothing to skip
    with pytest.raises(ValueError, match="unknown cell"):
        ModelSpec(7, 5, 1, "transformer")


@pytest.mark.parametrize("field", ["vocab_size", "hidden_size", "num_layers"])
@pytest.mark.parametrize("value", [0, -1, True, 2.0, "3", None])
def test_spec_sizes_are_integers_from_one(field, value):
    sizes = dict(vocab_size=7, hidden_size=5, num_layers=2)
    with pytest.raises(ValueError, match=f"{field} must be an integer >= 1"):
        ModelSpec(**dict(sizes, **{field: value}))
    assert ModelSpec(**dict(sizes, **{field: 1})).to_dict()[field] == 1


def test_spec_counts_describes_and_reads_itself_back():
    spec = ModelSpec(7, 5, 3, "lstm", skip=True)
    assert spec.param_count() == sum(int(np.prod(s)) for s in spec.param_shapes().values())
    assert spec.param_count() == (7 * 20 + 2 * 5 * 20) + 3 * (5 * 20 + 20) + 3 * 5 * 7 + 7
    assert spec.describe() == "3 x 5 LSTM with skip connections"
    assert ModelSpec(7, 5, 1).describe() == "1 x 5 tanh RNN"
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    for data, message in (([7, 5, 3], "not a mapping"),
                          (dict(spec.to_dict(), depth=2), r"unknown model description fields \['depth'\]"),
                          ({"vocab_size": 7, "num_layers": 3}, r"lacks \['hidden_size'\]")):
        with pytest.raises(ValueError, match=message):
            ModelSpec.from_dict(data)


@pytest.mark.parametrize("skip", [1, 0, "yes", None])
def test_spec_skip_is_a_bool(skip):
    with pytest.raises(ValueError, match="skip must be true or false"):
        ModelSpec(7, 5, 2, skip=skip)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("num_layers", [1, 3])
def test_cached_outputs_are_each_layers_h_at_every_step(cell, num_layers):
    """forward's cached outputs (what the report shows) against the sampler's one-step
    path, layer by layer, from a carried state."""
    from rnngen.engine.sampling import Stepper

    rng = np.random.default_rng(1)
    spec = ModelSpec(7, 5, num_layers, cell, skip=True)
    params = model.init_params(spec, rng, dtype=np.float64)
    inputs = rng.integers(0, 7, (6, 2))
    s0 = rng.standard_normal(spec.state_shape(2)) * 0.3
    _, sT, cache = model.forward(spec, params, inputs, s0)
    outs = model.cached_outputs(cache)
    assert len(outs) == num_layers and all(h.shape == (6, 2, 5) for h in outs)
    stepper = Stepper(spec, params, s0, streams=2)
    for t in range(6):
        stepper.advance(inputs[t])
        for l in range(num_layers):
            np.testing.assert_allclose(outs[l][t], stepper.state[l, :, :5], rtol=1e-10,
                                       atol=1e-12)
    np.testing.assert_allclose(sT, stepper.state, atol=1e-12)


def test_softmax_cross_entropy_is_stable_for_large_logits():
    """The row maximum is subtracted before exp: logits in the thousands still give the
    exact loss, not inf or nan."""
    logits = np.array([[1000.0, 0.0, -5.0], [0.0, -1000.0, 3.0]])
    loss, dlogits = layers.softmax_cross_entropy(logits.copy(), np.array([1, 2]))
    expected = np.mean([-layers.log_probs(logits)[0, 1], -layers.log_probs(logits)[1, 2]])
    assert loss == pytest.approx(expected) and loss == pytest.approx((1000 + 3.0486e-3) / 2,
                                                                     rel=1e-4)
    assert np.isfinite(dlogits).all()
