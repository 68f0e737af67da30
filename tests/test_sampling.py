"""Sampling: the stepper, temperature, top-k, top-p, reproducibility, and the batched
Decoder (rows side by side, joining and leaving) that also serves one stream."""
import numpy as np
import pytest

from rnngen import decoding
from rnngen.decoding import Decoding
from rnngen.engine import layers, model, sampling
from rnngen.engine.cells import CELLS
from rnngen.engine.spec import ModelSpec

CHARS = "abcdefghijklmnop"  # a vocabulary whose character i is id i


def build(V=9, H=12, L=3, cell="rnn", skip=False, seed=0, dtype=np.float64):
    spec = ModelSpec(V, H, L, cell, skip)
    return spec, model.init_params(spec, np.random.default_rng(seed), dtype=dtype)


def text(ids):
    return "".join(CHARS[i] for i in ids)


def loaded(spec, params, state=None):
    return decoding.Model(spec, params, CHARS[:spec.vocab_size], state)


def generate(spec, params, seed_ids, n, random_seed, state=None, **options):
    """The ids one stream generates after seed_ids, as `rnngen sample` makes them."""
    out = list(decoding.stream(loaded(spec, params, state), text(seed_ids),
                               Decoding(n, random_seed=random_seed, **options)))
    return [CHARS.index(c) for c in "".join(out[1:])]


def batch(spec, params, seeds, n, random_seeds, state=None, rowwise=False, scores=False,
          **options):
    """Rows decoded side by side until done: [Row], row i seeded random_seeds[i]."""
    decoder = decoding.Decoder(loaded(spec, params, state), rowwise=rowwise, scores=scores)
    rows = decoder.add_many([(Decoding(n, **options), text(seed), np.random.default_rng(r),
                              None, r) for seed, r in zip(seeds, random_seeds)])
    while decoder.live:
        decoder.step()
    return rows


@pytest.fixture(params=list(CELLS))
def net(request):
    return build(cell=request.param)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("streams", [1, 3])
@pytest.mark.parametrize("rowwise", [False, True])
def test_stepper_matches_batched_forward(cell, skip, streams, rowwise):
    spec, params = build(cell=cell, skip=skip)
    for k in params:  # non-zero biases, so the sampler's bias folding is exercised
        params[k] += 0.1 * np.random.default_rng(2).standard_normal(params[k].shape)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 9, (7, streams))
    s0 = rng.standard_normal(spec.state_shape(streams)) * 0.5
    stepper = sampling.Stepper(spec, params, s0, streams=streams, rowwise=rowwise)
    got = np.stack([stepper.step(i).copy() for i in ids])
    logits, sT, _ = model.forward(spec, params, ids, s0)
    np.testing.assert_allclose(got, logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stepper.state, sT, rtol=1e-10, atol=1e-12)


def test_temperature_zero_is_argmax(net):
    spec, params = net
    ids = generate(spec, params, [1, 2], 20, 0, temperature=0)
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
    a = generate(spec, params, [3], 300, 42)
    b = generate(spec, params, [3], 300, 42)
    c = generate(spec, params, [3], 100, 42)
    d = generate(spec, params, [3], 300, 43)
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
    ids = generate(spec, params, [0], 20000, 5)
    freq = np.bincount(ids, minlength=V) / len(ids)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.015)
    ids = generate(spec, params, [0], 20000, 5, top_k=2)
    freq = np.bincount(ids, minlength=V) / len(ids)
    np.testing.assert_allclose(freq, [0, 0, 3 / 7, 4 / 7], atol=0.015)


def test_skip_connections_reach_both_sampling_paths():
    """The Gumbel-max path and the argmax path decode every layer, as forward does."""
    spec, params = build(skip=True)
    for l in range(2):  # make the skips matter: argmax would differ without them
        params[f"Wsy{l}"] *= 20
    greedy = generate(spec, params, [1, 2], 40, 0, temperature=0)
    cold = generate(spec, params, [1, 2], 40, 0, temperature=1e-9)
    assert cold == greedy
    logits, _, _ = model.forward(spec, params, np.array([[1], [2]] + [[i] for i in greedy[:-1]]),
                                 np.zeros((3, 1, 12)))
    assert greedy == [int(np.argmax(row)) for row in logits[1:, 0]]


# -- many rows as one batch -----------------------------------------------------

@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("kw", [dict(), dict(temperature=0.6), dict(temperature=0),
                                dict(top_k=3), dict(top_p=0.8, temperature=1.3)])
