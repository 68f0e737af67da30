"""The gated cells and Adam, rewritten for speed, against the code they replaced
(reference_engine.py): bit for bit where the order of operations is the same (the
forward passes, the sampler's steps, every update rule), and in float64 to 1e-10 where
it is not: the backward's recurrent product is now W_hh dA^T, (H, G*H) x (G*H, N),
whose sums BLAS adds up in another order than dA W_hh^T's, so float32 gradients
differ in their last bits, as they would under another BLAS or thread count."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import reference_engine as ref
from rnngen.engine import model, optim
from rnngen.engine.cells import gru, lstm
from rnngen.engine.spec import ModelSpec

REFERENCE = {
    "lstm": (lstm, ref.lstm_forward, ref.lstm_backward, ref.lstm_step),
    "gru": (gru, ref.gru_forward, ref.gru_backward, ref.gru_step),
}


def _inputs(mod, T, N, H, dtype, seed=0):
    rng = np.random.default_rng(seed)
    G, S = mod.GATES, len(mod.STATE)
    a = rng.standard_normal((T, N, G * H)).astype(dtype)
    s0 = rng.standard_normal((N, S * H)).astype(dtype)
    Whh = (rng.standard_normal((H, G * H)) * 0.5).astype(dtype)
    extra = {k: rng.standard_normal(shape).astype(dtype)
             for k, shape in mod.extra_shapes(H).items()}
    dh = rng.standard_normal((T, N, H)).astype(dtype)
    return a, s0, Whh, extra, dh


@pytest.mark.parametrize("cell", sorted(REFERENCE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T, N, H", [(6, 3, 5), (1, 2, 4), (4, 1, 33)])
def test_forward_and_step_are_the_reference_bit_for_bit(cell, dtype, T, N, H):
    mod, forward, _, step = REFERENCE[cell]
    a, s0, Whh, extra, _ = _inputs(mod, T, N, H, dtype)
    h, sT, _ = mod.forward(a, s0, Whh, extra)
    ref_h, ref_sT, _ = forward(a, s0, Whh, extra)
    np.testing.assert_array_equal(h, ref_h)
    np.testing.assert_array_equal(sT, ref_sT)
    s, ref_s = s0.copy(), s0.copy()
    hw = s0[:, :H] @ Whh
    out = mod.step(a[0].copy(), hw.copy(), s, extra)
    ref_out = step(a[0].copy(), hw.copy(), ref_s, extra)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(s, ref_s)
    if mod.ADDITIVE:  # the sampler's form that adds h W_hh into a itself
        s, ref_s = s0.copy(), s0.copy()
        np.testing.assert_array_equal(mod.step(a[0] + hw, None, s, extra),
                                      step(a[0] + hw, None, ref_s, extra))


@pytest.mark.parametrize("cell", sorted(REFERENCE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, H", [(3, 5), (1, 33)])
@pytest.mark.parametrize("scaled", [False, True])
def test_bound_step_is_the_reference_step_after_step(cell, dtype, N, H, scaled):
    """The sampler's form (bind_step: views of its scratch made once) over several
    steps, each on fresh contents of the same scratch, as the sampler runs it; scaled:
    with the input part and W_hh's columns scaled by the cell's sampling_scale."""
    mod, _, _, step = REFERENCE[cell]
    a, s0, Whh, extra, _ = _inputs(mod, 5, N, H, dtype, seed=6)
    scale = mod.sampling_scale(H) if scaled else None
    if scaled and scale is None:
        pytest.skip(f"the {cell} sampler scales nothing")
    scale = np.ones(Whh.shape[1], dtype) if scale is None else scale.astype(dtype)
    scratch_a, scratch_hw = np.empty_like(a[0]), np.empty_like(a[0])
    bound = mod.bind_step(scratch_a, scratch_hw, extra, scaled)
    s, ref_s = s0.copy(), s0.copy()
    for t in range(len(a)):
        np.matmul(s[:, :H], Whh * scale, out=scratch_hw)
        np.multiply(a[t], scale, out=scratch_a)
        out = bound(s)
        ref_out = step(a[t].copy(), ref_s[:, :H] @ Whh, ref_s, extra)
        np.testing.assert_array_equal(out, ref_out)
        np.testing.assert_array_equal(s, ref_s)


def _reference_bind_step(step):
    return lambda a, hw, extra, scaled: lambda s: step(a, hw, s, extra)


@pytest.mark.parametrize("cell", sorted(REFERENCE))
@pytest.mark.parametrize("T, N, H", [(6, 3, 5), (1, 2, 4), (4, 1, 33)])
def test_backward_is_the_reference_in_float64(cell, T, N, H):
    mod, forward, backward, _ = REFERENCE[cell]
    a, s0, Whh, extra, dh = _inputs(mod, T, N, H, np.float64, seed=1)
    da, ds0, dWhh, dextra = mod.backward(dh, mod.forward(a, s0, Whh, extra)[2])
    ref_da, ref_ds0, ref_dWhh, ref_dextra = backward(dh, forward(a, s0, Whh, extra)[2])
    for got, want in [(da, ref_da), (ds0, ref_ds0), (dWhh, ref_dWhh)] + [
            (dextra[k], ref_dextra[k]) for k in ref_dextra]:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    assert set(dextra) == set(ref_dextra)


@pytest.mark.parametrize("cell", sorted(REFERENCE))
def test_model_gradients_are_the_reference_in_float64(cell, monkeypatch):
    """The whole model's loss and gradients with the reference cells in its place: two
    layers, dropout and weight drop, two groups of streams on threads."""
    spec = ModelSpec(7, 6, 2, cell)
    rng = np.random.default_rng(2)
    params = model.init_params(spec, rng, dtype=np.float64)
    # 5 streams: groups of 2 and 3, weighed unequally
    inputs, targets = rng.integers(0, 7, (5, 5)), rng.integers(0, 7, (5, 5))
    s0 = 0.3 * rng.standard_normal(spec.state_shape(5))

    def run():
        with ThreadPoolExecutor(2) as pool:
            return model.split_loss_and_grads(spec, params, inputs, targets, s0, 0.2,
                                              np.random.default_rng(3), 0.1, 2, pool.map)

    loss, grads, ds0, sT = run()
    mod, forward, backward, _ = REFERENCE[cell]
    monkeypatch.setattr(mod, "forward", forward)
    monkeypatch.setattr(mod, "backward", backward)
    ref_loss, ref_grads, ref_ds0, ref_sT = run()
    assert loss == ref_loss
    np.testing.assert_array_equal(sT, ref_sT)
    np.testing.assert_allclose(ds0, ref_ds0, rtol=1e-10, atol=1e-13)
    for name in ref_grads:
        np.testing.assert_allclose(grads[name], ref_grads[name], rtol=1e-10, atol=1e-13,
                                   err_msg=name)


@pytest.mark.parametrize("cell", sorted(REFERENCE))
def test_sampling_draws_the_reference_text(cell, monkeypatch):
    spec = ModelSpec(11, 16, 2, cell)
    params = model.init_params(spec, np.random.default_rng(4))  # float32, as sample runs

    from rnngen import decoding

    vocab = "".join(chr(0x100 + i) for i in range(spec.vocab_size))
    m = decoding.Model(spec, params, vocab)

    def draw():
        return list(decoding.stream(m, vocab[1:4], decoding.Decoding(n=300, random_seed=5),
                                    one_thread=False))

    ids = draw()
    mod, *_, step = REFERENCE[cell]
    monkeypatch.setattr(mod, "bind_step", _reference_bind_step(step))
    monkeypatch.setattr(mod, "sampling_scale", lambda H: None)  # the reference's weights
    assert ids == draw()


HYPER = {"sgd": {"momentum": 0.9}, "adagrad": {}, "rmsprop": {},
         "adam": {"weight_decay": 0.01}}


@pytest.mark.parametrize("rule", sorted(optim.RULES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_update_all_in_slices_is_the_whole_update_bit_for_bit(rule, dtype, parts):
    """update_all, with parameters cut into slices of rows on threads, against each
    rule applied whole (for Adam, the reference's Adam, with weight decay, which must
    still spare the biases): weights and state, step after step. Every parameter here
    but "small" is cut (min_split 64 numbers)."""
    rng = np.random.default_rng(6)
    shapes = {"W": (130, 9), "b": (70,), "small": (5, 3), "V": (64, 4)}
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    whole = {k: v.copy() for k, v in params.items()}
    configs = {k: dict(HYPER[rule]) for k in params}
    whole_configs = {k: dict(HYPER[rule]) for k in params}
    apply = ref.adam if rule == "adam" else optim.RULES[rule]
    with ThreadPoolExecutor(3) as pool:
        for step in range(4):
            grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
            optim.update_all(optim.RULES[rule], params, {k: g.copy() for k, g in grads.items()},
                             configs, 0.01 * (step + 1), pool.map, parts, min_split=64)
            for k, w in whole.items():
                whole_configs[k]["learning_rate"] = 0.01 * (step + 1)
                apply(w, grads[k].copy(), whole_configs[k])
    for k in params:
        np.testing.assert_array_equal(params[k], whole[k], err_msg=k)
        for slot in optim.RULES[rule].state:
            if slot in whole_configs[k]:
                np.testing.assert_array_equal(configs[k][slot], whole_configs[k][slot])
    if rule == "adam":
        assert all(configs[k]["t"] == 4 for k in params)
