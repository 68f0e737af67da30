"""The tanh RNN cell (the default): h_t = tanh(a_t + h_{t-1} W_hh).

a_t = x_t W_xh + b_h comes in precomputed for all steps. State per layer: h (N, H).
"""
import numpy as np

from . import weights
from ..backend import xp_of

NAME, TITLE = "rnn", "tanh RNN"
GATES = 1
STATE = ("h",)
ADDITIVE = True
INITS = ("scaled", "gaussian", "identity", "orthogonal")


def extra_shapes(H):
    return {}


def init_extra(name, rng, H, init):
    raise KeyError(name)  # no extras


def init_recurrent(rng, H, init):
    """identity: W_hh = I (Le et al., 2015's IRNN)."""
    return weights.recurrent(rng, H, GATES, init, identity=np.eye)


def init_bias(H):
    return np.zeros(H)


def _update(pre, out):
    """The element-wise half of a step: out = tanh(pre)."""
    return np.tanh(pre, out=out)


def forward(a, s0, Whh, extra=None):
    """a (T, N, H), s0 (N, H), Whh (H, H) -> h (T, N, H), hT (N, H), cache.

    Fused (one output buffer, in-place ops) rather than a loop of ``step``, so no
    step allocates.
    """
    T = a.shape[0]
    h = np.empty_like(a)
    prev = s0
    for t in range(T):
        ht = h[t]
        np.matmul(prev, Whh, out=ht)
        ht += a[t]
        _update(ht, ht)
        prev = ht
    return h, h[-1].copy(), (s0, Whh, h)


def backward(dh, cache):
    """dh (T, N, H) -> da (T, N, H), ds0 (N, H), dWhh (H, H), {}.

    The reverse loop carries only the (N, H) gradient through time; the weight
    gradient is one (H, T*N) x (T*N, H) product afterwards instead of T small ones.
    """
    h0, Whh, h = cache
    T, N, H = h.shape
    xp = xp_of(h)
    da = np.multiply(h, h)
    np.subtract(1, da, out=da)  # tanh' = 1 - h^2 for all steps at once; becomes da below
    # BLAS runs a product with a transposed view ~30% slower than with a contiguous
    # copy at these shapes; one (H, H) copy per call pays for itself many times over.
    WhhT = xp.ascontiguousarray(Whh.T)
    carry = xp.zeros((N, H), dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        dat = da[t]
        np.add(dh[t], carry, out=carry)
        np.multiply(dat, carry, out=dat)  # backprop through tanh
        np.matmul(dat, WhhT, out=carry)
    dWhh = h0.T @ da[0]
    if T > 1:
        dWhh += h[:-1].reshape(-1, H).T @ da[1:].reshape(-1, H)
    return da, carry, dWhh, {}


def step(a, hw, s, extra=None):
    """One step on s (N, H) in place; returns h (N, H) (a view of s).

    ``a`` is scratch: it may be overwritten."""
    if hw is not None:
        a += hw
    return _update(a, s)


def bind_step(a, hw, extra=None, scaled=False):
    """step(a, hw, s, extra) as a function of s alone, for a sampler's fixed scratch
    (never scaled: sampling_scale is None)."""
    return lambda s: step(a, hw, s, extra)


def sampling_scale(H):
    return None  # the sampler takes the weights as they are
