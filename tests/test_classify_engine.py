"""The classification engine (engine/heads.py, stack.py, classifier.py): backward passes
against finite differences, the forward pass against the character model's own, padding
invisible, the loss at initialisation, and a task that needs memory learned by each cell."""
import math

import numpy as np
import pytest

from rnngen.engine import classifier, heads, model, optim
from rnngen.engine.cells import CELLS
from rnngen.engine.gradcheck import numerical_gradient, relative_error
from rnngen.engine.spec import REVERSE, ClassifierSpec, ModelSpec
from rnngen.threads import Workers

TOL = 1e-6
POOLINGS = list(heads.POOLINGS)


def _spec(cell, pooling="last", bidirectional=False, V=5, H=3, L=1, K=3):
    return ClassifierSpec(V, H, L, cell, output_size=K, pooling=pooling,
                                     bidirectional=bidirectional)


def _params(spec, seed=0):
    rng = np.random.default_rng(seed)
    params = model.init_params(spec, rng, dtype=np.float64)
    for k in params:  # non-zero biases and larger weights, so every path carries gradient
        params[k] += 0.3 * rng.standard_normal(params[k].shape)
    return params


def _batch(V, lengths, seed=1, pad=None):
    """(T, N) ids for sequences of ``lengths``, padded at the end with random ids
    (or ``pad``) to the longest."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    ids = rng.integers(0, V, (lengths.max(), len(lengths)))
    if pad is not None:
        ids[~heads.real_steps(lengths, ids.shape[0])] = pad
    return ids, lengths


# --- gradients ---------------------------------------------------------------------------

@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers, dropout, weight_drop, weighted", [
    (1, 0.0, 0.0, False), (2, 0.3, 0.4, True)])
def test_classifier_gradients_every_parameter_and_initial_state(
        cell, pooling, bidirectional, num_layers, dropout, weight_drop, weighted):
    spec = _spec(cell, pooling, bidirectional, L=num_layers)
    params = _params(spec)
    inputs, lengths = _batch(spec.vocab_size, [5, 2, 4, 1])
    targets = np.array([0, 2, 1, 2])
    weights = np.array([0.5, 2.0, 1.25]) if weighted else None
    s0 = 0.5 * np.random.default_rng(2).standard_normal(spec.initial_state_shape(4))

    def run():
        # a fresh generator with a fixed seed gives the same dropout masks each call
        return classifier.loss_and_grads(spec, params, inputs, lengths, targets, weights, s0,
                                         dropout, np.random.default_rng(7), weight_drop)

    _, grads, ds0 = run()
    assert set(grads) == set(params) == set(spec.param_shapes())
    assert any(k.startswith(REVERSE) for k in grads) == bidirectional
    for name in params:
        err = relative_error(grads[name], numerical_gradient(lambda: run()[0], params[name]))
        assert err < TOL, (name, err)
    # every direction's and layer's initial state (h0, and c0 for the LSTM)
    assert relative_error(ds0, numerical_gradient(lambda: run()[0], s0)) < TOL


@pytest.mark.parametrize("bidirectional", [False, True])
def test_directions_may_run_on_threads_with_the_same_results(bidirectional):
    """map_fn runs each direction's stack, forward and backward (the trainer passes its
    thread pool's map): the loss, gradients and ds0 equal one-after-the-other's to the
    last bit, dropout included, since the masks are drawn before either runs."""
    spec = _spec("gru", "mean", bidirectional, L=2)
    params = _params(spec)
    inputs, lengths = _batch(spec.vocab_size, [5, 2, 4, 1])
    targets = np.array([0, 2, 1, 2])
    pool, calls = Workers(2), []

    def threaded_map(fn, items):
        items = list(items)
        calls.append(len(items))
        return pool.map(fn, items)

    def run(map_fn):
        return classifier.loss_and_grads(spec, params, inputs, lengths, targets, dropout=0.3,
                                         rng=np.random.default_rng(7), weight_drop=0.2,
                                         map_fn=map_fn)

    loss, grads, ds0 = run(threaded_map)
    assert calls == [len(spec.prefixes)] * 2  # once forward, once backward
    plain = run(map)
    assert loss == plain[0]
    assert set(grads) == set(plain[1])
    for name, g in grads.items():
        np.testing.assert_array_equal(g, plain[1][name], err_msg=name)
    np.testing.assert_array_equal(ds0, plain[2])


@pytest.mark.parametrize("pooling", POOLINGS)
def test_pooling_backward_matches_finite_differences_and_leaves_padding_alone(pooling):
    forward, backward = heads.POOLINGS[pooling]
    rng = np.random.default_rng(3)
    h = rng.standard_normal((5, 4, 3))
    lengths = np.array([5, 1, 3, 2])
    up = rng.standard_normal((4, 3))
    pooled, cache = forward(h, lengths)
    dh = backward(up, cache)
    num = numerical_gradient(lambda: float((forward(h, lengths)[0] * up).sum()), h)
    assert relative_error(dh, num) < TOL
    assert not dh[~heads.real_steps(lengths, 5)].any()  # padding gets no gradient


def test_weighted_cross_entropy_gradient_and_scale():
    rng = np.random.default_rng(4)
    logits, targets = rng.standard_normal((6, 3)), np.array([0, 1, 2, 2, 1, 0])
    weights = np.array([0.2, 1.0, 3.0])
    loss, d = heads.cross_entropy(logits, targets, weights)
    num = numerical_gradient(lambda: heads.cross_entropy(logits, targets, weights)[0], logits)
    assert relative_error(d, num) < TOL
    # equal weights are the plain mean; a weighted mean by hand
    plain = heads.cross_entropy(logits, targets)
    same = heads.cross_entropy(logits, targets, np.full(3, 2.5))
    assert same[0] == pytest.approx(plain[0], rel=1e-12)
    np.testing.assert_allclose(same[1], plain[1], rtol=1e-12)
    per = -np.log(np.exp(logits) / np.exp(logits).sum(1, keepdims=True))[np.arange(6), targets]
    w = weights[targets]
    assert loss == pytest.approx((w * per).sum() / w.sum(), rel=1e-12)


def test_balanced_weights():
    w = heads.balanced_weights(np.array([0, 0, 0, 1, 2, 2]), 4)
    np.testing.assert_allclose(w, [6 / 12, 6 / 4, 6 / 8, 0.0])


# --- forward -----------------------------------------------------------------------------

def _reference_logits(spec, params, ids, length):
    """One sequence, alone, through the character model's own forward pass (tested
    against naive loops in test_engine_model.py), pooled by hand."""
    stack_spec = ModelSpec(spec.vocab_size, spec.hidden_size, spec.num_layers, spec.cell)
    features = []
    for prefix, seq in zip(spec.prefixes, (ids[:length], ids[:length][::-1])):
        p = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
        p["Why"], p["by"] = np.zeros((spec.hidden_size, 1)), np.zeros(1)
        _, _, cache = model.forward(stack_spec, p, seq[:, None],
                                    model.zero_state(stack_spec, 1, np.float64))
        h = model.cached_outputs(cache)[-1][:, 0]  # the top layer's outputs (length, H)
        features.append({"last": h[-1], "mean": h.mean(0), "max": h.max(0)}[spec.pooling])
    return np.concatenate(features) @ params["Wcy"] + params["bc"]


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_forward_matches_the_character_model_read_alone(cell, pooling, bidirectional):
    spec = _spec(cell, pooling, bidirectional, V=6, H=4, L=2)
    params = _params(spec)
    inputs, lengths = _batch(6, [7, 3, 1, 5])
    logits, _ = classifier.forward(spec, params, inputs, lengths)
    for i, n in enumerate(lengths):
        ref = _reference_logits(spec, params, inputs[:, i], n)
        np.testing.assert_allclose(logits[i], ref, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_is_invisible(cell, pooling, bidirectional):
    """A sequence's logits are the same alone (no padding) as in any batch, whatever its
    neighbours, its padding's ids or the padding's amount.

    Within a batch of the same width the result is exactly the same: the per-step
    products see the same rows, and padding joins a mean as + 0.0. Across widths it
    is the same to rounding only: OpenBLAS computes a row with another kernel when it
    falls in another position of its blocking (1.0e-15 relative, measured), so rows
    are not bit-identical between batch sizes.
    """
    spec = _spec(cell, pooling, bidirectional, V=6, H=5, L=2)
    params = _params(spec)
    inputs, lengths = _batch(6, [9, 4, 1, 6, 2], pad=0)
    batch, _ = classifier.forward(spec, params, inputs, lengths)
    for i, n in enumerate(lengths):
        alone, _ = classifier.forward(spec, params, inputs[:n, i:i + 1], lengths[i:i + 1])
        np.testing.assert_allclose(batch[i], alone[0], rtol=1e-12, atol=1e-14)
    # more padding, other padding ids, other neighbours' order: the same to rounding
    rng = np.random.default_rng(5)
    order = rng.permutation(5)
    longer = np.vstack([inputs, rng.integers(0, 6, (4, 5))])[:, order]
    longer[~heads.real_steps(lengths[order], longer.shape[0])] = 5
    shuffled, _ = classifier.forward(spec, params, longer, lengths[order])
    np.testing.assert_allclose(shuffled, batch[order], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_amount_and_ids_change_nothing_at_all(cell, pooling, bidirectional):
    """One layer, the same batch: only the padding differs, so the logits are equal to
    the last bit (the one layer's products have the same shapes either way)."""
    spec = _spec(cell, pooling, bidirectional, V=6, H=5, L=1)
    params = _params(spec)
    inputs, lengths = _batch(6, [9, 4, 1, 6, 2], pad=0)
    base, _ = classifier.forward(spec, params, inputs, lengths)
    padded = np.vstack([inputs, np.full((7, 5), 3)])
    padded[~heads.real_steps(lengths, padded.shape[0])] = 4
    other, _ = classifier.forward(spec, params, padded, lengths)
    np.testing.assert_array_equal(other, base)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_loss_at_initialisation_is_ln_k(cell, pooling, bidirectional):
    K = 7
    spec = ClassifierSpec(30, 32, 2, cell, output_size=K, pooling=pooling,
                                     bidirectional=bidirectional)
    rng = np.random.default_rng(0)
    params = model.init_params(spec, rng)
    inputs, lengths = _batch(30, rng.integers(5, 40, 256))
    loss, _, _ = classifier.loss_and_grads(spec, params, inputs, lengths, rng.integers(0, K, 256))
    # within 0.15, as the character model's ln V: max pooling of tanh outputs is
    # positive on average, which shifts each class's logit a little (0.11 for the
    # bidirectional tanh RNN here); the other cases are within 0.03
    assert abs(loss - math.log(K)) < 0.15, loss


def test_prefix_probabilities_are_each_prefix_read_alone():
    spec = _spec("gru", "mean", True, V=6, H=4, L=2)
    params = _params(spec)
    ids = np.random.default_rng(6).integers(0, 6, 8)
    probs = classifier.prefix_probabilities(spec, params, ids)
    assert probs.shape == (8, 3)
    for t in (0, 3, 7):
        alone = classifier.probabilities(spec, params, ids[:t + 1, None], np.array([t + 1]))
        np.testing.assert_allclose(probs[t], alone[0], rtol=1e-12)


def test_reverse_within_reverses_real_steps_and_keeps_padding_at_the_end():
    x = np.arange(12).reshape(4, 3)  # (T, N)
    lengths = np.array([4, 2, 1])
    expected = np.array([[9, 4, 2], [6, 1, 5], [3, 7, 8], [0, 10, 11]])
    np.testing.assert_array_equal(heads.reverse_within(x, lengths), expected)
    np.testing.assert_array_equal(heads.reverse_within(expected, lengths), x)
    y = np.arange(24).reshape(4, 3, 2)  # trailing feature axes follow their step
    np.testing.assert_array_equal(heads.reverse_within(y, lengths)[..., 0], 2 * expected)


def test_lengths_from_a_mask_and_bad_lengths():
    mask = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(heads.lengths_of(mask), [2, 3, 1])
    with pytest.raises(ValueError, match="padding at the end"):
        heads.lengths_of(np.array([[1, 0, 1]], dtype=bool))
    spec = _spec("rnn")
    params = _params(spec)
    for bad in (np.array([0, 2]), np.array([2, 4]), np.array([1.0, 2.0])):
        with pytest.raises(ValueError, match="length"):
            classifier.forward(spec, params, np.zeros((3, 2), dtype=int), bad)


def test_spec_validation_and_shapes():
    for kwargs in ({"output_size": 1}, {"output_size": True}, {},
                   {"output_size": 3, "pooling": "sum"}, {"output_size": 3, "bidirectional": 1},
                   {"output_size": 3, "task": "generate"}):
        with pytest.raises(ValueError):
            ClassifierSpec(5, 4, 2, "gru", **kwargs)
    with pytest.raises(ValueError, match="skip"):
        ClassifierSpec(5, 4, 2, "gru", True, output_size=3)
    with pytest.raises(ValueError, match="ModelSpec describes task 'generate'"):
        ModelSpec(5, 4, 2, "gru", task="classify", output_size=3)
    spec = _spec("lstm", "max", True, V=5, H=4, L=2, K=3)
    shapes = spec.param_shapes()
    assert shapes["Wcy"] == (8, 3) and shapes["bc"] == (3,)
    assert shapes["rev_Wxh0"] == shapes["Wxh0"] == (5, 16)
    assert "Why" not in shapes and "rev_Why" not in shapes
    assert spec.param_count() == sum(int(np.prod(s)) for s in shapes.values())
    assert spec.describe() == "2 x 4 LSTM, bidirectional, max pooling, 3 classes"


def test_spec_round_trips_through_its_stored_form():
    """from_dict builds the class the stored task names; a character model's stored
    form is unchanged by the classifier's existence."""
    spec = _spec("gru", "mean", True, K=4)
    stored = spec.to_dict()
    assert stored["task"] == "classify" and stored["output_size"] == 4
    assert ModelSpec.from_dict(stored) == spec
    generate = ModelSpec(5, 4, 2, "gru")
    assert set(generate.to_dict()) == {"vocab_size", "hidden_size", "num_layers", "cell",
                                       "skip", "task", "output_size"}
    assert ModelSpec.from_dict(generate.to_dict()) == generate
    for bad in (dict(stored, task="translate"), dict(stored, pooling="sum"),
                dict(generate.to_dict(), pooling="max")):
        with pytest.raises(ValueError):
            ModelSpec.from_dict(bad)


def test_both_directions_start_with_the_cell_own_initial_biases():
    """The reverse stack is drawn as the forward one is: the LSTM's forget gate bias
    is 1 in both directions, W_hh orthogonal per gate when asked."""
    spec = _spec("lstm", bidirectional=True, H=4, L=2)
    params = model.init_params(spec, np.random.default_rng(0), init="orthogonal")
    for prefix in spec.prefixes:
        np.testing.assert_array_equal(params[f"{prefix}bh1"][4:8], 1.0)
        block = params[f"{prefix}Whh0"][:, :4].astype(np.float64)
        np.testing.assert_allclose(block.T @ block, np.eye(4), atol=1e-6)
    assert not np.array_equal(params["Whh0"], params["rev_Whh0"])
    assert params["bc"].dtype == params["Wcy"].dtype == np.float32


# --- learning ----------------------------------------------------------------------------

def _markers(rng, n, V=8, min_len=30, max_len=40):
    """Which of two markers (ids V-2 and V-1) comes first in a random string of filler
    ids: a task that needs memory, since the answer is set long before the end."""
    lengths = rng.integers(min_len, max_len + 1, n)
    ids = rng.integers(0, V - 2, (max_len, n))
    labels = rng.integers(0, 2, n)
    for i, n_i in enumerate(lengths):
        a, b = np.sort(rng.choice(n_i - 5, 2, replace=False))  # both well before the end
        first, second = (V - 2, V - 1) if labels[i] == 0 else (V - 1, V - 2)
        ids[a, i], ids[b, i] = first, second
    return ids, lengths, labels


def _train(spec, steps, rng, dropout=0.0, weight_drop=0.0, lr=0.01, N=32):
    # the identity recurrence where the cell defines it (the tanh RNN: Le et al. 2015's
    # IRNN, which holds a state over long spans), else orthogonal
    init = "identity" if "identity" in spec.cell_module.INITS else "orthogonal"
    params = model.init_params(spec, rng, init=init)
    configs = {k: {"learning_rate": lr} for k in params}
    for _ in range(steps):
        ids, lengths, labels = _markers(rng, N, spec.vocab_size)
        _, grads, _ = classifier.loss_and_grads(spec, params, ids, lengths, labels,
                                                dropout=dropout, rng=rng,
                                                weight_drop=weight_drop)
        optim.clip_by_norm(grads, 5.0)
        for k in params:
            optim.adam(params[k], grads[k], configs[k])
    return params


def _accuracy(spec, params, seed=99, n=300):
    ids, lengths, labels = _markers(np.random.default_rng(seed), n, spec.vocab_size)
    probs = classifier.probabilities(spec, params, ids, lengths)
    return float((probs.argmax(1) == labels).mean())


@pytest.mark.parametrize("cell", list(CELLS))
def test_each_cell_learns_which_marker_came_first(cell):
    spec = ClassifierSpec(8, 16, 1, cell, output_size=2)
    rng = np.random.default_rng(0)
    assert _accuracy(spec, model.init_params(spec, np.random.default_rng(0))) < 0.7
    params = _train(spec, 250, rng)
    assert _accuracy(spec, params) >= 0.95


def test_learns_with_dropout_and_weight_drop():
    """Dropout between layers and before the head, and weight drop, train a two-layer
    bidirectional classifier; evaluation (no masks) reads the weights as they are."""
    spec = ClassifierSpec(8, 8, 2, "gru", output_size=2, pooling="max",
                                     bidirectional=True)
    rng = np.random.default_rng(1)
    params = _train(spec, 150, rng, dropout=0.1, weight_drop=0.1)
    ids, lengths, labels = _markers(rng, 8)
    dropped = classifier.forward(spec, params, ids, lengths, dropout=0.5, rng=rng)[0]
    assert not np.allclose(dropped, classifier.forward(spec, params, ids, lengths)[0])
    assert _accuracy(spec, params) >= 0.95


def test_a_bidirectional_gru_classifier_is_pytorchs():
    """Given the same weights, the logits, loss and every gradient are those of
    nn.GRU(bidirectional) on packed sequences with its last state of each direction
    into nn.Linear, fed one-hot characters: the reverse direction reads each text's
    real characters from its end, the loss is the mean over texts."""
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence

    spec = _spec("gru", "last", bidirectional=True, V=6, H=4, K=3)
    params = _params(spec)
    ids, lengths = _batch(spec.vocab_size, [5, 2, 4, 1, 5], pad=0)
    targets = np.array([0, 2, 1, 1, 0])
    H = spec.hidden_size
    gru = torch.nn.GRU(spec.vocab_size, H, bidirectional=True, dtype=torch.float64)
    linear = torch.nn.Linear(2 * H, spec.output_size, dtype=torch.float64)
    names = {"": "", REVERSE: "_reverse"}  # rnngen's prefix -> torch's suffix
    with torch.no_grad():
        for pre, sfx in names.items():
            getattr(gru, "weight_ih_l0" + sfx).copy_(torch.from_numpy(params[pre + "Wxh0"].T))
            getattr(gru, "weight_hh_l0" + sfx).copy_(torch.from_numpy(params[pre + "Whh0"].T))
            getattr(gru, "bias_ih_l0" + sfx).copy_(torch.from_numpy(params[pre + "bh0"]))
            b_hh = np.concatenate([np.zeros(2 * H), params[pre + "bhn0"]])  # r, z fold into b_ih
            getattr(gru, "bias_hh_l0" + sfx).copy_(torch.from_numpy(b_hh))
        linear.weight.copy_(torch.from_numpy(params["Wcy"].T))
        linear.bias.copy_(torch.from_numpy(params["bc"]))
    one_hot = torch.eye(spec.vocab_size, dtype=torch.float64)[torch.from_numpy(ids)]  # (T, N, V)
    _, h = gru(pack_padded_sequence(one_hot, torch.from_numpy(lengths), enforce_sorted=False))
    logits = linear(torch.cat([h[0], h[1]], dim=1))
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets))
    loss.backward()

    ours, grads, _ = classifier.loss_and_grads(spec, params, ids, lengths, targets)
    assert ours == pytest.approx(loss.item(), rel=1e-12)
    for pre, sfx in names.items():
        expected = {"Wxh0": gru.get_parameter("weight_ih_l0" + sfx).grad.numpy().T,
                    "Whh0": gru.get_parameter("weight_hh_l0" + sfx).grad.numpy().T,
                    "bh0": gru.get_parameter("bias_ih_l0" + sfx).grad.numpy(),
                    "bhn0": gru.get_parameter("bias_hh_l0" + sfx).grad.numpy()[2 * H:]}
        for name, g in expected.items():
            np.testing.assert_allclose(grads[pre + name], g, rtol=1e-9, atol=1e-12,
                                       err_msg=pre + name)
    np.testing.assert_allclose(grads["Wcy"], linear.weight.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads["bc"], linear.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
