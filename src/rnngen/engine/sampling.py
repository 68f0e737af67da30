"""Generating characters one step at a time from a trained model.

Sampling is a loop of small products, so the number of NumPy calls per character
matters as much as their size: the stepper folds the layer-0 bias into the lookup
table and, for cells whose recurrent product only adds to the input's (ADDITIVE),
joins each upper layer's two products into one by stacking [W_xh; W_hh].
"""
import numpy as np

from . import layers, model
from .backend import to_host, xp_of


class Stepper:
    """Advance N streams of the model together, one character each per step.

    ``state`` (L, N, S*H) is the carried state it starts from (zeros when None);
    it is copied, never changed. Everything stays on the parameters' device.
    """

    def __init__(self, spec, params, state=None, streams=1):
        self.spec, cell = spec, spec.cell_module
        self.cell = cell
        H, L = spec.hidden_size, spec.num_layers
        dtype = params["Whh0"].dtype
        self.xp = xp = xp_of(params["Whh0"])
        self.table = params["Wxh0"] + params["bh0"]  # (V, G*H): x W_xh + b_h for each id
        self.Whh = [params[f"Whh{l}"] for l in range(L)]
        self.extras = [spec.layer_extras(params, l) for l in range(L)]
        if cell.ADDITIVE:
            # layer l > 0 reads [h_{l-1}, h_l] (N, 2H) through [W_xh; W_hh] (2H, G*H)
            self.stacked = [None] + [np.vstack([params[f"Wxh{l}"], params[f"Whh{l}"]])
                                     for l in range(1, L)]
            self.joint = xp.zeros((streams, 2 * H), dtype=dtype)
        self.Wxh = [None] + [params[f"Wxh{l}"] for l in range(1, L)]
        self.biases = [None] + [params[f"bh{l}"] for l in range(1, L)]
        self.Why, self.by = params["Why"], params["by"]
        self.skips = [(l, params[f"Wsy{l}"]) for l in spec.skip_layers]
        if state is None:
            self.state = xp.zeros(spec.state_shape(streams), dtype=dtype)
        else:
            self.state = xp.array(state, dtype=dtype).reshape(spec.state_shape(streams))
        self.logits = xp.empty((streams, spec.vocab_size), dtype=dtype)

    @property
    def h(self):
        """The current outputs of every layer, (L, N, H) (a copy)."""
        return self.state[..., :self.spec.hidden_size].copy()

    def advance(self, ids):
        """Feed one character id per stream (N,) (or an int for one stream)."""
        H, cell, state = self.spec.hidden_size, self.cell, self.state
        ids = self.xp.asarray(np.atleast_1d(ids))
        a = self.table[ids]  # (N, G*H), a fresh array the cell may overwrite
        if cell.ADDITIVE:
            a += state[0, :, :H] @ self.Whh[0]
            x = cell.step(a, None, state[0], self.extras[0])
        else:
            x = cell.step(a, state[0, :, :H] @ self.Whh[0], state[0], self.extras[0])
        for l in range(1, self.spec.num_layers):
            s = state[l]
            if cell.ADDITIVE:
                joint = self.joint
                joint[:, :H] = x
                joint[:, H:] = s[:, :H]
                pre = joint @ self.stacked[l]
                pre += self.biases[l]
                x = cell.step(pre, None, s, self.extras[l])
            else:
                a = x @ self.Wxh[l]
                a += self.biases[l]
                x = cell.step(a, s[:, :H] @ self.Whh[l], s, self.extras[l])

    def step(self, ids):
        """Feed one id per stream; returns the logits (N, V) for the next ones
        (a buffer reused by the next call)."""
        self.advance(ids)
        self.decode(self.logits)
        self.logits += self.by
        return self.logits

    def decode(self, out):
        """The logits less the decoder bias, (N, V), into ``out``."""
        H = self.spec.hidden_size
        np.matmul(self.state[-1, :, :H], self.Why, out=out)
        for l, W in self.skips:  # skip connections: lower layers feed the decoder too
            out += self.state[l, :, :H] @ W


