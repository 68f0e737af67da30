"""Generating characters one step at a time from a trained model: the stepper that
advances N streams together, and the ways of choosing each next character.

Sampling is a loop of small products, so the number of NumPy calls per character
matters as much as their size: the stepper folds the layer-0 bias into the lookup
table and, for cells whose recurrent product only adds to the input's (ADDITIVE),
joins each upper layer's two products into one by stacking [W_xh; W_hh].

Rows alone or together: BLAS gives a row of an (N, H) x (H, G*H) product different
roundings depending on N and the row's place (OpenBLAS picks other kernels, and a
one-row product is a matrix-vector product). With ``rowwise`` the stepper computes
every product as N one-row products (a stack of (1, H) rows), so each row gets
exactly the numbers it gets alone, whoever else is in the batch, at some cost in
speed for large N; without it, one product serves all N rows.
"""
import copy

import numpy as np

from . import layers, model
from .backend import to_host, xp_of


class Stepper:
    """Advance N streams of the model together, one character each per step.

    ``state`` (L, N, S*H) is the carried state it starts from (zeros when None);
    it is copied, never changed. Everything stays on the parameters' device. Rows
    may join (``join``) and leave (``keep``) between steps.
    """

    def __init__(self, spec, params, state=None, streams=1, rowwise=False):
        self.spec, cell = spec, spec.cell_module
        self.cell, self.rowwise = cell, rowwise
        L = spec.num_layers
        self.dtype = params["Whh0"].dtype
        self.xp = xp = xp_of(params["Whh0"])
        self.table = params["Wxh0"] + params["bh0"]  # (V, G*H): x W_xh + b_h for each id
        self.Whh = [params[f"Whh{l}"] for l in range(L)]
        self.extras = [spec.layer_extras(params, l) for l in range(L)]
        if cell.ADDITIVE:
            # layer l > 0 reads [h_{l-1}, h_l] (N, 2H) through [W_xh; W_hh] (2H, G*H)
            self.stacked = [None] + [np.vstack([params[f"Wxh{l}"], params[f"Whh{l}"]])
                                     for l in range(1, L)]
        self.Wxh = [None] + [params[f"Wxh{l}"] for l in range(1, L)]
        self.biases = [None] + [params[f"bh{l}"] for l in range(1, L)]
        self.Why, self.by = params["Why"], params["by"]
        self.skips = [(l, params[f"Wsy{l}"]) for l in spec.skip_layers]
        self.scaled = self._scale_columns(cell.sampling_scale(spec.hidden_size))
        if state is None:
            self.state = xp.zeros(spec.state_shape(streams), dtype=self.dtype)
        else:
            self.state = xp.array(state, dtype=self.dtype).reshape(spec.state_shape(streams))
        self._buffers()

    def _scale_columns(self, scale):
        """Multiply the columns of everything that makes a step's pre-activation (the
        lookup table, W_hh, W_xh, b_h, [W_xh; W_hh]) by the cell's ``scale`` (G*H,),
        powers of two, once, where that is exact for every weight; True when done.
        A power of two commutes with the rounding of every product and sum, so the
        pre-activations come out scaled exactly, bit for bit what the cell's step
        would make of them, barring a result under the smallest normal number
        (2^-126 in float32), far below a trained model's sums. A weight that close
        to zero (caught here) keeps the plain form."""
        if scale is None:
            return False
        scale = self.xp.asarray(scale, dtype=self.dtype)
        plain = {k: getattr(self, k) for k in ("Whh", "stacked", "Wxh", "biases")
                 if hasattr(self, k)}
        plain["table"] = [self.table]
        scaled = {k: [None if W is None else W * scale for W in v] for k, v in plain.items()}
        # scaling loses bits only where a weight's result would be subnormal
        if not all(bool((S / scale == W).all()) for k in plain
                   for W, S in zip(plain[k], scaled[k]) if W is not None):
            return False
        self.table = scaled.pop("table")[0]
        for k, v in scaled.items():
            setattr(self, k, v)
        return True

    def _buffers(self):
        """The scratch sized for the current N rows, and each layer's step bound to it."""
        N, H = self.streams, self.spec.hidden_size
        xp, cell = self.xp, self.cell
        if cell.ADDITIVE:
            self.joint = xp.zeros((N, 2 * H), dtype=self.dtype)
        G = cell.GATES
        # each step's products and the cell's work go through these, not fresh arrays
        self.inputs = xp.empty((N, G * H), dtype=self.dtype)
        self.recurrent = xp.empty((N, G * H), dtype=self.dtype)
        self.logits = xp.empty((N, self.spec.vocab_size), dtype=self.dtype)
        # an ADDITIVE cell's upper layers find W_hh's part already in their input
        self._steps = [cell.bind_step(self.inputs, None if l and cell.ADDITIVE
                                      else self.recurrent, self.extras[l], self.scaled)
                       for l in range(self.spec.num_layers)]
        # one row (or one product for all rows) needs no per-row wrapper
        self._mm = np.matmul if not self.rowwise or N == 1 else self._rowwise_mm

    def sibling(self, state=None, streams=1):
        """A stepper with this one's weights (shared, not copied) and rows of its own:
        ``state`` (L, N, S*H), or zeros for ``streams`` rows."""
        new = copy.copy(self)
        xp, shape = self.xp, self.spec.state_shape(streams)
        new.state = (xp.zeros(shape, dtype=self.dtype) if state is None
                     else xp.array(state, dtype=self.dtype).reshape(shape))
        new._buffers()
        return new

    @property
    def streams(self):
        return self.state.shape[1]

    def join(self, state):
        """Add rows whose carried state is ``state`` (L, K, S*H) after the others."""
        self.state = self.xp.concatenate([self.state, self.xp.asarray(state, self.dtype)],
                                         axis=1)
        self._buffers()

    def keep(self, rows):
        """Keep only the rows ``rows`` (host indices, in the order given)."""
        self.state = self.state[:, self.xp.asarray(np.asarray(rows, dtype=np.intp))]
        self._buffers()

    def _rowwise_mm(self, x, W, out=None):
        """x (N, D) @ W (D, M) as N one-row products."""
        if out is None:
            return np.matmul(x[:, None, :], W)[:, 0]
        np.matmul(x[:, None, :], W, out=out[:, None, :])
        return out

    def advance(self, ids):
        """Feed one character id per stream (N,) (or an int for one stream)."""
        H, cell, state, mm, steps = (self.spec.hidden_size, self.cell, self.state, self._mm,
                                     self._steps)
        self._lookup(ids)  # into the scratch ``inputs``, (N, G*H)
        mm(state[0, :, :H], self.Whh[0], out=self.recurrent)
        x = steps[0](state[0])
        a = self.inputs  # layer 0's scratch serves each layer above in turn
        for l in range(1, self.spec.num_layers):
            s = state[l]
            if cell.ADDITIVE:
                joint = self.joint
                joint[:, :H] = x
                joint[:, H:] = s[:, :H]
                mm(joint, self.stacked[l], out=a)
                a += self.biases[l]
            else:
                mm(x, self.Wxh[l], out=a)
                a += self.biases[l]
                mm(s[:, :H], self.Whh[l], out=self.recurrent)
            x = steps[l](s)

    def _lookup(self, ids):
        """x W_xh + b_h for each row's id, ids (N,) on the host (or an int), into the
        scratch ``inputs`` (N, G*H), with no fresh array (one step of one stream is a
        few dozen NumPy calls, so each call's cost counts)."""
        if not isinstance(ids, np.ndarray):
            ids = np.atleast_1d(ids)
        if self.xp is not np:
            ids = self.xp.asarray(ids)
        return self.table.take(ids, 0, self.inputs)

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
        self._mm(self.state[-1, :, :H], self.Why, out=out)
        for l, W in self.skips:  # skip connections: lower layers feed the decoder too
            out += self._mm(self.state[l, :, :H], W)
        return out


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


