"""The GRU cell, in the variant cuDNN and PyTorch use (Cho et al. 2014, reset after
the product):

    [hr, hz, hn] = h_{t-1} W_hh            (one (N, H) x (H, 3H) product)
    r = sigmoid(a_r + hr)      z = sigmoid(a_z + hz)
    n = tanh(a_n + r * (hn + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

Why this variant and not the original, which resets before the product,
n = tanh(a_n + (r * h_{t-1}) W_hn): there all three recurrent products cannot be
one, since W_hn's input waits for r; a second sequential (N, H) x (H, H) product
per step would cost about a third more on the critical path. It also makes rnngen's
weights line up with cuDNN's and PyTorch's GRUs. The reset gate multiplies the
recurrent bias b_hn too, so it is a parameter of its own (bhn{l}, (H,)); the other
biases fold into b_h. State per layer: h (N, H).
"""
import numpy as np

from . import weights
from .. import layers
from ..backend import xp_of

NAME, TITLE = "gru", "GRU"
GATES = 3
STATE = ("h",)
ADDITIVE = False
INITS = ("scaled", "gaussian", "orthogonal")


def extra_shapes(H):
    return {"bhn": (H,)}


def init_extra(name, rng, H, init):
    """b_hn starts at zero, as the other biases do."""
    return np.zeros(H)


def init_recurrent(rng, H, init):
    return weights.recurrent(rng, H, GATES, init)


def init_bias(H):
    return np.zeros(3 * H)


def _update(a, hw, bhn, h_prev, gates, hn, h):
    """The element-wise half of a step. a (N, 3H) input part, hw (N, 3H) the
    recurrent product; writes the activated r, z, n into gates (N, 3H), hn + b_hn
    into hn (N, H) and the new state into h (N, H). hw is overwritten. The sampler's
    step, which keeps neither, passes a itself as gates and hw's n block as hn."""
    return _update_views(_views(a, hw, gates, hn), bhn, h_prev, h)


def _views(a, hw, gates, hn):
    """The blocks _update_views reads and writes: views of a, hw (N, 3H), gates
    (N, 3H) and hn (N, H)."""
    H = hn.shape[-1]
    return (a[:, :2 * H], hw[:, :2 * H], gates[:, :2 * H], gates[:, :H], gates[:, H:2 * H],
            gates[:, 2 * H:], a[:, 2 * H:], hw[:, 2 * H:], hw[:, :H], hn)


def _update_views(views, bhn, h_prev, h, halved=False):
    """_update on the views _views made; halved: the r and z columns of a and hw
    come halved (sampling_scale), so the sigmoid skips its own halving."""
    a_rz, hw_rz, rz, r, z, n, a_n, hw_n, scratch, hn = views
    np.add(a_rz, hw_rz, out=rz)
    (layers.sigmoid_of_half if halved else layers.sigmoid)(rz, out=rz)
    np.add(hw_n, bhn, out=hn)
    np.multiply(r, hn, out=hw_n)  # hw's n block is free once hn is kept
    np.add(a_n, hw_n, out=n)
    np.tanh(n, out=n)
    # h = n + z (h_prev - n), written so that h may be h_prev itself
    np.subtract(h_prev, n, out=scratch)
    scratch *= z
    np.add(n, scratch, out=h)
    return h


def forward(a, s0, Whh, extra):
    """a (T, N, 3H), s0 (N, H), Whh (H, 3H), extra {"bhn": (H,)}
    -> h (T, N, H), hT (N, H), cache."""
    T, N, G = a.shape
    H = G // 3
    xp = xp_of(a)
    bhn = extra["bhn"]
    gates = np.empty_like(a)
    hn = xp.empty((T, N, H), dtype=a.dtype)
    hs = xp.empty((T + 1, N, H), dtype=a.dtype)  # h_{t-1} for each step, then h_T
    hs[0] = s0
    hw = xp.empty((N, G), dtype=a.dtype)
    for t in range(T):
        np.matmul(hs[t], Whh, out=hw)
        _update(a[t], hw, bhn, hs[t], gates[t], hn[t], hs[t + 1])
    h = hs[1:]
    return h, h[-1].copy(), (Whh, gates, hn, hs)


