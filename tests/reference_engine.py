"""The engine's LSTM and GRU cells and its Adam as they were before they were rewritten
for speed (in-place gate gradients, the W_hh dA^T product, Adam through scratch arrays),
kept verbatim as the reference the rewrites are tested against
(tests/test_reference_engine.py); only the names are prefixed and the device lookup fixed
to NumPy."""
import math

import numpy as np


def sigmoid(x, out):
    """Logistic function into out, as 0.5 + 0.5 tanh(x/2): no overflow for any x."""
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _lstm_update(pre, c_prev, c, tc, h):
    """The element-wise half of a step, in place: pre (N, 4H) becomes the
    activated gates; c, tanh(c) and h (N, H) are written."""
    H = c.shape[-1]
    sigmoid(pre[:, :3 * H], out=pre[:, :3 * H])
    np.tanh(pre[:, 3 * H:], out=pre[:, 3 * H:])
    i, f, o, g = pre[:, :H], pre[:, H:2 * H], pre[:, 2 * H:3 * H], pre[:, 3 * H:]
    np.multiply(f, c_prev, out=c)
    np.multiply(i, g, out=tc)  # tc as scratch before it holds tanh(c)
    c += tc
    np.tanh(c, out=tc)
    np.multiply(o, tc, out=h)
    return h


def lstm_forward(a, s0, Whh, extra=None):
    """a (T, N, 4H), s0 (N, 2H), Whh (H, 4H) -> h (T, N, H), sT (N, 2H), cache."""
    T, N, G = a.shape
    H = G // 4
    xp = np
    gates = np.empty_like(a)  # activated i, f, o, g per step
    c = xp.empty((T, N, H), dtype=a.dtype)
    tc = np.empty_like(c)
    h = np.empty_like(c)
    h_prev, c_prev = s0[:, :H], s0[:, H:]
    for t in range(T):
        gt = gates[t]
        np.matmul(h_prev, Whh, out=gt)
        gt += a[t]
        _lstm_update(gt, c_prev, c[t], tc[t], h[t])
        h_prev, c_prev = h[t], c[t]
    sT = xp.concatenate([h[-1], c[-1]], axis=1)
    return h, sT, (s0, Whh, gates, c, tc, h)


def lstm_backward(dh, cache):
    """dh (T, N, H) -> da (T, N, 4H), ds0 (N, 2H), dWhh (H, 4H), {}.

    One reverse loop carries dh and dc through time; dW_hh is one product after it.
    """
    s0, Whh, gates, c, tc, h = cache
    T, N, H = h.shape
    xp = np
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


def lstm_step(a, hw, s, extra=None):
    """One step on s (N, 2H) in place; returns h (N, H) (a view of s).

    ``a`` is scratch: it may be overwritten."""
    H = s.shape[-1] // 2
    if hw is not None:
        a += hw
    h, c = s[:, :H], s[:, H:]
    # c is updated in place (each element reads its own c_prev first); the i block of
    # ``a`` is the scratch for tanh(c), as i is no longer needed by then
    return _lstm_update(a, c, c, a[:, :H], h)


def _gru_update(a, hw, bhn, h_prev, gates, hn, h):
    """The element-wise half of a step. a (N, 3H) input part, hw (N, 3H) the
    recurrent product; writes the activated r, z, n into gates (N, 3H), hn + b_hn
    into hn (N, H) and the new state into h (N, H). hw is overwritten. The sampler's
    step, which keeps neither, passes a itself as gates and hw's n block as hn."""
    H = h.shape[-1]
    rz = gates[:, :2 * H]
    np.add(a[:, :2 * H], hw[:, :2 * H], out=rz)
    sigmoid(rz, out=rz)
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    np.add(hw[:, 2 * H:], bhn, out=hn)
    np.multiply(r, hn, out=hw[:, 2 * H:])  # hw's n block is free once hn is kept
    np.add(a[:, 2 * H:], hw[:, 2 * H:], out=n)
    np.tanh(n, out=n)
    # h = n + z (h_prev - n), written so that h may be h_prev itself
    np.subtract(h_prev, n, out=hw[:, :H])
    hw[:, :H] *= z
    np.add(n, hw[:, :H], out=h)
    return h