@pytest.mark.parametrize("rowwise", [False, True])
def test_batch_equals_single_samples_with_seeds_s_plus_i(cell, kw, rowwise):
    """Row i with generator seed S + i gives what one sample with seed S + i gives."""
    spec, params = build(cell=cell, skip=True)
    state = np.random.default_rng(3).standard_normal((3, spec.state_size)) * 0.5
    seeds = [[1, 2, 3], [4, 2, 3], [1, 2, 3], [0, 0, 8]]  # rows may differ
    S, K = 40, len(seeds)
    rows = batch(spec, params, seeds, 150, [S + i for i in range(K)], state, rowwise, **kw)
    for i in range(K):
        assert rows[i].ids == generate(spec, params, seeds[i], 150, S + i, state, **kw)
        assert rows[i].logprobs is None and rows[i].done and not rows[i].stopped
    if kw.get("temperature", 1) > 0:  # rows with the same seed still differ
        assert rows[0].ids != rows[2].ids


def test_batch_crosses_noise_blocks_like_a_single_sample():
    spec, params = build(V=5, H=4, L=1)
    n = sampling.BLOCK + 100
    rows = batch(spec, params, [[1], [2]], n, [7, 8])
    assert rows[0].ids == generate(spec, params, [1], n, 7)
    assert rows[1].ids == generate(spec, params, [2], n, 8)


@pytest.mark.parametrize("kw", [dict(), dict(top_k=4), dict(temperature=0)])
def test_batch_stops_each_stream_at_the_first_occurrence(kw):
    spec, params = build(V=4, H=8, L=2)
    K, n = 6, 200
    full = batch(spec, params, [[1, 2]] * K, n, range(K), **kw)
    stop = full[0].ids[50:52]  # a pair stream 0 makes (maybe earlier too)
    rows = batch(spec, params, [[1, 2]] * K, n, range(K), stop=text(stop), **kw)
    for whole, row in zip(full, rows):
        first = next((t + 2 for t in range(n - 1) if whole.ids[t:t + 2] == stop), None)
        assert row.stopped == (first is not None) and row.done
        assert row.ids == whole.ids[:first or n]  # stopping changes nothing before the stop
    assert any(row.stopped for row in rows)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("kw", [dict(), dict(top_p=0.5), dict(temperature=0)])
def test_batch_scores_are_the_forward_pass_log_probabilities(cell, kw):
    spec, params = build(cell=cell)
    state = np.random.default_rng(3).standard_normal((3, spec.state_size)) * 0.5
    seed = [5, 1, 2]
    rows = batch(spec, params, [seed] * 3, 30, range(3), state, scores=True, **kw)
    for row in rows:
        seq = np.array(seed + row.ids)
        logits, _, _ = model.forward(spec, params, seq[:-1, None], state[:, None, :])
        logp = layers.log_probs(logits[:, 0])[np.arange(len(seq) - 1), seq[1:]]
        np.testing.assert_allclose(row.logprobs, logp[len(seed) - 1:], rtol=1e-10)
        np.testing.assert_allclose(sampling.seed_log_probs(spec, params, seed, state),
                                   logp[:len(seed) - 1], rtol=1e-10)


def test_a_stop_text_counts_only_in_the_generated_characters():
    """The seed's last id and the first generated one make the stop text: no stop there."""
    spec, params = build(V=4, H=8, L=1)
    seed = [1, 3]
    greedy = generate(spec, params, seed, 40, 0, temperature=0)
    (row,) = batch(spec, params, [seed], 40, [0], temperature=0,
                   stop=text([seed[-1], greedy[0]]))
    first = next((t + 2 for t in range(39) if greedy[t:t + 2] == [seed[-1], greedy[0]]), 40)
    assert row.ids == greedy[:first] and len(row.ids) > 1


def test_log_softmax_at_is_stable_for_large_logits():
    got = sampling.log_softmax_at(np.array([[1000.0, 0.0], [0.0, -1000.0]]), np.array([1, 0]))
    np.testing.assert_allclose(got, [-1000.0, 0.0], atol=1e-9)


# -- rows joining and leaving ------------------------------------------------------

