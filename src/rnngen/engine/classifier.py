"""The many-to-one model: a recurrent stack reads each sequence, a head answers once.

Its description is a spec.ClassifierSpec: a ModelSpec (V, H, L, the cell) plus the
head: K classes, the pooling (heads.POOLINGS) and whether the encoder is
bidirectional. Its parameters are one dict, as the character model's:
    Wxh{l}, Whh{l}, bh{l}, the cell's extras   the stack, as in model.py
    rev_Wxh{l}, rev_Whh{l}, ...                 bidirectional only: a second stack that
                                                reads each sequence reversed
    Wcy (D*H, K), bc (K,)                       the head, reading the pooled features
D is 1, or 2 when bidirectional. model.init_params draws them; gradients come back
in a dict with the same keys.

Inputs are (T, N) ids, each sequence padded at its end to the batch's T, with
lengths (N,). Nothing a sequence computes reads its padding, so its logits are the
same alone or in any batch (up to the rounding of BLAS kernels, which may sum a
row's products in another order at another batch size).
"""
import numpy as np

from . import heads, layers, model, stack
from .backend import xp_of


def draw_masks(spec, T, N, dtype, dropout=0.0, weight_drop=0.0, rng=None):
    """One model.Masks per direction for a (T, N) batch; ``top`` drops the top
    layer's outputs where the head reads them."""
    return [model.draw_masks(spec, T, N, dtype, dropout, weight_drop, rng)
            for _ in spec.prefixes]


def forward(spec, params, inputs, lengths, s0=None, dropout=0.0, rng=None, weight_drop=0.0,
            masks=None, map_fn=map):
    """inputs (T, N) ids padded at the end, lengths (N,) -> logits (N, K), cache.

    s0 (D, L, N, S*H) is each direction's initial state (zero when None). Dropout
    and weight drop as in model.forward: either needs ``rng`` or ``masks``. The
    directions do not meet before the head, so ``map_fn`` may run them at once (the
    trainer passes its thread pool's map: one core each); the masks are drawn first,
    so the result does not depend on how they ran.
    """
    T, N = inputs.shape
    heads.check_lengths(lengths, T)
    dtype = params["Wcy"].dtype
    if s0 is None:  # on the parameters' device
        s0 = xp_of(params["Wcy"]).zeros(spec.initial_state_shape(N), dtype=dtype)
    if masks is None:
        masks = draw_masks(spec, T, N, dtype, dropout, weight_drop, rng)

    def run(d):
        # the reverse direction reads each sequence backwards within its length, so
        # its padding too comes after the real steps
        x = inputs if d == 0 else heads.reverse_within(inputs, lengths)
        h, _, cache = stack.forward(spec, params, x, s0[d], masks[d], spec.prefixes[d])
        top = masks[d].top
        return (h if top is None else h * top), cache

    hs, caches = zip(*map_fn(run, range(len(spec.prefixes))))
    logits, head_cache = heads.head_forward(hs, lengths, params["Wcy"], params["bc"],
                                            spec.pooling)
    return logits, (caches, [m.top for m in masks], head_cache)


def backward(spec, dlogits, cache, map_fn=map):
    """dlogits (N, K) -> grads (same keys as params), ds0 (D, L, N, S*H); ``map_fn``
    as in forward."""
    caches, tops, head_cache = cache
    grads = {}
    dhs, grads["Wcy"], grads["bc"] = heads.head_backward(dlogits, head_cache)

    def run(job):
        dh, top, stack_cache = job
        if top is not None:
            dh *= top
        return stack.backward(spec, dh, stack_cache)

    ds0 = []
    for stack_grads, ds0_d in map_fn(run, zip(dhs, tops, caches)):
        grads.update(stack_grads)
        ds0.append(ds0_d)
    return grads, np.stack(ds0)


def loss_and_grads(spec, params, inputs, lengths, targets, class_weights=None, s0=None,
                   dropout=0.0, rng=None, weight_drop=0.0, masks=None, map_fn=map):
    """Cross-entropy (nats per sequence, weighted by ``class_weights`` (K,) if given)
    of the labels targets (N,) -> (loss, grads, ds0); ``map_fn`` as in forward."""
    logits, cache = forward(spec, params, inputs, lengths, s0, dropout, rng, weight_drop, masks,
                            map_fn)
    loss, dlogits = heads.cross_entropy(logits, targets, class_weights)
    grads, ds0 = backward(spec, dlogits, cache, map_fn)
    return loss, grads, ds0


def probabilities(spec, params, inputs, lengths):
    """inputs (T, N), lengths (N,) -> class probabilities (N, K), without dropout."""
    logits, _ = forward(spec, params, inputs, lengths)
    return np.exp(layers.log_probs(logits))


def prefix_probabilities(spec, params, ids):
    """ids (T,) one text -> (T, K): the class probabilities after reading each of its
    prefixes, as the classifier would answer for that prefix alone (which characters
    moved the answer). The T prefixes run as one padded batch: O(T^2) steps, for
    looking inside a model rather than for bulk use."""
    T = len(ids)
    inputs = np.broadcast_to(np.asarray(ids)[:, None], (T, T))
    return probabilities(spec, params, inputs, np.arange(1, T + 1))