def draw(logits, rng, temperature, top_k, top_p):
    """One id drawn from next_probs(logits (V,), ...) with one rng.random()."""
    cum = np.cumsum(next_probs(logits, temperature, top_k, top_p))
    # searchsorted, unlike rng.choice, tolerates the NaNs of a broken model
    return min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), cum.size - 1)


BLOCK = 1024  # characters of Gumbel noise drawn at a time
# Gumbel noise is scaled by T in the model's dtype: a float64 uniform gives g < 40, so
# T * g fits float32 (3.4e38) up to T = 1e36. Above it a decoding draws instead (draw:
# T divides the logits in float64), where nothing overflows to inf (an inf on many
# entries would make argmax pick the first of them, not a fair draw).
GUMBEL_MAX_TEMPERATURE = 1e36


def gumbel_block(rng, temperature, by):
    """The next BLOCK characters' noise for plain temperature sampling, (BLOCK, V) in
    by's dtype, on the host: T g + b_y with g ~ Gumbel(0, 1) per entry.

    argmax(logits / T + g) is an exact draw from softmax(logits / T); scaled by T this
    is argmax(logits + b_y + T g), so the decoder bias and the noise are added
    together ahead of time, a block at once, and past the state update each character
    costs one product, one add and one argmax. Noise comes in fixed blocks, so a
    longer run starts with the same text as a shorter one.
    """
    by = to_host(by)
    return (rng.gumbel(size=(BLOCK, by.size)) * temperature + by).astype(by.dtype)


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
