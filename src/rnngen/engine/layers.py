"""Layers as forward/backward pairs (pure NumPy).

Shapes use fixed letters: T time, N batch, D input width, H hidden, V vocabulary.
Sequences are time-major, (T, N, ...): the recurrence reads one contiguous (N, H)
slab per step, which is what the matrix products want.

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the
upstream gradient and that cache. Nothing here allocates per time step except what
a step must produce; see ``rnn_forward`` and ``rnn_backward`` for the fused loops.
"""
import numpy as np


def embedding_forward(ids, W):
    """Look up rows of W: ids (T, N) integers, W (V, H) -> out (T, N, H).

    This is x_t W_xh for one-hot x_t, without building the one-hot matrix.
    """
    out = np.take(W, ids, axis=0)
    return out, (ids, W.shape)


def embedding_backward(dout, cache):
    """dout (T, N, H) -> dW (V, H): rows of dout summed by the id that read them.

    np.add.at does this but is ten times slower; sorting the ids once and summing
    contiguous runs is exact and fast for any vocabulary size.
    """
    ids, (V, H) = cache
    flat_ids = ids.reshape(-1)
    order = np.argsort(flat_ids, kind="stable")
    rows = np.take(dout.reshape(-1, H), order, axis=0)
    ends = np.cumsum(np.bincount(flat_ids, minlength=V))
    dW = np.zeros((V, H), dtype=dout.dtype)
    start = 0
    for v in range(V):
        end = ends[v]
        if end > start:
            rows[start:end].sum(axis=0, out=dW[v])
        start = end
    return dW


def affine_forward(x, W, b=None):
    """x (..., D), W (D, M), b (M,) or None -> out (..., M)."""
    out = x.reshape(-1, W.shape[0]) @ W
    if b is not None:
        out += b
    return out.reshape(*x.shape[:-1], W.shape[1]), (x, W, b is not None)


def affine_backward(dout, cache):
    """dout (..., M) -> dx (..., D), dW (D, M), db (M,) (None without a bias)."""
    x, W, has_bias = cache
    d2 = dout.reshape(-1, W.shape[1])
    x2 = x.reshape(-1, W.shape[0])
    dx = (d2 @ np.ascontiguousarray(W.T)).reshape(x.shape)  # see rnn_backward on W.T
    return dx, x2.T @ d2, d2.sum(axis=0) if has_bias else None


def rnn_step_forward(a, prev_h, Whh):
    """One step of the recurrence: h = tanh(a + prev_h Whh).

    a (N, H) is the input's contribution x W_xh + b_h; prev_h (N, H); Whh (H, H).
    """
    h = np.tanh(a + prev_h @ Whh)
    return h, (prev_h, Whh, h)


def rnn_step_backward(dh, cache):
    """dh (N, H) -> da (N, H), dprev_h (N, H), dWhh (H, H)."""
    prev_h, Whh, h = cache
    da = dh * (1 - h * h)  # backprop through tanh
    return da, da @ Whh.T, prev_h.T @ da


def rnn_forward(a, h0, Whh):
    """The recurrence over T steps: h_t = tanh(a_t + h_{t-1} Whh).

    a (T, N, H) holds x_t W_xh + b_h for every step, computed beforehand as one
    large product: only h_{t-1} -> h_t is sequential. h0 (N, H). Returns h (T, N, H).
    Fused (one output buffer, in-place ops) rather than a loop of rnn_step_forward,
    so no step allocates.
    """
    T = a.shape[0]
    h = np.empty_like(a)
    prev = h0
    for t in range(T):
        ht = h[t]
        np.matmul(prev, Whh, out=ht)
        ht += a[t]
        np.tanh(ht, out=ht)
        prev = ht
    return h, (h0, Whh, h)


def rnn_backward(dh, cache):
    """dh (T, N, H): loss gradient reaching each h_t from above (not through time).

    Returns da (T, N, H), dh0 (N, H), dWhh (H, H). The reverse loop carries only
    the (N, H) gradient through time; the weight gradient is one (H, T*N) x (T*N, H)
    product afterwards instead of T small ones.
    """
    h0, Whh, h = cache
    T, N, H = h.shape
    da = np.multiply(h, h)
    np.subtract(1, da, out=da)  # tanh' = 1 - h^2 for all steps at once; becomes da below
    # BLAS runs a product with a transposed view ~30% slower than with a contiguous
    # copy at these shapes; one (H, H) copy per call pays for itself many times over.
    WhhT = np.ascontiguousarray(Whh.T)
    carry = np.zeros((N, H), dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        dat = da[t]
        np.add(dh[t], carry, out=carry)
        np.multiply(dat, carry, out=dat)  # backprop through tanh
        np.matmul(dat, WhhT, out=carry)
    dWhh = h0.T @ da[0]
    if T > 1:
        dWhh += h[:-1].reshape(-1, H).T @ da[1:].reshape(-1, H)
    return da, carry, dWhh


def dropout_mask(shape, p, rng, dtype):
    """Inverted dropout: keep with probability 1-p and scale by 1/(1-p).

    Each keep is drawn from 16 random bits: at training sizes a float per element
    (rng.random) takes four times as long, and two masks a step were 10% of it.
    p is rounded to a multiple of 2^-16 and the scale uses the rounded p, so the
    mask still averages exactly 1.
    """
    levels = 1 << 16
    size = int(np.prod(shape))
    # raw 64-bit words, four draws each: the fastest bits a Generator hands out
    words = rng.bit_generator.random_raw(-(-size // 4))
    bits = words.view(np.uint16)[:size].reshape(shape)
    cut = round(p * levels)
    mask = (bits >= cut).astype(dtype)
    mask *= dtype.type(levels / (levels - cut))
    return mask


def softmax_cross_entropy(logits, targets):
    """logits (M, V), targets (M,) ints -> (mean loss in nats, dlogits (M, V)).

    The loss is summed over every position and divided by M = T*N, i.e. nats per
    character, so learning rates and clipping do not depend on the batch shape.
    """
    M = logits.shape[0]
    rows = np.arange(M)
    probs = logits - logits.max(axis=1, keepdims=True)  # the one (M, V) buffer
    picked = probs[rows, targets]
    np.exp(probs, out=probs)
    sums = probs.sum(axis=1)
    # -log softmax at the targets, summed in float64 for an exact mean
    loss = (np.log(sums, dtype=np.float64).sum() - picked.sum(dtype=np.float64)) / M
    np.multiply(probs, (1 / (sums * M))[:, None], out=probs)  # softmax / M
    probs[rows, targets] -= 1 / M
    return float(loss), probs


def log_probs(logits):
    """Row-wise log-softmax, logits (M, V) -> (M, V), computed stably."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
