"""Output heads for sequence classification (many-to-one), as forward/backward pairs.

Shapes: N batch, T time (the longest sequence in the batch), H hidden, D directions
(1, or 2 for a bidirectional encoder), K classes. A batch holds sequences of
different lengths, lengths (N,) with 1 <= length <= T, each padded at its end: step
t of sequence i is real when t < lengths[i]. Every pooling reads real steps only,
so neither the padding's ids nor its amount can change a sequence's result.

Pooling turns the top layer's outputs h (T, N, H) into one vector per sequence:
    last  h at each sequence's last real step (the classic many-to-one)
    mean  the mean over its real steps
    max   the element-wise max over its real steps
then ``head_forward`` joins the directions' pooled vectors (N, D*H) and maps them
to K logits with W_cy (D*H, K), b_c (K,).
"""
import numpy as np

from . import layers
from .backend import xp_of


def real_steps(lengths, T):
    """lengths (N,) -> (T, N) bool, True where a step is part of its sequence."""
    xp = xp_of(lengths)
    return xp.arange(T)[:, None] < lengths[None, :]


def lengths_of(mask):
    """A (N, T) mask of real steps -> lengths (N,); ValueError unless every row is
    a run of real steps followed only by padding (padding at the end)."""
    mask = np.asarray(mask, dtype=bool)
    lengths = mask.sum(axis=1)
    if not np.array_equal(mask, real_steps(lengths, mask.shape[1]).T):
        raise ValueError("a mask must mark each sequence's steps as a prefix: padding at the end")
    return lengths


def check_lengths(lengths, T):
    """ValueError unless lengths (N,) are integers in [1, T]."""
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError("lengths must be a 1-d integer array")
    if lengths.size and (int(lengths.min()) < 1 or int(lengths.max()) > T):
        raise ValueError(f"every length must be in [1, {T}] (the batch's time steps)")


def reverse_within(x, lengths):
    """x (T, N, ...) -> each sequence's real steps in reverse order, padding left in
    place at the end: what the reverse direction of a bidirectional encoder reads,
    so that its padding stays after the real steps and is invisible too."""
    xp = xp_of(x)
    T = x.shape[0]
    t = xp.arange(T)[:, None]
    order = xp.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)  # (T, N)
    order = order.reshape(order.shape + (1,) * (x.ndim - 2))
    return xp.take_along_axis(x, order, axis=0)


def last_forward(h, lengths):
    """h (T, N, H), lengths (N,) -> pooled (N, H): h at step lengths[i] - 1."""
    cols = xp_of(h).arange(h.shape[1])
    return h[lengths - 1, cols], (h.shape, lengths, cols)


def last_backward(dpooled, cache):
    """dpooled (N, H) -> dh (T, N, H), zero except at each last real step."""
    shape, lengths, cols = cache
    dh = xp_of(dpooled).zeros(shape, dtype=dpooled.dtype)
    dh[lengths - 1, cols] = dpooled
    return dh


def mean_forward(h, lengths):
    """h (T, N, H), lengths (N,) -> pooled (N, H): the mean over real steps.

    Padding is multiplied by zero and added: x + 0 == x exactly, so the sum over a
    sequence's real steps does not depend on how much padding follows them."""
    weights = real_steps(lengths, h.shape[0]).astype(h.dtype) / lengths.astype(h.dtype)
    pooled = (h * weights[:, :, None]).sum(axis=0)
    return pooled, weights


def mean_backward(dpooled, cache):
    """dpooled (N, H) -> dh (T, N, H): dpooled / length at every real step."""
    weights = cache
    return weights[:, :, None] * dpooled[None]


def max_forward(h, lengths):
    """h (T, N, H), lengths (N,) -> pooled (N, H): the max over real steps, per unit."""
    xp = xp_of(h)
    masked = xp.where(real_steps(lengths, h.shape[0])[:, :, None], h, -xp.inf)
    argmax = masked.argmax(axis=0)[None]  # (1, N, H): the step each unit's max came from
    pooled = xp.take_along_axis(h, argmax, axis=0)[0]
    return pooled, (h.shape, argmax)


def max_backward(dpooled, cache):
    """dpooled (N, H) -> dh (T, N, H): each unit's gradient to the step of its max
    (the first such step on a tie)."""
    shape, argmax = cache
    xp = xp_of(dpooled)
    dh = xp.zeros(shape, dtype=dpooled.dtype)
    xp.put_along_axis(dh, argmax, dpooled[None], axis=0)
    return dh


# name -> (forward, backward): the poolings a classifier may use
POOLINGS = {
    "last": (last_forward, last_backward),
    "mean": (mean_forward, mean_backward),
    "max": (max_forward, max_backward),
}


def head_forward(hs, lengths, Wcy, bc, pooling):
    """hs: D arrays (T, N, H), one per direction; lengths (N,); Wcy (D*H, K); bc (K,)
    -> logits (N, K), cache."""
    pool = POOLINGS[pooling][0]
    pooled, pool_caches = zip(*(pool(h, lengths) for h in hs))
    features = pooled[0] if len(pooled) == 1 else xp_of(Wcy).concatenate(pooled, axis=1)
    logits, affine_cache = layers.affine_forward(features, Wcy, bc)
    return logits, (pooling, pool_caches, affine_cache)


def head_backward(dlogits, cache):
    """dlogits (N, K) -> dhs (D arrays (T, N, H)), dWcy (D*H, K), dbc (K,)."""
    pooling, pool_caches, affine_cache = cache
    unpool = POOLINGS[pooling][1]
    dfeatures, dWcy, dbc = layers.affine_backward(dlogits, affine_cache)
    H = dfeatures.shape[1] // len(pool_caches)
    dhs = [unpool(dfeatures[:, d * H:(d + 1) * H], c) for d, c in enumerate(pool_caches)]
    return dhs, dWcy, dbc


def cross_entropy(logits, targets, class_weights=None):
    """logits (N, K), targets (N,) ints, class_weights (K,) or None
    -> (loss, dlogits (N, K)).

    Without weights, the mean cross-entropy over the batch (nats per sequence).
    With them, each sequence's term is weighted by its class's weight and the sum
    divided by the sum of those weights (a weighted mean, as PyTorch's
    CrossEntropyLoss(weight=...)), so the loss stays on the same scale as
    unweighted and equals it when every weight is the same.
    """
    if class_weights is None:
        return layers.softmax_cross_entropy(logits, targets)
    xp = xp_of(logits)
    rows = xp.arange(logits.shape[0])
    w = class_weights[targets]
    share = w / w.sum()  # (N,) each sequence's share of the loss
    logp = layers.log_probs(logits)
    loss = -float((share * logp[rows, targets]).sum(dtype=np.float64))
    dlogits = xp.exp(logp) * share[:, None]
    dlogits[rows, targets] -= share
    return loss, dlogits


def balanced_weights(targets, K):
    """targets (N,) -> class weights (K,) as sklearn's 'balanced': N / (K * count),
    so every class weighs as much in all as a class of average size; a class absent
    from ``targets`` gets weight 0."""
    counts = np.bincount(np.asarray(targets), minlength=K).astype(np.float64)
    return np.divide(len(targets), K * counts, out=np.zeros(K), where=counts > 0)
