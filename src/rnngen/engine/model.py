"""The character language model: stacked recurrent layers and a softmax decoder.

The model is a ModelSpec (spec.py: V, H, L, the cell, skips) plus one parameter
dict whose names and shapes the spec gives:
    Wxh0 (V, G*H)   layer 0 input weights, read by character id
    Wxh{l} (H, G*H) layer l > 0 input weights, reading layer l-1's outputs
    Whh{l} (H, G*H) recurrent weights;  bh{l} (G*H,) bias;  the cell's extras
    Why (H, V), by (V,) decoder, reading the top layer
    Wsy{l} (H, V) l < L-1, only with skip connections: the decoder also reads layer l
G is the cell's gate count (1 tanh RNN, 4 LSTM, 3 GRU). Gradients come back in a
dict with the same keys. The carried state is (L, N, S*H): per layer the cell's
state parts side by side ([h | c] for the LSTM), h first.
"""
import numpy as np

from . import layers, stack
from .cells import CELLS
from .spec import REVERSE

# every init some cell defines; each cell says which of them it takes (cell.INITS)
INITS = tuple(dict.fromkeys(init for cell in CELLS.values() for init in cell.INITS))


def init_params(spec, rng, init="scaled", init_scale=0.01, dtype=np.float32):
    """Fresh parameters for ``spec``.

    scaled:     weights uniform in +-1/sqrt(fan_in), where fan_in counts the inputs
                a unit sums (1 for the character lookup, H for hidden inputs);
                the PyTorch/LeCun default, which trains well without tuning.
    gaussian:   every weight N(0, init_scale^2): the classic min-char-rnn 0.01.
    identity:   as scaled, but W_hh = I (Le et al., 2015); tanh RNN only.
    orthogonal: as scaled, but each gate's block of W_hh a random orthogonal matrix
                (Saxe et al., 2014).
    Biases start as the cell says (zero, but 1 for the LSTM's forget gate), and so
    do its extra parameters (cell.init_extra). A classifier's (spec.ClassifierSpec)
    reverse layers start as the forward ones, and its head (Wcy, bc) as the decoder.
    """
    cell = spec.cell_module
    if init not in cell.INITS:
        raise ValueError(f"init {init!r} is not defined for the {cell.TITLE} cell; "
                         f"expected one of {', '.join(cell.INITS)}")
    H, L = spec.hidden_size, spec.num_layers
    extras = {f"{e}{l}": e for l in range(L) for e in cell.extra_shapes(H)}
    params = {}
    for name, shape in spec.param_shapes().items():
        base = name.removeprefix(REVERSE)  # a classifier's reverse layers start alike
        if base in extras:
            w = cell.init_extra(extras[base], rng, H, init)
        elif base.startswith("bh"):
            w = cell.init_bias(H)
        elif base in ("by", "bc"):  # the output layer's bias: the decoder's, or the head's
            w = np.zeros(shape)
        elif init == "gaussian":
            w = rng.standard_normal(shape) * init_scale
        elif base.startswith("Whh"):
            w = cell.init_recurrent(rng, H, init)
        else:
            fan_in = 1 if base == "Wxh0" else shape[0]
            if spec.skip and (name == "Why" or name.startswith("Wsy")):
                fan_in *= L  # a logit sums over every layer's output
            bound = 1 / np.sqrt(fan_in)
            w = rng.uniform(-bound, bound, shape)
        params[name] = np.ascontiguousarray(w, dtype=dtype)
    return params


class Masks:
    """The dropout masks of one training batch (None where a rate is 0).

    inputs[l] (T, N, H) for l > 0 drops layer l-1's output where layer l reads it;
    weights[l] (H, G*H) drops entries of W_hh{l}; top (T, N, H) drops the top
    layer's output before the decoder.
    """

    def __init__(self, inputs, weights, top):
        self.inputs, self.weights, self.top = inputs, weights, top

    def streams(self, cols):
        """The masks for the streams ``cols`` (a slice of N) of the same batch."""
        def pick(m):
            return None if m is None else m[:, cols]

        return Masks([pick(m) for m in self.inputs], self.weights, pick(self.top))


def draw_masks(spec, T, N, dtype, dropout=0.0, weight_drop=0.0, rng=None):
    """Draw a (T, N) batch's masks, layer by layer, as forward uses them.

    ``rng`` is a numpy Generator (host masks) or a mask-bits source from layers
    (GeneratorBits, or CounterBits for masks made on the arrays' own device).
    Drawn before the forward pass rather than during it, so that a batch split
    into groups of streams (``split_loss_and_grads``) uses exactly the masks of
    the whole batch.
    """
    dtype = np.dtype(dtype)
    H = spec.hidden_size
    recurrent = (H, spec.cell_module.GATES * H)  # W_hh's shape, as param_shapes gives it
    bits = layers.GeneratorBits(rng) if isinstance(rng, np.random.Generator) else rng

    def mask(shape, p):
        return layers.dropout_mask(shape, p, bits, dtype) if p else None

    inputs, weights = [], []
    for l in range(spec.num_layers):
        inputs.append(mask((T, N, H), dropout) if l > 0 else None)
        weights.append(mask(recurrent, weight_drop))
    return Masks(inputs, weights, mask((T, N, H), dropout))