def backward(dh, cache):
    """dh (T, N, H) -> da (T, N, 3H), ds0 (N, H), dWhh (H, 3H), {"bhn": (H,)}.

    da is the forward's gate buffer, overwritten (the cache serves one backward pass):
    each gate's slot becomes its pre-activation's gradient once the gate is read for
    the last time, in the order of operations a separate buffer would take.
    """
    Whh, gates, hn, hs = cache
    T, N, H = hn.shape
    xp = xp_of(hn)
    dhw = xp.empty((T, N, 3 * H), dtype=hn.dtype)  # gradient reaching h_{t-1} W_hh
    carry = xp.zeros((N, H), dtype=hn.dtype)
    dhT = xp.empty((H, N), dtype=hn.dtype)
    tmp, tmp2, tmp3 = (xp.empty((N, H), dtype=hn.dtype) for _ in range(3))
    for t in range(T - 1, -1, -1):
        g, dw = gates[t], dhw[t]
        r, z, n = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
        np.add(dh[t], carry, out=carry)  # the whole dL/dh_t
        np.subtract(1, z, out=tmp)  # 1 - z, for both dz and dn
        np.subtract(hs[t], n, out=tmp2)  # h_prev - n
        tmp2 *= carry
        # dn (pre-activation) = dh (1 - z) (1 - n^2)
        np.multiply(tmp, carry, out=tmp3)
        np.multiply(n, n, out=n)
        np.subtract(1, n, out=n)
        n *= tmp3
        # dz = dh (h_prev - n) z (1 - z); dh z flows on to h_{t-1} directly
        tmp *= z
        carry *= z
        np.multiply(tmp2, tmp, out=z)
        # the n gate reads r * (hn + b_hn): dr = dn hn r (1 - r), d(hn) = dn r
        np.subtract(1, r, out=tmp)
        tmp *= r
        np.multiply(n, r, out=dw[:, 2 * H:])
        np.multiply(n, hn[t], out=r)
        r *= tmp
        dw[:, :2 * H] = g[:, :2 * H]
        # and through W_hh, as W_hh (dL/dhw_t)^T, (H, 3H) x (3H, N) (see lstm.backward)
        np.matmul(Whh, dw.T, out=dhT)
        carry += dhT.T
    dWhh = hs[0].T @ dhw[0]
    if T > 1:
        dWhh += hs[1:T].reshape(-1, H).T @ dhw[1:].reshape(-1, 3 * H)
    dbhn = dhw[:, :, 2 * H:].sum(axis=(0, 1))
    return gates, carry, dWhh, {"bhn": dbhn}


def step(a, hw, s, extra):
    """One step on s (N, H) in place; returns h (N, H) (a view of s). ``hw`` is
    required (the cell is not ADDITIVE); both ``a`` and ``hw`` are overwritten, as
    the step's scratch."""
    return bind_step(a, hw, extra)(s)


def bind_step(a, hw, extra, scaled=False):
    """step(a, hw, s, extra) as a function of s alone, for a sampler whose scratch
    a, hw (N, 3H) stays put: its views are made once here, not every step (a one-row
    step is a dozen calls of a few microseconds, and ten views cost as much again).
    scaled: a and hw come with sampling_scale's columns halved."""
    H = hw.shape[-1] // GATES
    views, bhn = _views(a, hw, a, hw[:, 2 * H:]), extra["bhn"]
    return lambda s: _update_views(views, bhn, s, s, scaled)


def sampling_scale(H):
    """(3H,): the sampler halves the r and z columns of its weights once, so that a
    step's sigmoid(x) = 0.5 tanh(x / 2) + 0.5 finds x / 2 ready (one call less a
    character; exact, see sampling.Stepper)."""
    return np.repeat([0.5, 0.5, 1.0], H)
