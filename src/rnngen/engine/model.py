"""The character language model: stacked tanh RNN layers and a softmax decoder.

Parameters live in one dict (shapes for L layers, hidden H, vocabulary V):
    Wxh0 (V, H)   layer 0 input weights, read by character id
    Wxh{l} (H, H) layer l > 0 input weights, reading layer l-1's hidden states
    Whh{l} (H, H) recurrent weights;  bh{l} (H,) hidden bias
    Why (H, V), by (V,) decoder, reading the top layer
    Wsy{l} (H, V) l < L-1, only with skip connections: the decoder also reads layer l
Gradients come back in a dict with the same keys. Hidden state is (L, N, H).
The model's form is read off the keys: L from the W_hh count, skip connections
from the presence of Wsy0.
"""
import numpy as np

from . import layers

INITS = ("scaled", "gaussian", "identity", "orthogonal")


def param_shapes(vocab_size, hidden_size, num_layers, skip=False):
    """Name -> shape for every parameter, in a fixed order."""
    shapes = {}
    for l in range(num_layers):
        shapes[f"Wxh{l}"] = (vocab_size if l == 0 else hidden_size, hidden_size)
        shapes[f"Whh{l}"] = (hidden_size, hidden_size)
        shapes[f"bh{l}"] = (hidden_size,)
    if skip:
        for l in range(num_layers - 1):
            shapes[f"Wsy{l}"] = (hidden_size, vocab_size)
    shapes["Why"] = (hidden_size, vocab_size)
    shapes["by"] = (vocab_size,)
    return shapes


def _orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix makes q uniformly distributed


