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


def forward(params, inputs, h0, dropout=0.0, rng=None, weight_drop=0.0):
    """inputs (T, N) ids, h0 (L, N, H) -> logits (T, N, V), hT (L, N, H), cache.

    Dropout (inverted, rate ``dropout``) applies to each layer's output where it
    feeds the next layer or the decoder, as in char-rnn. Weight drop (rate
    ``weight_drop``, DropConnect on W_hh as in AWD-LSTM) zeroes recurrent weights,
    one mask per layer for the whole batch: it regularises the h_{t-1} -> h_t path,
    which output dropout never touches, and leaves the recurrence a plain tanh RNN
    at evaluation time. Either needs ``rng``. With skip connections (Wsy{l}) the
    decoder adds each lower layer's output, as the layer above reads it, to the
    top layer's (Graves, 2013): every layer gets a short gradient path to the loss.
    """
    L = h0.shape[0]
    hT = np.empty_like(h0)
    caches, feeds = [], []
    x = None
    for l in range(L):
        if l == 0:
            # the bias joins the (V, H) table before the lookup, not the (T, N, H) result
            a, in_cache = layers.embedding_forward(inputs, params["Wxh0"] + params["bh0"])
            mask = None
        else:
            x, mask = _drop(x, dropout, rng)
            feeds.append(x)
            a, in_cache = layers.affine_forward(x, params[f"Wxh{l}"], params[f"bh{l}"])
        Whh, w_mask = _drop(params[f"Whh{l}"], weight_drop, rng)
        x, rnn_cache = layers.rnn_forward(a, h0[l], Whh)
        hT[l] = x[-1]
        caches.append((in_cache, mask, w_mask, rnn_cache))
    x, mask = _drop(x, dropout, rng)
    logits, out_cache = layers.affine_forward(x, params["Why"], params["by"])
    skips = [(feeds[l], params[f"Wsy{l}"]) for l in skip_layers(params)]
    for xl, W in skips:
        logits += (xl.reshape(-1, W.shape[0]) @ W).reshape(logits.shape)
    return logits, hT, (caches, mask, out_cache, skips)


def _drop(x, p, rng):
    if not p:
        return x, None
    mask = layers.dropout_mask(x.shape, p, rng, x.dtype)
    return x * mask, mask


def backward(dlogits, cache):
    """dlogits (T, N, V) -> grads (same keys as params), dh0 (L, N, H)."""
    caches, mask, out_cache, skips = cache
    grads = {}
    dx, grads["Why"], grads["by"] = layers.affine_backward(dlogits, out_cache)
    dh0 = [None] * len(caches)
    for l in reversed(range(len(caches))):
        if l < len(skips):  # the decoder read this layer's output directly too
            xl, W = skips[l]
            d2 = dlogits.reshape(-1, W.shape[1])
            dx += (d2 @ np.ascontiguousarray(W.T)).reshape(dx.shape)
            grads[f"Wsy{l}"] = xl.reshape(-1, W.shape[0]).T @ d2
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


def loss_and_grads(params, inputs, targets, h0, dropout=0.0, rng=None, weight_drop=0.0):
    """Mean cross-entropy (nats/char) of predicting targets (T, N) from inputs (T, N).

    Returns (loss, grads, dh0, hT): hT is the hidden state to carry into the next
    batch; dh0 is the gradient with respect to h0 (for gradient checks).
    """
    logits, hT, cache = forward(params, inputs, h0, dropout, rng, weight_drop)
    T, N, V = logits.shape
    loss, dlogits = layers.softmax_cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    grads, dh0 = backward(dlogits.reshape(T, N, V), cache)
    return loss, grads, dh0, hT


def zero_state(params, batch_size):
    """A zero hidden state (L, N, H) in the parameters' dtype."""
    V, H, L = model_shape(params)
    return np.zeros((L, batch_size, H), dtype=params["Whh0"].dtype)