def forward(spec, params, inputs, s0, dropout=0.0, rng=None, weight_drop=0.0, masks=None):
    """inputs (T, N) ids, s0 (L, N, S*H) -> logits (T, N, V), sT (L, N, S*H), cache.

    Dropout (inverted, rate ``dropout``) applies to each layer's output where it
    feeds the next layer or the decoder, as in char-rnn. Weight drop (rate
    ``weight_drop``, DropConnect on W_hh as in AWD-LSTM) zeroes recurrent weights,
    one mask per layer for the whole batch: it regularises the h_{t-1} -> h_t path,
    which output dropout never touches, and leaves the recurrence unchanged at
    evaluation time. Either needs ``rng``, or ``masks`` drawn beforehand. With
    skip connections (Wsy{l}) the decoder adds each lower layer's output, as the
    layer above reads it, to the top layer's (Graves, 2013): every layer gets a
    short gradient path to the loss.
    """
    if masks is None:
        masks = draw_masks(spec, *inputs.shape, s0.dtype, dropout, weight_drop, rng)
    h, sT, (caches, _) = stack.forward(spec, params, inputs, s0, masks)
    mask = masks.top
    x = h if mask is None else h * mask
    logits, out_cache = layers.affine_forward(x, params["Why"], params["by"])
    skips = []  # lower layer l -> decoder, through Wsy{l} (no bias: by serves them all)
    for l in spec.skip_layers:
        # layer l's output as layer l+1 read it (after dropout): that layer's input cache
        out, skip_cache = layers.affine_forward(caches[l + 1][0][0], params[f"Wsy{l}"])
        logits += out
        skips.append(skip_cache)
    return logits, sT, (caches, mask, out_cache, skips)


def backward(spec, dlogits, cache):
    """dlogits (T, N, V) -> grads (same keys as params), ds0 (L, N, S*H)."""
    caches, mask, out_cache, skips = cache
    grads = {}
    dx, grads["Why"], grads["by"] = layers.affine_backward(dlogits, out_cache)
    if mask is not None:
        dx *= mask

    def skip_gradient(l):  # the decoder read layer l's output directly too
        if l >= len(skips):
            return None
        dskip, grads[f"Wsy{l}"], _ = layers.affine_backward(dlogits, skips[l])
        return dskip

    return stack.backward(spec, dx, (caches, ""), skip_gradient, grads)


def loss_and_grads(spec, params, inputs, targets, s0, dropout=0.0, rng=None, weight_drop=0.0,
                   masks=None):
    """Mean cross-entropy (nats/char) of predicting targets (T, N) from inputs (T, N).

    Returns (loss, grads, ds0, sT): sT is the state to carry into the next batch;
    ds0 is the gradient with respect to s0 (for gradient checks).
    """
    logits, sT, cache = forward(spec, params, inputs, s0, dropout, rng, weight_drop, masks)
    T, N, V = logits.shape
    loss, dlogits = layers.softmax_cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    grads, ds0 = backward(spec, dlogits.reshape(T, N, V), cache)
    return loss, grads, ds0, sT


def split_loss_and_grads(spec, params, inputs, targets, s0, dropout=0.0, rng=None,
                         weight_drop=0.0, parts=2, map_fn=map):
    """loss_and_grads for the whole batch, computed as ``parts`` groups of streams
    (with parts=1, loss_and_grads itself).

    The streams of a batch never interact, so each group's forward and backward
    pass is independent: ``map_fn`` may run them at once (the trainer passes a
    thread pool's map, one core per group). The masks are drawn for the whole
    batch first, so the result equals loss_and_grads's up to the rounding of the
    sums: each group's mean loss and gradients are weighted by its share of the
    streams and added.
    """
    T, N = inputs.shape
    masks = draw_masks(spec, T, N, s0.dtype, dropout, weight_drop, rng)
    groups = stream_groups(N, parts)
    if len(groups) == 1:  # one piece: nothing to weigh or join
        return loss_and_grads(spec, params, inputs, targets, s0, masks=masks)

    def run(cols):
        result = loss_and_grads(spec, params, inputs[:, cols], targets[:, cols], s0[:, cols],
                                masks=masks.streams(cols))
        for g in result[1].values():  # weighed here, on the group's own thread
            g *= (cols.stop - cols.start) / N
        return result

    results = list(map_fn(run, groups))
    shares = [(g.stop - g.start) / N for g in groups]
    loss = sum(share * r[0] for share, r in zip(shares, results))
    grads = results[0][1]
    for r in results[1:]:
        for name, g in r[1].items():
            grads[name] += g
    ds0 = np.concatenate([share * r[2] for share, r in zip(shares, results)], axis=1)
    sT = np.concatenate([r[3] for r in results], axis=1)
    return loss, grads, ds0, sT


def stream_groups(N, parts):
    """N streams as up to ``parts`` contiguous slices, their sizes within one."""
    edges = np.linspace(0, N, min(parts, N) + 1).round().astype(int)
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def zero_state(spec, batch_size, dtype=np.float32, xp=np):
    """A zero carried state (L, N, S*H), on ``xp``'s device."""
    return xp.zeros(spec.state_shape(batch_size), dtype=dtype)


def cached_outputs(cache):
    """Each layer's outputs [h (T, N, H)] from a ``forward`` cache made without dropout:
    what the layer above (or the decoder, for the top layer) read."""
    caches, _, out_cache, _ = cache
    return [in_cache[0] for in_cache, *_ in caches[1:]] + [out_cache[0]]
