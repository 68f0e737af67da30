"""The LSTM cell (Hochreiter & Schmidhuber 1997, with a forget gate as char-rnn uses).

Gates i, f, o, g are the four (N, H) column blocks of one (N, 4H) pre-activation
a_t + h_{t-1} W_hh, in that order (as torch-rnn):
    i, f, o = sigmoid(.)   g = tanh(.)
    c_t = f * c_{t-1} + i * g       h_t = o * tanh(c_t)
State per layer: [h | c] (N, 2H). The forget gate's bias starts at 1, so the
cell remembers by default until it learns otherwise (Gers et al., 2000).

Speed: a step's four activations are one tanh over the (N, 4H) block, since
sigmoid(x) = 0.5 tanh(x / 2) + 0.5 once the i, f, o columns are halved (exact: a
power of two). The backward pass writes each gate's gradient over that gate's
activation in the forward's buffer once nothing else reads it, in the same order of
operations as a separate buffer would take, so the gradients are bit for bit those
of the plain loop.
"""
import numpy as np

from . import weights
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


def _activate(pre):
    """pre (N, 4H) -> the gates i, f, o, g in place, by one tanh: sigmoid(x) is
    0.5 tanh(0.5 x) + 0.5, bit for bit as init.sigmoid computes it."""
    H3 = pre.shape[-1] // 4 * 3
    pre[:, :H3] *= 0.5
    np.tanh(pre, out=pre)
    sig = pre[:, :H3]
    sig *= 0.5
    sig += 0.5


def _update(g, c_prev, c, tc, h):
    """c, tanh(c) and h (N, H) from the activated gates g (N, 4H)."""
    H = c.shape[-1]
    i, f, o, gg = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
    np.multiply(f, c_prev, out=c)
    np.multiply(i, gg, out=tc)  # tc as scratch before it holds tanh(c)
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
    hs = xp.empty((T + 1, N, H), dtype=a.dtype)  # h_{t-1} for each step, then h_T
    hs[0] = s0[:, :H]
    c_prev = s0[:, H:]
    for t in range(T):
        gt = gates[t]
        np.matmul(hs[t], Whh, out=gt)
        gt += a[t]
        _activate(gt)
        _update(gt, c_prev, c[t], tc[t], hs[t + 1])
        c_prev = c[t]
    h = hs[1:]
    sT = xp.concatenate([h[-1], c[-1]], axis=1)
    return h, sT, (s0, Whh, gates, c, tc, hs)


def backward(dh, cache):
    """dh (T, N, H) -> da (T, N, 4H), ds0 (N, 2H), dWhh (H, 4H), {}.

    One reverse loop carries dh and dc through time; dW_hh is one product after it.
    da is the forward's gate buffer, overwritten: the cache serves one backward pass.
    """
    s0, Whh, gates, c, tc, hs = cache
    T, N, H = c.shape
    xp = xp_of(c)
    dhT = xp.zeros((H, N), dtype=c.dtype)  # dL/dh_t from step t+1, transposed (see below)
    carry = xp.empty((N, H), dtype=c.dtype)
    dc = xp.zeros((N, H), dtype=c.dtype)
    tmp = xp.empty((N, H), dtype=c.dtype)
    tmp2 = xp.empty((N, H), dtype=c.dtype)
    for t in range(T - 1, -1, -1):
        g = gates[t]
        i, f, o, gg = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
        c_prev = c[t - 1] if t > 0 else s0[:, H:]
        np.add(dh[t], dhT.T, out=carry)  # the whole dL/dh_t
        # dc += dh * o * (1 - tanh(c)^2): backprop through h = o tanh(c)
        np.multiply(tc[t], tc[t], out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= carry
        dc += tmp
        # each gate's slot becomes the gradient of its pre-activation once its value
        # is read for the last time; sigmoid' = s (1 - s), tanh' = 1 - g^2
        np.subtract(1, o, out=tmp)
        tmp *= o
        np.multiply(carry, tc[t], out=o)  # dL/do
        o *= tmp
        np.subtract(1, i, out=tmp)
        tmp *= i
        np.multiply(dc, i, out=tmp2)  # dL/dg before tanh'
        np.multiply(dc, gg, out=i)  # dL/di
        i *= tmp
        np.multiply(gg, gg, out=gg)
        np.subtract(1, gg, out=gg)
        gg *= tmp2
        np.subtract(1, f, out=tmp)
        tmp *= f
        np.multiply(dc, c_prev, out=tmp2)  # dL/df
        dc *= f  # what flows on to c_{t-1}
        np.multiply(tmp2, tmp, out=f)
        # W_hh (dL/da_t)^T, (H, 4H) x (4H, N), rather than dL/da_t W_hh^T: OpenBLAS
        # runs it faster here (4% to 40% over the loop, on a shared 2-core machine),
        # with no W_hh^T to copy, for one strided add above
        np.matmul(Whh, g.T, out=dhT)
    ds0 = xp.concatenate([dhT.T, dc], axis=1)
    dWhh = hs[0].T @ gates[0]
    if T > 1:
        dWhh += hs[1:T].reshape(-1, H).T @ gates[1:].reshape(-1, 4 * H)
    return gates, ds0, dWhh, {}


def step(a, hw, s, extra=None):
    """One step on s (N, 2H) in place; returns h (N, H) (a view of s).

    ``a`` is scratch: it may be overwritten."""
    H = s.shape[-1] // 2
    if hw is not None:
        a += hw
    h, c = s[:, :H], s[:, H:]
    _activate(a)
    # c is updated in place (each element reads its own c_prev first); the i block of
    # ``a`` is the scratch for tanh(c), as i is no longer needed by then
    return _update(a, c, c, a[:, :H], h)


def bind_step(a, hw, extra=None, scaled=False):
    """step(a, hw, s, extra) as a function of s alone, for a sampler's fixed scratch
    (never scaled: sampling_scale is None)."""
    return lambda s: step(a, hw, s, extra)


def sampling_scale(H):
    return None  # the sampler takes the weights as they are