def gru_forward(a, s0, Whh, extra):
    """a (T, N, 3H), s0 (N, H), Whh (H, 3H), extra {"bhn": (H,)}
    -> h (T, N, H), hT (N, H), cache."""
    T, N, G = a.shape
    H = G // 3
    xp = np
    bhn = extra["bhn"]
    gates = np.empty_like(a)
    hn = xp.empty((T, N, H), dtype=a.dtype)
    h = np.empty_like(hn)
    hw = xp.empty((N, G), dtype=a.dtype)
    prev = s0
    for t in range(T):
        np.matmul(prev, Whh, out=hw)
        _gru_update(a[t], hw, bhn, prev, gates[t], hn[t], h[t])
        prev = h[t]
    return h, h[-1].copy(), (s0, Whh, gates, hn, h)


def gru_backward(dh, cache):
    """dh (T, N, H) -> da (T, N, 3H), ds0 (N, H), dWhh (H, 3H), {"bhn": (H,)}."""
    s0, Whh, gates, hn, h = cache
    T, N, H = h.shape
    xp = np
    WhhT = xp.ascontiguousarray(Whh.T)  # see rnn.backward
    da = np.empty_like(gates)
    dhw = np.empty_like(gates)  # gradient reaching h_{t-1} W_hh
    carry = xp.zeros((N, H), dtype=h.dtype)
    tmp = xp.empty((N, H), dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        g = gates[t]
        r, z, n = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
        d, dw = da[t], dhw[t]
        dr, dz, dn = d[:, :H], d[:, H:2 * H], d[:, 2 * H:]
        h_prev = h[t - 1] if t > 0 else s0
        np.add(dh[t], carry, out=carry)  # the whole dL/dh_t
        np.subtract(1, z, out=dn)  # 1 - z, for both dz and dn
        # dz = dh (h_prev - n) z (1 - z)
        np.subtract(h_prev, n, out=dz)
        dz *= carry
        np.multiply(dn, z, out=tmp)
        dz *= tmp
        # dn (pre-activation) = dh (1 - z) (1 - n^2)
        dn *= carry
        np.multiply(n, n, out=tmp)
        np.subtract(1, tmp, out=tmp)
        dn *= tmp
        # the n gate reads r * (hn + b_hn): dr = dn hn, d(hn) = dn r
        np.multiply(dn, hn[t], out=dr)
        np.subtract(1, r, out=tmp)
        tmp *= r
        dr *= tmp
        dw[:, :2 * H] = d[:, :2 * H]
        np.multiply(dn, r, out=dw[:, 2 * H:])
        # what flows on to h_{t-1}: directly through z, and through W_hh
        carry *= z
        np.matmul(dw, WhhT, out=tmp)
        carry += tmp
    dWhh = s0.T @ dhw[0]
    if T > 1:
        dWhh += h[:-1].reshape(-1, H).T @ dhw[1:].reshape(-1, 3 * H)
    dbhn = dhw[:, :, 2 * H:].sum(axis=(0, 1))
    return da, carry, dWhh, {"bhn": dbhn}


def gru_step(a, hw, s, extra):
    """One step on s (N, H) in place; returns h (N, H) (a view of s). ``hw`` is
    required (the cell is not ADDITIVE); both ``a`` and ``hw`` are overwritten, as
    the step's scratch."""
    H = s.shape[-1]
    return _gru_update(a, hw, extra["bhn"], s, a, hw[:, 2 * H:], s)


def adam(w, dw, config):
    """Adam with bias correction; ``weight_decay`` > 0 makes it AdamW (decoupled)."""
    b1, b2 = config.get("beta1", 0.9), config.get("beta2", 0.999)
    m = config.setdefault("m", np.zeros_like(w))
    v = config.setdefault("v", np.zeros_like(w))
    t = config["t"] = config.get("t", 0) + 1
    lr = config["learning_rate"]
    m *= b1
    m += (1 - b1) * dw
    v *= b2
    v += (1 - b2) * (dw * dw)
    step = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    wd = config.get("weight_decay", 0.0)
    if wd and w.ndim > 1:  # decay weights, not biases
        w *= 1 - lr * wd
    w -= step * m / (np.sqrt(v) + config.get("epsilon", 1e-8))
    return w, config
