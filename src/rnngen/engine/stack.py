"""The recurrent layers alone: (T, N) ids in, the top layer's outputs (T, N, H) out.

What a head reads, and what the character model (model.py) puts its decoder on: the
embedding lookup for layer 0, one affine product for each layer above, the cell's
fused time loop, dropout where a layer feeds the next.

Parameters are the model's per-layer names (Wxh{l}, Whh{l}, bh{l}, the cell's
extras); ``prefix`` reads a second stack kept in the same dict under prefixed names
(the bidirectional encoder's reverse direction), and its gradients come back under
the same names.
"""
import numpy as np

from . import layers


def forward(spec, params, inputs, s0, masks, prefix=""):
    """inputs (T, N) ids, s0 (L, N, S*H), masks (model.Masks; ``top`` is not used here)
    -> h (T, N, H) the top layer's outputs, sT (L, N, S*H), cache."""
    cell = spec.cell_module
    p = _unprefixed(params, prefix)
    sT = np.empty_like(s0)
    caches = []
    x = None
    for l in range(spec.num_layers):
        mask, w_mask = masks.inputs[l], masks.weights[l]
        if l == 0:
            # the bias joins the (V, G*H) table before the lookup, not the (T, N, G*H) result
            a, in_cache = layers.embedding_forward(inputs, p["Wxh0"] + p["bh0"])
        else:
            x = x if mask is None else x * mask
            a, in_cache = layers.affine_forward(x, p[f"Wxh{l}"], p[f"bh{l}"])
        Whh = p[f"Whh{l}"] if w_mask is None else p[f"Whh{l}"] * w_mask
        x, sT[l], cell_cache = cell.forward(a, s0[l], Whh, spec.layer_extras(p, l))
        caches.append((in_cache, mask, w_mask, cell_cache))
    return x, sT, (caches, prefix)


def backward(spec, dh, cache, dfeed=None, grads=None):
    """dh (T, N, H) reaching the top layer's outputs -> grads (this stack's names,
    with its prefix), ds0 (L, N, S*H).

    ``dfeed(l)``, when given, returns any further gradient (T, N, H) reaching layer l's
    output where layer l+1 read it (the character model's skip connections), or None;
    it is asked once per layer l < L-1, from the top down, and may add its own
    gradients to ``grads``, the dict this one fills (a new one when None), so that
    the names come out in the order the layers are reached.
    """
    cell = spec.cell_module
    caches, prefix = cache
    grads = {} if grads is None else grads
    dx = dh
    ds0 = [None] * len(caches)
    for l in reversed(range(len(caches))):
        in_cache, _, w_mask, cell_cache = caches[l]
        da, ds0[l], dWhh, extras = cell.backward(dx, cell_cache)
        grads[f"{prefix}Whh{l}"] = dWhh if w_mask is None else dWhh * w_mask
        for name, g in extras.items():
            grads[f"{prefix}{name}{l}"] = g
        if l == 0:
            grads[f"{prefix}Wxh0"] = layers.embedding_backward(da, in_cache)
            grads[f"{prefix}bh0"] = da.sum(axis=(0, 1))  # folded into the lookup table forward
        else:
            dx, grads[f"{prefix}Wxh{l}"], grads[f"{prefix}bh{l}"] = layers.affine_backward(
                da, in_cache)
            extra = None if dfeed is None else dfeed(l - 1)
            if extra is not None:
                dx += extra
            mask = caches[l][1]
            if mask is not None:  # dropout on layer l-1's output where layer l read it
                dx *= mask
    return grads, np.stack(ds0)


def _unprefixed(params, prefix):
    """The stack's parameters by their plain names (the same arrays, no copies)."""
    if not prefix:
        return params
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}