def init_params(vocab_size, hidden_size, num_layers, rng, init="scaled",
                init_scale=0.01, dtype=np.float32, skip=False):
    """Fresh parameters.

    scaled:     weights uniform in +-1/sqrt(fan_in), where fan_in counts the inputs
                a unit sums (1 for the character lookup, H for hidden inputs);
                the PyTorch/LeCun default, which trains well without tuning.
    gaussian:   every weight N(0, init_scale^2): the classic min-char-rnn 0.01.
    identity:   as scaled, but W_hh = I (Le et al., 2015).
    orthogonal: as scaled, but W_hh a random orthogonal matrix (Saxe et al., 2014).
    Biases start at zero. ``skip`` adds the decoder's weights from each lower layer.
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")
    params = {}
    for name, shape in param_shapes(vocab_size, hidden_size, num_layers, skip).items():
        if name.startswith("b"):
            w = np.zeros(shape)
        elif init == "gaussian":
            w = rng.standard_normal(shape) * init_scale
        elif name.startswith("Whh") and init == "identity":
            w = np.eye(hidden_size)
        elif name.startswith("Whh") and init == "orthogonal":
            w = _orthogonal(rng, hidden_size)
        else:
            fan_in = 1 if name == "Wxh0" else shape[0]
            if skip and (name == "Why" or name.startswith("Wsy")):
                fan_in *= num_layers  # a logit sums over every layer's output
            bound = 1 / np.sqrt(fan_in)
            w = rng.uniform(-bound, bound, shape)
        params[name] = np.ascontiguousarray(w, dtype=dtype)
    return params


def model_shape(params):
    """(V, H, L) read off a parameter dict."""
    V, H = params["Wxh0"].shape
    L = sum(1 for k in params if k.startswith("Whh"))
    return V, H, L


def skip_layers(params):
    """The lower layers the decoder reads directly: range(L-1) with skips, else none."""
    return range(model_shape(params)[2] - 1) if "Wsy0" in params else range(0)


class Masks:
    """The dropout masks of one training batch (None where a rate is 0).

    inputs[l] (T, N, H) for l > 0 drops layer l-1's output where layer l reads it;
    weights[l] (H, H) drops entries of W_hh{l}; top (T, N, H) drops the top
    layer's output before the decoder.
    """

    def __init__(self, inputs, weights, top):
        self.inputs, self.weights, self.top = inputs, weights, top

    def streams(self, cols):
        """The masks for the streams ``cols`` (a slice of N) of the same batch."""
        def pick(m):
            return None if m is None else m[:, cols]

        return Masks([pick(m) for m in self.inputs], self.weights, pick(self.top))


def draw_masks(params, T, N, dropout=0.0, weight_drop=0.0, rng=None):
    """Draw a (T, N) batch's masks from rng, layer by layer, as forward uses them.

    Drawn before the forward pass rather than during it, so that a batch split
    into groups of streams (``split_loss_and_grads``) uses exactly the masks of
    the whole batch.
    """
    V, H, L = model_shape(params)
    dtype = params["Whh0"].dtype

    def mask(shape, p):
        return layers.dropout_mask(shape, p, rng, dtype) if p else None

    inputs, weights = [], []
    for l in range(L):
        inputs.append(mask((T, N, H), dropout) if l > 0 else None)
        weights.append(mask((H, H), weight_drop))
    return Masks(inputs, weights, mask((T, N, H), dropout))


def forward(params, inputs, h0, dropout=0.0, rng=None, weight_drop=0.0, masks=None):
    """inputs (T, N) ids, h0 (L, N, H) -> logits (T, N, V), hT (L, N, H), cache.

    Dropout (inverted, rate ``dropout``) applies to each layer's output where it
    feeds the next layer or the decoder, as in char-rnn. Weight drop (rate
    ``weight_drop``, DropConnect on W_hh as in AWD-LSTM) zeroes recurrent weights,
    one mask per layer for the whole batch: it regularises the h_{t-1} -> h_t path,
    which output dropout never touches, and leaves the recurrence a plain tanh RNN
    at evaluation time. Either needs ``rng``, or ``masks`` drawn beforehand. With
    skip connections (Wsy{l}) the decoder adds each lower layer's output, as the
    layer above reads it, to the top layer's (Graves, 2013): every layer gets a
    short gradient path to the loss.
    """
    L = h0.shape[0]
    if masks is None:
        masks = draw_masks(params, *inputs.shape, dropout, weight_drop, rng)
    hT = np.empty_like(h0)
    caches, feeds = [], []
    x = None
    for l in range(L):
        mask, w_mask = masks.inputs[l], masks.weights[l]
        if l == 0:
            # the bias joins the (V, H) table before the lookup, not the (T, N, H) result
            a, in_cache = layers.embedding_forward(inputs, params["Wxh0"] + params["bh0"])
        else:
            x = _apply(x, mask)
            feeds.append(x)
            a, in_cache = layers.affine_forward(x, params[f"Wxh{l}"], params[f"bh{l}"])
        x, rnn_cache = layers.rnn_forward(a, h0[l], _apply(params[f"Whh{l}"], w_mask))
        hT[l] = x[-1]
        caches.append((in_cache, mask, w_mask, rnn_cache))
    mask = masks.top
    x = _apply(x, mask)
    logits, out_cache = layers.affine_forward(x, params["Why"], params["by"])
    skips = []  # lower layer l -> decoder, through Wsy{l} (no bias: by serves them all)
    for l in skip_layers(params):
        out, skip_cache = layers.affine_forward(feeds[l], params[f"Wsy{l}"])
        logits += out
        skips.append(skip_cache)
    return logits, hT, (caches, mask, out_cache, skips)


def _apply(x, mask):
    return x if mask is None else x * mask


def backward(dlogits, cache):
    """dlogits (T, N, V) -> grads (same keys as params), dh0 (L, N, H)."""
    caches, mask, out_cache, skips = cache
    grads = {}
    dx, grads["Why"], grads["by"] = layers.affine_backward(dlogits, out_cache)
    dh0 = [None] * len(caches)
    for l in reversed(range(len(caches))):
        if l < len(skips):  # the decoder read this layer's output directly too
            dskip, grads[f"Wsy{l}"], _ = layers.affine_backward(dlogits, skips[l])
            dx += dskip
        if mask is not None:
            dx *= mask
        in_cache, mask, w_mask, rnn_cache = caches[l]
        da, dh0[l], grads[f"Whh{l}"] = layers.rnn_backward(dx, rnn_cache)
        if w_mask is not None:
            grads[f"Whh{l}"] *= w_mask
        if l == 0:
            grads["Wxh0"] = layers.embedding_backward(da, in_cache)
            grads["bh0"] = da.sum(axis=(0, 1))  # folded into the lookup table forward
        else:
            dx, grads[f"Wxh{l}"], grads[f"bh{l}"] = layers.affine_backward(da, in_cache)
    return grads, np.stack(dh0)


def loss_and_grads(params, inputs, targets, h0, dropout=0.0, rng=None, weight_drop=0.0,
                   masks=None):
    """Mean cross-entropy (nats/char) of predicting targets (T, N) from inputs (T, N).

    Returns (loss, grads, dh0, hT): hT is the hidden state to carry into the next
    batch; dh0 is the gradient with respect to h0 (for gradient checks).
    """
    logits, hT, cache = forward(params, inputs, h0, dropout, rng, weight_drop, masks)
    T, N, V = logits.shape
    loss, dlogits = layers.softmax_cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    grads, dh0 = backward(dlogits.reshape(T, N, V), cache)
    return loss, grads, dh0, hT


def split_loss_and_grads(params, inputs, targets, h0, dropout=0.0, rng=None, weight_drop=0.0,
                         parts=2, map_fn=map):
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
    masks = draw_masks(params, T, N, dropout, weight_drop, rng)
    groups = stream_groups(N, parts)
    if len(groups) == 1:  # one piece: nothing to weigh or join
        return loss_and_grads(params, inputs, targets, h0, masks=masks)

    def run(cols):
        return loss_and_grads(params, inputs[:, cols], targets[:, cols], h0[:, cols],
                              masks=masks.streams(cols))

    results = list(map_fn(run, groups))
    shares = [(g.stop - g.start) / N for g in groups]
    loss = sum(share * r[0] for share, r in zip(shares, results))
    grads = results[0][1]
    for g in grads.values():
        g *= shares[0]
    for share, r in zip(shares[1:], results[1:]):
        for name, g in r[1].items():
            g *= share
            grads[name] += g
    dh0 = np.concatenate([share * r[2] for share, r in zip(shares, results)], axis=1)
    hT = np.concatenate([r[3] for r in results], axis=1)
    return loss, grads, dh0, hT


def stream_groups(N, parts):
    """N streams as up to ``parts`` contiguous slices, their sizes within one."""
    edges = np.linspace(0, N, min(parts, N) + 1).round().astype(int)
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def zero_state(params, batch_size):
    """A zero hidden state (L, N, H) in the parameters' dtype."""
    V, H, L = model_shape(params)
    return np.zeros((L, batch_size, H), dtype=params["Whh0"].dtype)
