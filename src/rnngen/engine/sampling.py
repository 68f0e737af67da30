"""Generating characters one at a time from a trained model.

Sampling is a loop of matrix-vector products on one stream, so the number of NumPy
calls per character matters as much as their size: the stepper folds the layer-0
bias into the lookup table and joins each upper layer's two products into one by
stacking [W_xh; W_hh].
"""
import numpy as np

from .model import model_shape, skip_layers


class Stepper:
    """Advance one stream of the model character by character.

    ``h`` (L, H) is the hidden state it starts from (zeros when None).
    """

    def __init__(self, params, h=None):
        V, H, L = model_shape(params)
        dtype = params["Whh0"].dtype
        self.table = params["Wxh0"] + params["bh0"]  # (V, H): x W_xh + b_h for each id
        self.Whh0 = params["Whh0"]
        # layer l > 0 reads [h_{l-1}, h_l] (2H,) through [W_xh; W_hh] (2H, H)
        self.stacked = [np.vstack([params[f"Wxh{l}"], params[f"Whh{l}"]]) for l in range(1, L)]
        self.biases = [params[f"bh{l}"] for l in range(1, L)]
        self.Why, self.by = params["Why"], params["by"]
        self.skips = [(l, params[f"Wsy{l}"]) for l in skip_layers(params)]
        # joint[l] is [h_{l-1}, h_l] for l >= 1; joint[l][H:] is layer l's state
        self.joint = np.zeros((L, 2 * H), dtype=dtype)
        if h is not None:
            self.joint[:, H:] = h
        self.H, self.L = H, L
        self.logits = np.empty(V, dtype=dtype)

    @property
    def h(self):
        """The current hidden state, (L, H)."""
        return self.joint[:, self.H:].copy()

    def advance(self, idx):
        """Feed character id ``idx``: update the hidden state only."""
        H, joint = self.H, self.joint
        h = joint[0, H:]
        pre = h @ self.Whh0
        pre += self.table[idx]
        np.tanh(pre, out=h)
        for l in range(1, self.L):
            joint[l, :H] = joint[l - 1, H:]
            pre = joint[l] @ self.stacked[l - 1]
            pre += self.biases[l - 1]
            np.tanh(pre, out=joint[l, H:])

    def step(self, idx):
        """Feed character id ``idx``; returns the logits (V,) for the next one."""
        self.advance(idx)
        self.decode(self.logits)
        self.logits += self.by
        return self.logits

    def decode(self, out):
        """The logits less the decoder bias, (V,), into ``out``."""
        np.dot(self.joint[-1, self.H:], self.Why, out=out)
        for l, W in self.skips:  # skip connections: lower layers feed the decoder too
            out += self.joint[l, self.H:] @ W


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


def generate(params, seed_ids, n, rng, h=None, temperature=1.0, top_k=0, top_p=1.0):
    """Yield ``n`` character ids that follow ``seed_ids`` (at least one id).

    The seed is fed through the model first, starting from hidden state ``h``
    (L, H) or zeros. temperature 0 takes the most likely character each step.
    """
    if len(seed_ids) == 0:
        raise ValueError("generate needs at least one seed character")
    stepper = Stepper(params, h)
    for idx in seed_ids[:-1]:
        stepper.advance(idx)
    if temperature > 0 and top_k == 0 and top_p >= 1.0:
        yield from _gumbel_sample(stepper, seed_ids[-1], n, rng, temperature)
        return
    logits = stepper.step(seed_ids[-1])
    for i in range(n):
        if temperature == 0:
            idx = int(np.argmax(logits))
        else:
            cum = np.cumsum(next_probs(logits, temperature, top_k, top_p))
            # searchsorted, unlike rng.choice, tolerates the NaNs of a broken model
            idx = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")),
                      cum.size - 1)
        yield idx
        logits = stepper.step(idx)


BLOCK = 1024  # characters of noise drawn at a time


def _gumbel_sample(stepper, idx, n, rng, temperature):
    """Plain temperature sampling by the Gumbel-max trick.

    argmax(logits / T + g) with g ~ Gumbel(0, 1) per entry is an exact draw from
    softmax(logits / T); scaled by T this is argmax(logits + b_y + T g), so the
    decoder bias and the noise are added together ahead of time, a block at once,
    and past the hidden-state update each character costs one product, one add and
    one argmax. Noise is drawn in fixed blocks, so a longer run starts with the
    same text as a shorter one.
    """
    by, logits = stepper.by, stepper.logits
    for i in range(n):
        if i % BLOCK == 0:
            noise = (rng.gumbel(size=(BLOCK, by.size)) * temperature + by).astype(by.dtype)
        stepper.advance(idx)
        stepper.decode(logits)
        logits += noise[i % BLOCK]
        idx = int(logits.argmax())
        yield idx