@pytest.mark.parametrize("cell", list(CELLS))
def test_a_row_decodes_the_same_alone_and_among_63_others(cell):
    """float32, as served: with rowwise products a row's text does not depend on which
    other rows share the batch, when they joined or whether some have left, for every
    rule (Gumbel, top-k/p draws, greedy) and with scores."""
    spec, params = build(V=16, H=24, L=2, cell=cell, skip=True, dtype=np.float32)
    model_ = loaded(spec, params)
    rules = [dict(temperature=0.9), dict(top_k=5), dict(top_p=0.7), dict(temperature=0)]

    def request(i):
        return Decoding(40 + i % 17, stop=None if i % 5 else "ab", **rules[i % 4]), \
            text([i % 16, (3 * i) % 16][: 1 + i % 2]), i

    alone = {}
    for i in range(6):
        d, seed, r = request(i)
        decoder = decoding.Decoder(model_, scores=True)
        row = decoder.add(d, seed, np.random.default_rng(r))
        while decoder.live:
            decoder.step()
        alone[i] = (row.ids, row.logprobs)
    decoder = decoding.Decoder(model_, scores=True)
    rows = {}
    for i in range(64):  # rows join between steps; some leave early
        d, seed, r = request(i)
        rows[i] = decoder.add(d, seed, np.random.default_rng(r))
        if i % 3 == 0:
            decoder.step()
        if i in (10, 30):
            decoder.remove(rows[i - 7])
    while decoder.live:
        decoder.step()
        for row in [r for r in decoder.rows if r.done][:2]:
            decoder.remove(row)
    for i in (0, 1, 2, 4, 5):  # row 3 left at i = 10, unfinished
        assert (rows[i].ids, rows[i].logprobs) == alone[i], i
    assert len(rows[3].ids) < rows[3].decoding.n


@pytest.mark.parametrize("cell", list(CELLS))
def test_rows_that_only_draw_noise_choose_as_scored_rows_do(cell):
    """Rows that all draw Gumbel noise, with nothing scored, skip the per-rule choice
    (Decoder.step's common case, one stream's path): they choose what the same rows
    choose with scores, alone and together, across a block of noise and as rows
    finish."""
    spec, params = build(V=16, H=24, L=2, cell=cell, dtype=np.float32)
    model_ = loaded(spec, params)

    def decode(scores, k):
        decoder = decoding.Decoder(model_, scores=scores)
        rows = [decoder.add(Decoding(sampling.BLOCK + 40 if i == 0 else 30 + 7 * i,
                                     temperature=0.8), text([i]), np.random.default_rng(i))
                for i in range(k)]
        while decoder.live:
            decoder.step()
        return [r.ids for r in rows]

    scored = decode(True, 4)
    assert decode(False, 4) == scored
    assert decode(False, 1) == scored[:1]


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("settings", [
    dict(n=sampling.BLOCK + 70, temperature=0.8),  # across a block of noise
    dict(n=300, temperature=1.3, stop=text([3, 4])),  # a stop text (may end it early)
    dict(n=200, stop=text([5])),
    dict(n=1),
    dict(n=0),
    dict(n=80, temperature=0),  # greedy: not the lone-noise case, step's path
    dict(n=80, top_k=3),
])
def test_a_lone_row_decodes_alone_as_step_by_step(cell, settings):
    """Decoder.steps (one stream's loop, `rnngen sample`'s default) makes the ids, the
    stop and the row's state that repeated Decoder.step calls make."""
    spec, params = build(V=16, H=24, L=2, cell=cell, dtype=np.float32)
    model_ = loaded(spec, params)

    def decode(by_steps):
        decoder = decoding.Decoder(model_)
        row = decoder.add(Decoding(**settings), text([1, 2, 3]), np.random.default_rng(7))
        if by_steps:
            made = [idx for r, idx in decoder.steps() if r is row]
        else:
            made = []
            while decoder.live:
                made += [idx for _, idx in decoder.step()]
        return made, row.ids, row.stopped, row.done, decoder.stepper.state.tobytes()

    alone = decode(True)
    assert alone == decode(False)
    assert len(alone[0]) == (settings["n"] if not alone[2] else len(alone[0]))
    assert alone[3]