def next_probs(logits, temperature=1.0, top_k=0, top_p=1.0):
    """Turn logits (V,) into sampling probabilities (float64, sum 1).

    temperature divides the logits (0 is handled by the caller as argmax); top_k
    keeps the k most likely characters; top_p keeps the smallest set whose
    probability reaches p (nucleus sampling). Both filters may be combined.
    """
    z = logits.astype(np.float64)
    z -= z.max()
    with np.errstate(over="ignore", divide="ignore"):
        z /= temperature  # after the shift, a tiny temperature sends z to -inf, not nan
    if top_k and top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]
        z[z < kth] = -np.inf
    p = np.exp(z)
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p)) + 1]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return p


def generate(spec, params, seed_ids, n, rng, state=None, temperature=1.0, top_k=0, top_p=1.0):
    """Yield ``n`` character ids that follow ``seed_ids`` (at least one id).

    The seed is fed through the model first, starting from the carried state
    ``state`` (L, S*H) of one stream, or zeros. temperature 0 takes the most likely
    character each step.
    """
    if len(seed_ids) == 0:
        raise ValueError("generate needs at least one seed character")
    stepper = Stepper(spec, params, state)
    for idx in seed_ids[:-1]:
        stepper.advance(idx)
    if _gumbel(temperature, top_k, top_p):
        yield from _gumbel_sample(stepper, seed_ids[-1], n, rng, temperature)
        return
    logits = to_host(stepper.step(seed_ids[-1])[0])  # each choice is made on the host
    for i in range(n):
        idx = int(np.argmax(logits)) if temperature == 0 else draw(logits, rng, temperature,
                                                                    top_k, top_p)
        yield idx
        logits = to_host(stepper.step(idx)[0])


def draw(logits, rng, temperature, top_k, top_p):
    """One id drawn from next_probs(logits (V,), ...) with one rng.random()."""
    cum = np.cumsum(next_probs(logits, temperature, top_k, top_p))
    # searchsorted, unlike rng.choice, tolerates the NaNs of a broken model
    return min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), cum.size - 1)


BLOCK = 1024  # characters of noise drawn at a time
# The Gumbel path scales the noise by T in the model's dtype: a float64 uniform gives
# g < 40, so T * g fits float32 (3.4e38) up to T = 1e36. Above it, draw() samples
# instead (T divides the logits in float64), where no noise can overflow to inf (an
# inf on many entries would make argmax pick the first of them, not a fair draw).
GUMBEL_MAX_TEMPERATURE = 1e36


def _gumbel(temperature, top_k, top_p):
    """Whether plain temperature sampling takes the Gumbel-max path."""
    return 0 < temperature <= GUMBEL_MAX_TEMPERATURE and top_k == 0 and top_p >= 1.0


def _gumbel_sample(stepper, idx, n, rng, temperature):
    """Plain temperature sampling by the Gumbel-max trick.

    argmax(logits / T + g) with g ~ Gumbel(0, 1) per entry is an exact draw from
    softmax(logits / T); scaled by T this is argmax(logits + b_y + T g), so the
    decoder bias and the noise are added together ahead of time, a block at once,
    and past the state update each character costs one product, one add and
    one argmax. Noise is drawn in fixed blocks, so a longer run starts with the
    same text as a shorter one.
    """
    by, logits = stepper.by, stepper.logits[0]
    out = stepper.logits
    for i in range(n):
        if i % BLOCK == 0:
            noise = stepper.xp.asarray(rng.gumbel(size=(BLOCK, by.size)) * temperature)
            noise = (noise + by).astype(by.dtype)
        stepper.advance(idx)
        stepper.decode(out)
        logits += noise[i % BLOCK]
        idx = int(logits.argmax())
        yield idx


# -- many streams at once ------------------------------------------------------

def primed(spec, params, seed_ids, state=None):
    """A Stepper of K streams that has read all but the last of each stream's seed.

    seed_ids (K, T0) with T0 >= 1, one row per stream (rows may differ); state is
    one stream's carried state (L, S*H), shared by all, or zeros. Returns the
    stepper and the last seed id of each stream (K,), still to be fed.
    """
    seed_ids = np.asarray(seed_ids, dtype=np.intp)
    if seed_ids.ndim != 2 or seed_ids.shape[1] == 0:
        raise ValueError("every stream needs at least one seed character")
    K = seed_ids.shape[0]
    if state is not None:
        state = np.repeat(np.reshape(state, spec.state_shape(1)), K, axis=1)
    stepper = Stepper(spec, params, state, streams=K)
    for ids in seed_ids[:, :-1].T:  # one product per layer per step for all K streams
        stepper.advance(ids)
    return stepper, seed_ids[:, -1]


