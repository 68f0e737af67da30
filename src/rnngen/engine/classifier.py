"""The many-to-one model: a recurrent stack reads each sequence, a head answers once.

A ClassifierSpec is a ModelSpec (V, H, L, the cell) plus the head: K classes, the
pooling (heads.POOLINGS) and whether the encoder is bidirectional. Its parameters
are one dict, as the character model's:
    Wxh{l}, Whh{l}, bh{l}, the cell's extras   the stack, as in model.py
    rev_Wxh{l}, rev_Whh{l}, ...                 bidirectional only: a second stack that
                                                reads each sequence reversed
    Wcy (D*H, K), bc (K,)                       the head, reading the pooled features
D is 1, or 2 when bidirectional. Gradients come back in a dict with the same keys.

Inputs are (T, N) ids, each sequence padded at its end to the batch's T, with
lengths (N,). Nothing a sequence computes reads its padding, so its logits are the
same alone or in any batch (up to the rounding of BLAS kernels, which may sum a
row's products in another order at another batch size).
"""
from dataclasses import dataclass, field

import numpy as np

from . import heads, layers, model, stack
from .spec import ModelSpec

REVERSE = "rev_"  # name prefix of the reverse direction's stack


@dataclass(frozen=True)
class ClassifierSpec(ModelSpec):
    num_classes: int = field(default=None, kw_only=True)  # K; required
    pooling: str = field(default="last", kw_only=True)  # a name in heads.POOLINGS
    bidirectional: bool = field(default=False, kw_only=True)  # also read each text reversed

    def __post_init__(self):
        super().__post_init__()
        K = self.num_classes
        if isinstance(K, bool) or not isinstance(K, int) or K < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {K!r}")
        if self.pooling not in heads.POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; expected one of "
                             f"{', '.join(heads.POOLINGS)}")
        if not isinstance(self.bidirectional, bool):
            raise ValueError(f"bidirectional must be true or false, got {self.bidirectional!r}")
        if self.skip:
            raise ValueError("skip connections feed the next-character decoder; "
                             "a classifier's head reads the top layer")

    @property
    def prefixes(self):
        """The stacks' name prefixes, one per direction: forward, then reverse."""
        return ("", REVERSE) if self.bidirectional else ("",)

    @property
    def stack_spec(self):
        """The recurrent layers alone, as a character model describes them."""
        return ModelSpec(self.vocab_size, self.hidden_size, self.num_layers, self.cell)

    def initial_state_shape(self, batch_size):
        """Each direction's initial state: (D, L, N, S*H)."""
        return (len(self.prefixes),) + self.state_shape(batch_size)

    def param_shapes(self):
        """Name -> shape: each direction's stack, then Wcy (D*H, K) and bc (K,)."""
        layer_shapes = stack.layer_shapes(self.stack_spec)
        shapes = {p + name: shape for p in self.prefixes for name, shape in layer_shapes.items()}
        shapes["Wcy"] = (len(self.prefixes) * self.hidden_size, self.num_classes)
        shapes["bc"] = (self.num_classes,)
        return shapes

    def describe(self):
        """e.g. '2 x 64 GRU, bidirectional, max pooling, 5 classes'."""
        both = ", bidirectional" if self.bidirectional else ""
        return f"{super().describe()}{both}, {self.pooling} pooling, {self.num_classes} classes"


def init_params(spec, rng, init="scaled", init_scale=0.01, dtype=np.float32):
    """Fresh parameters for ``spec``: each stack as model.init_params draws a
    character model's layers; Wcy as it draws the decoder (uniform in
    +-1/sqrt(fan_in), or N(0, init_scale^2) for init 'gaussian'), bc zero."""
    params = {}
    names = stack.layer_shapes(spec.stack_spec)
    for prefix in spec.prefixes:
        drawn = model.init_params(spec.stack_spec, rng, init, init_scale, dtype)
        params.update({prefix + name: drawn[name] for name in names})
    shape = spec.param_shapes()["Wcy"]
    if init == "gaussian":
        Wcy = rng.standard_normal(shape) * init_scale
    else:
        bound = 1 / np.sqrt(shape[0])
        Wcy = rng.uniform(-bound, bound, shape)
    params["Wcy"] = Wcy.astype(dtype)
    params["bc"] = np.zeros(spec.num_classes, dtype=dtype)
    return params


def draw_masks(spec, T, N, dtype, dropout=0.0, weight_drop=0.0, rng=None):
    """One model.Masks per direction for a (T, N) batch; ``top`` drops the top
    layer's outputs where the head reads them."""
    return [model.draw_masks(spec, T, N, dtype, dropout, weight_drop, rng)
            for _ in spec.prefixes]


def forward(spec, params, inputs, lengths, s0=None, dropout=0.0, rng=None, weight_drop=0.0,
            masks=None):
    """inputs (T, N) ids padded at the end, lengths (N,) -> logits (N, K), cache.

    s0 (D, L, N, S*H) is each direction's initial state (zero when None). Dropout
    and weight drop as in model.forward: either needs ``rng`` or ``masks``.
    """
    T, N = inputs.shape
    heads.check_lengths(lengths, T)
    dtype = params["Wcy"].dtype
    if s0 is None:
        s0 = np.zeros(spec.initial_state_shape(N), dtype=dtype)
    if masks is None:
        masks = draw_masks(spec, T, N, dtype, dropout, weight_drop, rng)
    hs, caches = [], []
    for d, prefix in enumerate(spec.prefixes):
        # the reverse direction reads each sequence backwards within its length, so
        # its padding too comes after the real steps
        x = inputs if d == 0 else heads.reverse_within(inputs, lengths)
        h, _, cache = stack.forward(spec, params, x, s0[d], masks[d], prefix)
        top = masks[d].top
        hs.append(h if top is None else h * top)
        caches.append(cache)
    logits, head_cache = heads.head_forward(hs, lengths, params["Wcy"], params["bc"],
                                            spec.pooling)
    return logits, (caches, [m.top for m in masks], head_cache)


def backward(spec, dlogits, cache):
    """dlogits (N, K) -> grads (same keys as params), ds0 (D, L, N, S*H)."""
    caches, tops, head_cache = cache
    grads = {}
    dhs, grads["Wcy"], grads["bc"] = heads.head_backward(dlogits, head_cache)
    ds0 = []
    for dh, top, stack_cache in zip(dhs, tops, caches):
        if top is not None:
            dh *= top
        stack_grads, ds0_d = stack.backward(spec, dh, stack_cache)
        grads.update(stack_grads)
        ds0.append(ds0_d)
    return grads, np.stack(ds0)


def loss_and_grads(spec, params, inputs, lengths, targets, class_weights=None, s0=None,
                   dropout=0.0, rng=None, weight_drop=0.0, masks=None):
    """Cross-entropy (nats per sequence, weighted by ``class_weights`` (K,) if given)
    of the labels targets (N,) -> (loss, grads, ds0)."""
    logits, cache = forward(spec, params, inputs, lengths, s0, dropout, rng, weight_drop, masks)
    loss, dlogits = heads.cross_entropy(logits, targets, class_weights)
    grads, ds0 = backward(spec, dlogits, cache)
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
