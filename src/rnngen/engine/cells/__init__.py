"""Recurrent cells, one module each (as torch-rnn keeps one per cell).

Every cell module provides the same interface; the model, sampler, masks, inits,
checkpoints and trainer ask it and never test which cell it is:

    NAME, TITLE      its config name and a human name
    GATES            G: the recurrent product per step is (N, H) x (H, G*H)
    STATE            names of the (N, H) parts of the carried state, concatenated
                     per layer as (N, S*H); STATE[0] is always "h", the output
    ADDITIVE         True when h_{t-1} W_hh is only ever added to the input part,
                     so a sampler may compute both in one product with [W_xh; W_hh]
    INITS            the model.init values that mean something for this cell
    extra_shapes(H)  name -> shape of per-layer parameters beyond Wxh, Whh, bh
    init_extra(name, rng, H, init) -> the initial value of one of them (float64)
    init_recurrent(rng, H, init) -> W_hh (H, G*H)  (float64; per gate block)
    init_bias(H)     -> b_h (G*H,)
    forward(a, s0, Whh, extra) -> out (T, N, H), sT (N, S*H), cache
                     a (T, N, G*H) is x_t W_xh + b_h for every step, computed
                     beforehand as one large product; only the recurrence loops
    backward(dout, cache) -> da (T, N, G*H), ds0 (N, S*H), dWhh, dextra (dict)
                     dout (T, N, H) is the loss gradient reaching each output from
                     above (truncated BPTT: nothing flows back into sT); a cell may
                     write da over its cache, which then serves one backward pass
    step(a, hw, s, extra) -> h (N, H)
                     one step for sampling, updating s (N, S*H) in place; hw is
                     h_{t-1} W_hh (N, G*H), or None when the caller has already
                     added it into a (ADDITIVE cells only)
    bind_step(a, hw, extra, scaled) -> step(s)
                     the same step as a function of s alone, for a sampler whose
                     scratch a and hw stays put (the cell may prepare its views once);
                     scaled: a and hw come with sampling_scale's columns scaled
    sampling_scale(H) -> (G*H,) powers of two or None: column scales the sampler
                     may apply to its weights once, so that a step scales no more
"""
from . import gru, lstm, rnn

CELLS = {cell.NAME: cell for cell in (rnn, lstm, gru)}