def log_softmax_at(logits, ids):
    """log softmax(logits)[i, ids[i]] for each row of logits (K, V), in float64."""
    return layers.log_probs(logits.astype(np.float64))[np.arange(len(ids)), ids]


def seed_log_probs(spec, params, seed_ids, state=None):
    """Log-probabilities (T0 - 1,) of seed_ids[1:], each given the ids before it and
    the carried state (L, S*H) of one stream (or zeros): what eval scores, from one
    forward pass over the seed."""
    ids = np.asarray(seed_ids)
    if len(ids) < 2:
        return np.zeros(0)
    xp, dtype = xp_of(params["Whh0"]), params["Whh0"].dtype
    if state is None:
        s0 = model.zero_state(spec, 1, dtype, xp)
    else:
        s0 = xp.asarray(state, dtype=dtype).reshape(spec.state_shape(1))
    logits, _, _ = model.forward(spec, params, xp.asarray(ids[:-1, None]), s0)
    return log_softmax_at(to_host(logits[:, 0]), ids[1:])


class Batch:
    """K samples: ids (K, n) (int32), lengths (K,) of each sample (shorter when it
    stopped), stopped (K,) bool, logprobs (K, n) float64 under the model or None."""

    def __init__(self, ids, lengths, stopped, logprobs):
        self.ids, self.lengths, self.stopped, self.logprobs = ids, lengths, stopped, logprobs

    def sample(self, i):
        """The ids of sample i (a list) and their log-probabilities (an array or None)."""
        n = int(self.lengths[i])
        lp = None if self.logprobs is None else self.logprobs[i, :n]
        return self.ids[i, :n].tolist(), lp


def generate_batch(spec, params, seed_ids, n, rngs, state=None, temperature=1.0, top_k=0,
                   top_p=1.0, stop_ids=(), scores=False):
    """K samples drawn side by side, one product per layer per step for all of them.

    seed_ids (K, T0): each stream's seed; rngs: one numpy Generator per stream.
    Stream i consumes rngs[i] exactly as ``generate`` consumes its rng (Gumbel noise
    in blocks of BLOCK characters, or one uniform per character), so with the same
    seed, state and generator it yields the same text as a single ``generate``,
    up to the rounding of a K-row product against a one-row one (which can only
    matter in a near-tie). A stream stops after n characters or once its
    characters end with stop_ids (included). With scores, each character's
    log-probability under the model (temperature 1, no filtering) is recorded.
    """
    stepper, last = primed(spec, params, seed_ids, state)
    K, V = len(last), spec.vocab_size
    if len(rngs) != K:
        raise ValueError(f"{K} streams need {K} generators, got {len(rngs)}")
    ids = np.zeros((K, n), dtype=np.int32)
    logprobs = np.zeros((K, n)) if scores else None
    lengths = np.full(K, n)
    stopped = np.zeros(K, dtype=bool)
    stop = np.asarray(stop_ids, dtype=np.int32)
    gumbel = _gumbel(temperature, top_k, top_p)
    by, out = stepper.by, stepper.logits
    for t in range(n):
        if gumbel:
            if t % BLOCK == 0:  # (BLOCK, K, V), each stream's block drawn as generate draws it
                noise = np.stack([(rng.gumbel(size=(BLOCK, V)) * temperature + by)
                                  .astype(by.dtype) for rng in rngs], axis=1)
            stepper.advance(last)
            stepper.decode(out)
            clean = out + by if scores else None
            out += noise[t % BLOCK]
            last = out.argmax(axis=1)
        else:
            clean = stepper.step(last)
            if temperature == 0:
                last = clean.argmax(axis=1)
            else:
                last = np.array([draw(row, rng, temperature, top_k, top_p)
                                 for row, rng in zip(clean, rngs)])
        ids[:, t] = last
        if scores:
            logprobs[:, t] = log_softmax_at(clean, last)
        if stop.size and t + 1 >= stop.size:
            hit = ~stopped & (ids[:, t + 1 - stop.size:t + 1] == stop).all(axis=1)
            lengths[hit] = t + 1
            stopped |= hit
            if stopped.all():
                break
    return Batch(ids, lengths, stopped, logprobs)
