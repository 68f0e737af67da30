"""The LSTM cell (Hochreiter & Schmidhuber 1997, with a forget gate as char-rnn uses).

Gates i, f, o, g are the four (N, H) column blocks of one (N, 4H) pre-activation
a_t + h_{t-1} W_hh, in that order (as torch-rnn):
    i, f, o = sigmoid(.)   g = tanh(.)
    c_t = f * c_{t-1} + i * g       h_t = o * tanh(c_t)
State per layer: [h | c] (N, 2H). The forget gate's bias starts at 1, so the
cell remembers by default until it learns otherwise (Gers et al., 2000).
"""
import numpy as np

from . import weights
from .. import layers
from ..backend import xp_of

NAME, TITLE = "lstm", "LSTM"
GATES = 4
STATE = ("h", "c")
ADDITIVE = True
INITS = ("scaled", "gaussian", "orthogonal")


def extra_shapes(H):
    return {}


def init_extra(name, rng, H, init):
    raise KeyError(name)  # no extras


def init_recurrent(rng, H, init):
    return weights.recurrent(rng, H, GATES, init)


def init_bias(H):
    b = np.zeros(4 * H)
    b[H:2 * H] = 1.0  # forget gate
    return b


def _update(pre, c_prev, c, tc, h):
    """The element-wise half of a step, in place: pre (N, 4H) becomes the
    activated gates; c, tanh(c) and h (N, H) are written."""
    H = c.shape[-1]
    layers.sigmoid(pre[:, :3 * H], out=pre[:, :3 * H])
    np.tanh(pre[:, 3 * H:], out=pre[:, 3 * H:])
    i, f, o, g = pre[:, :H], pre[:, H:2 * H], pre[:, 2 * H:3 * H], pre[:, 3 * H:]
    np.multiply(f, c_prev, out=c)
    np.multiply(i, g, out=tc)  # tc as scratch before it holds tanh(c)
    c += tc
    np.tanh(c, out=tc)
    np.multiply(o, tc, out=h)
    return h


def forward(a, s0, Whh, extra=None):
    """a (T, N, 4H), s0 (N, 2H), Whh (H, 4H) -> h (T, N, H), sT (N, 2H), cache."""
    T, N, G = a.shape
    H = G // 4
    xp = xp_of(a)
    gates = np.empty_like(a)  # activated i, f, o, g per step
    c = xp.empty((T, N, H), dtype=a.dtype)
    tc = np.empty_like(c)
    h = np.empty_like(c)
    h_prev, c_prev = s0[:, :H], s0[:, H:]
    for t in range(T):
        gt = gates[t]
        np.matmul(h_prev, Whh, out=gt)
        gt += a[t]
        _update(gt, c_prev, c[t], tc[t], h[t])
        h_prev, c_prev = h[t], c[t]
    sT = xp.concatenate([h[-1], c[-1]], axis=1)
    return h, sT, (s0, Whh, gates, c, tc, h)


def backward(dh, cache):
    """dh (T, N, H) -> da (T, N, 4H), ds0 (N, 2H), dWhh (H, 4H), {}.

    One reverse loop carries dh and dc through time; dW_hh is one product after it.
    """
    s0, Whh, gates, c, tc, h = cache
    T, N, H = h.shape
    xp = xp_of(h)
    WhhT = xp.ascontiguousarray(Whh.T)  # see rnn.backward
    da = np.empty_like(gates)
    dh_carry = xp.zeros((N, H), dtype=h.dtype)
    dc = xp.zeros((N, H), dtype=h.dtype)
    tmp = xp.empty((N, H), dtype=h.dtype)
    tmp3 = xp.empty((N, 3 * H), dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        g = gates[t]
        i, f, o, gg = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
        d = da[t]
        di, df, do, dg = d[:, :H], d[:, H:2 * H], d[:, 2 * H:3 * H], d[:, 3 * H:]
        c_prev = c[t - 1] if t > 0 else s0[:, H:]
        np.add(dh[t], dh_carry, out=dh_carry)  # the whole dL/dh_t
        np.multiply(dh_carry, tc[t], out=do)  # dL/do
        # dc += dh * o * (1 - tanh(c)^2): backprop through h = o tanh(c)
        np.multiply(tc[t], tc[t], out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dh_carry
        dc += tmp
        np.multiply(dc, gg, out=di)
        np.multiply(dc, i, out=dg)
        np.multiply(dc, c_prev, out=df)
        dc *= f  # what flows on to c_{t-1}
        # through the nonlinearities: sigmoid' = s (1 - s), tanh' = 1 - g^2
        sig = g[:, :3 * H]
        np.subtract(1, sig, out=tmp3)
        tmp3 *= sig
        d[:, :3 * H] *= tmp3
        np.multiply(gg, gg, out=tmp)
        np.subtract(1, tmp, out=tmp)
        dg *= tmp
        np.matmul(d, WhhT, out=dh_carry)
    ds0 = xp.concatenate([dh_carry, dc], axis=1)
    dWhh = s0[:, :H].T @ da[0]
    if T > 1:
        dWhh += h[:-1].reshape(-1, H).T @ da[1:].reshape(-1, 4 * H)
    return da, ds0, dWhh, {}


def step(a, hw, s, extra=None):
    """One step on s (N, 2H) in place; returns h (N, H) (a view of s).

    ``a`` is scratch: it may be overwritten."""
    H = s.shape[-1] // 2
    if hw is not None:
        a += hw
    h, c = s[:, :H], s[:, H:]
    # c is updated in place (each element reads its own c_prev first); the i block of
    # ``a`` is the scratch for tanh(c), as i is no longer needed by then
    return _update(a, c, c, a[:, :H], h)
