"""Layers as forward/backward pairs (pure NumPy); the recurrent cells are in cells/.

Shapes use fixed letters: T time, N batch, D input width, H hidden, V vocabulary.
Sequences are time-major, (T, N, ...): the recurrence reads one contiguous (N, H)
slab per step, which is what the matrix products want.

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the
upstream gradient and that cache. Arrays may live on any device (backend.py):
creation functions take the array module from their inputs, and nothing here reads
a value back to the host except the loss.
"""
import numpy as np

from .backend import xp_of


def embedding_forward(ids, W):
    """Look up rows of W: ids (T, N) integers, W (V, H) -> out (T, N, H).

    This is x_t W_xh for one-hot x_t, without building the one-hot matrix.
    """
    out = np.take(W, ids, axis=0)
    return out, (ids, W.shape)


SORTED_MAX_VOCAB = 2048  # measured crossover; see embedding_backward


def embedding_backward(dout, cache):
    """dout (T, N, H) -> dW (V, H): rows of dout summed by the id that read them.

    Sorting the ids once and summing contiguous runs is ten times faster than
    np.add.at for a small vocabulary, but it is a Python loop over the vocabulary:
    past SORTED_MAX_VOCAB ids (a CJK corpus) np.add.at wins, so choose by size.
    """
    ids, (V, H) = cache
    flat_ids = ids.reshape(-1)
    xp = xp_of(dout)
    if V > SORTED_MAX_VOCAB or xp is not np:  # the loop reads run ends on the host
        dW = xp.zeros((V, H), dtype=dout.dtype)
        xp.add.at(dW, flat_ids, dout.reshape(-1, H))
        return dW
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
    dx = (d2 @ xp_of(W).ascontiguousarray(W.T)).reshape(x.shape)  # see cells/rnn.py on W.T
    return dx, x2.T @ d2, d2.sum(axis=0) if has_bias else None


def dropout_mask(shape, p, bits, dtype):
    """Inverted dropout: keep with probability 1-p and scale by 1/(1-p).

    ``bits(shape)`` gives 16 random bits per element (a MaskBits source): at
    training sizes a float per element (rng.random) takes four times as long, and
    two masks a step were 10% of it. p is rounded to a multiple of 2^-16 and the
    scale uses the rounded p, so the mask still averages exactly 1.
    """
    levels = 1 << 16
    cut = round(p * levels)
    mask = (bits(shape) >= cut).astype(dtype)
    mask *= np.dtype(dtype).type(levels / (levels - cut))
    return mask


class GeneratorBits:
    """Mask bits from a NumPy Generator, on the host (the CPU engine's source)."""

    def __init__(self, rng):
        self.rng = rng

    def __call__(self, shape):
        size = int(np.prod(shape))
        # raw 64-bit words, four draws each: the fastest bits a Generator hands out
        words = self.rng.bit_generator.random_raw(-(-size // 4))
        return words.view(np.uint16)[:size].reshape(shape)


class CounterBits:
    """Mask bits as a pure function of (seed, key, draw, element): SplitMix64 of a
    counter, computed with integer arithmetic on any array module, so the same
    (seed, key) gives the same bits on every device, with no generator state to
    carry or save (resume is exact without it). ``key`` is the training step."""

    GOLDEN = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, seed, key, xp=np):
        self.xp = xp
        self.base = int(_splitmix(np.uint64(seed) ^ _splitmix(np.uint64(key))))
        self.drawn = 0  # 64-bit words used so far by this source

    def __call__(self, shape):
        xp = self.xp
        size = int(np.prod(shape))
        words = -(-size // 4)
        counter = xp.arange(self.drawn, self.drawn + words, dtype=np.uint64)
        self.drawn += words
        counter += np.uint64(self.base)
        bits = _splitmix(counter * self.GOLDEN)
        return bits.view(np.uint16)[:size].reshape(shape)


def _splitmix(z):
    """SplitMix64's finaliser (Steele et al. 2014), element-wise with wrap-around."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def softmax_cross_entropy(logits, targets):
    """logits (M, V), targets (M,) ints -> (mean loss in nats, dlogits (M, V)).

    The loss is summed over every position and divided by M = T*N, i.e. nats per
    character, so learning rates and clipping do not depend on the batch shape.
    """
    M = logits.shape[0]
    rows = xp_of(logits).arange(M)
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


def sigmoid(x, out):
    """Logistic function into out, as 0.5 + 0.5 tanh(x/2): no overflow for any x."""
    np.multiply(x, 0.5, out=out)
    return sigmoid_of_half(out, out)


def sigmoid_of_half(x, out):
    """sigmoid(2 x) into out, as 0.5 + 0.5 tanh(x): sigmoid's arithmetic on x already
    halved (by weights whose columns were halved, as the GRU's sampler does)."""
    np.tanh(x, out=out)
    out *= 0.5
    out += 0.5
    return out