def test_rows_primed_on_another_thread_while_the_batch_steps_decode_the_same():
    """Decoder.prime reads only the weights: a server reads a long seed on a worker
    thread while the batch steps, then joins the rows; they decode as add_many's."""
    import threading

    spec, params = build(V=16, H=24, L=2, cell="gru", dtype=np.float32)
    model_ = loaded(spec, params)
    seed = text([i % 16 for i in range(300)])

    def requests():
        return [(Decoding(50, temperature=0.8), seed, np.random.default_rng(r), r, r)
                for r in (5, 6)]
    reference = decoding.Decoder(model_, scores=True)
    want = reference.add_many(requests())
    while reference.live:
        reference.step()
    decoder = decoding.Decoder(model_, scores=True)
    busy = decoder.add(Decoding(100_000, temperature=1.0), "ab", np.random.default_rng(1))
    primed = []
    stepped = threading.Event()

    def prime():
        stepped.wait()  # the batch has stepped at least once before the seed is read
        primed.append(decoder.prime(requests()))
    worker = threading.Thread(target=prime)
    worker.start()
    decoder.step()
    stepped.set()
    while worker.is_alive():  # the batch goes on stepping meanwhile
        decoder.step()
    worker.join()
    assert len(busy.ids) > 0 and [r.ids for r in decoder.rows] == [busy.ids]  # not joined yet
    got = decoder.join(primed[0])
    while any(not r.done for r in got):
        decoder.step()
    assert [(r.ids, r.logprobs) for r in got] == [(r.ids, r.logprobs) for r in want]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_gru_sampler_halves_its_weights_only_where_that_is_exact(dtype, monkeypatch):
    """The GRU's sampler halves the r and z columns of its weights once (sampling_scale)
    and gives the logits of the plain step, bit for bit; a weight whose half would lose
    its last bit (just above the smallest normal number) keeps the plain form."""
    spec, params = build(V=7, H=8, L=2, cell="gru", dtype=dtype)
    ids = np.random.default_rng(1).integers(0, 7, (20, 3))
    state = 0.5 * np.random.default_rng(2).standard_normal(spec.state_shape(3))

    def logits(params):
        stepper = sampling.Stepper(spec, params, state, streams=3)
        return stepper.scaled, np.stack([stepper.step(i).copy() for i in ids])

    halved, got = logits(params)
    tiny = np.nextafter(np.finfo(dtype).tiny, 1, dtype=dtype)  # odd last bit: halving rounds
    odd = dict(params, Whh1=params["Whh1"].copy())
    odd["Whh1"][2, 0] = tiny
    assert halved and not logits(odd)[0]
    monkeypatch.setattr(CELLS["gru"], "sampling_scale", lambda H: None)
    scaled, want = logits(params)
    assert not scaled
    np.testing.assert_array_equal(got, want)


def test_rowwise_logits_are_bit_identical_to_a_lone_row():
    spec, params = build(V=16, H=64, L=2, cell="lstm", dtype=np.float32)
    rng = np.random.default_rng(0)
    state = rng.standard_normal(spec.state_shape(40)).astype(np.float32)
    ids = rng.integers(0, 16, 40)
    together = sampling.Stepper(spec, params, state, streams=40, rowwise=True).step(ids)
    for i in (0, 17, 39):
        alone = sampling.Stepper(spec, params, state[:, i:i + 1], streams=1).step(ids[i:i + 1])
        assert np.array_equal(together[i], alone[0])


def test_a_row_with_zero_characters_is_done_at_once():
    spec, params = build(V=4, H=8, L=1)
    decoder = decoding.Decoder(loaded(spec, params))
    row = decoder.add(Decoding(0), "ab")
    assert row.done and decoder.step() == [] and row.seed == "ab" and row.ids == []


# -- the description of a decoding ---------------------------------------------------

@pytest.mark.parametrize("options, message", [
    (dict(beam=4, temperature=0.7, top_k=3),
     "beam finds the most probable text and draws nothing at random, so temperature and "
     "top_k cannot apply"),
    (dict(beam=2, num_samples=3), "beam 2 keeps 2 beams, so num_samples (the best beams"),
    (dict(length_norm=True), "length_norm steers beam search; use it with beam K"),
    (dict(no_repeat_ngram=3), "no_repeat_ngram steers beam search"),
    (dict(stop=""), "stop needs a non-empty TEXT"),
    (dict(n=-1), "n must be a whole number >= 0, got -1"),
    (dict(temperature=float("nan")), "temperature must be a number >= 0"),
    (dict(top_p=0.0), "top_p must be a number in (0, 1], got 0.0"),
    (dict(num_samples=0), "num_samples must be a whole number >= 1"),
    (dict(random_seed=-3), "random_seed must be a whole number >= 0"),
])
def test_a_decoding_is_checked_once_naming_the_option(options, message):
    with pytest.raises(decoding.OptionError) as e:
        Decoding(**options)
    assert message in str(e.value)
    flags = {k: "--" + k.replace("_", "-") for k in options}
    assert e.value.naming(flags).startswith(flags[message.split()[0]] + " ")


def test_the_cli_names_flags_where_the_library_names_options():
    with pytest.raises(decoding.OptionError) as e:
        Decoding(beam=4, top_p=0.5)
    assert e.value.naming({"beam": "--beam", "top_p": "--top-p"}).startswith(
        "--beam finds the most probable text and draws nothing at random, so --top-p ")


@pytest.mark.parametrize("options, rule", [
    (dict(), "gumbel"), (dict(temperature=0.5), "gumbel"), (dict(temperature=0), "greedy"),
    (dict(temperature=0, top_k=3), "greedy"), (dict(top_k=3), "draw"),
    (dict(top_p=0.9), "draw"), (dict(top_p=1.0), "gumbel"), (dict(beam=3), "beam"),
    (dict(beam=3, temperature=0), "beam"),
])
def test_each_decoding_has_one_rule(options, rule):
    assert Decoding(**options).rule == rule
