"""Memory a training run will need, estimated before anything is allocated.

A config can ask for more than the machine has (``--set model.num_layers=100000000``);
allocating it would end in a MemoryError or in swap, blaming the wrong thing. So the
run is sized first, from the config alone, and refused naming the key to lower.

The estimate, in bytes, for float32 (4 bytes a number), with P parameters, T x N
batches, H units, L layers and V symbols:

    weights      4 P (1 + 1 + S)        the weights, their gradients, and S optimizer
                                        state slots (the rule's declared state: adam 3,
                                        counting its step as an array; the others 1)
    activations  4 x A T N H L          per layer, A = 6 + 3 (G - 1) for a cell of G
                                        gates (tanh 6, GRU 12, LSTM 15): inputs, gate
                                        pre-activations, outputs, dropout masks and
                                        backward's temporaries
    logits       4 x 3 T N V            logits, log-probabilities, their gradient
    validation   4 x 3 256 x 64 (H L + V)  scoring windows of 64 streams x 256 steps

It is a floor, not a ceiling (NumPy's temporaries come and go), so a run is refused
when the estimate alone exceeds the memory available now.
"""
import os

import numpy as np

from .engine import optim
from .engine.cells import CELLS
from .engine.spec import ModelSpec
from .errors import ConfigError, OptionError

FLOAT_BYTES = 4
ACTIVATION_ARRAYS = 6  # (T, N, H) arrays per tanh layer alive at the peak of a step
LOGIT_ARRAYS = 3  # (T, N, V) arrays alive at the peak of a step
SCORE_STREAMS, SCORE_STEPS = 64, 256  # evaluation.score's defaults


def available_bytes():
    """Memory available to a new allocation now: MemAvailable, else free pages."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def parameter_count(vocab_size, hidden_size, num_layers, skip, cell="rnn"):
    """P, asked of the model's description (engine.spec.ModelSpec).

    Counted for one and two layers and extended linearly (every further layer adds
    the same weights), so that an absurd num_layers is sized without listing it.
    """
    def count(layers):
        return ModelSpec(vocab_size, hidden_size, layers, cell, skip).param_count()

    one = count(1)
    return one + (num_layers - 1) * (count(2) - one) if num_layers > 1 else one


def training_bytes(cfg, vocab_size):
    """{term: (bytes, the config keys that drive it)} for training cfg (see above)."""
    m, t = cfg.model, cfg.train
    V, H, L, T, N = vocab_size, m.hidden_size, m.num_layers, t.seq_length, t.batch_size
    P = parameter_count(V, H, L, m.skip, m.cell)
    state = len(optim.RULES[t.optimizer].state)
    G = CELLS[m.cell].GATES
    activations = ACTIVATION_ARRAYS + 3 * (G - 1)
    return {
        "weights": (FLOAT_BYTES * P * (2 + state), ("model.hidden_size", "model.num_layers")),
        "activations": (FLOAT_BYTES * activations * T * N * H * L,
                        ("train.batch_size", "train.seq_length", "model.hidden_size",
                         "model.num_layers")),
        "logits": (FLOAT_BYTES * LOGIT_ARRAYS * T * N * V,
                   ("train.batch_size", "train.seq_length")),
        "validation": (FLOAT_BYTES * 3 * SCORE_STEPS * SCORE_STREAMS * (H * L + V),
                       ("model.hidden_size", "model.num_layers")),
    }


def _blame(cfg, keys):
    """Of the keys behind a term, the one set furthest above its default."""
    from . import config

    def ratio(key):
        section, name = key.split(".")
        default = getattr(config.SECTIONS[section](), name)
        return getattr(getattr(cfg, section), name) / default

    return max(keys, key=ratio)


def check_training(cfg, vocab_size, available=None):
    """ConfigError, naming the key to lower, if training cfg cannot fit in memory."""
    terms = training_bytes(cfg, vocab_size)
    need = sum(b for b, _ in terms.values())
    have = available_bytes() if available is None else available
    if need <= have:
        return need
    term, (_, keys) = max(terms.items(), key=lambda kv: kv[1][0])
    key = _blame(cfg, keys)
    section, name = key.split(".")
    value = getattr(getattr(cfg, section), name)
    raise ConfigError(
        f"{key} = {value} needs about {_size(need)} of memory (mostly {term}), more than "
        f"the {_size(have)} available; lower {key}")


def _size(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EiB"  # pragma: no cover


# what a batch of whole samples holds per character of each row, generously: the id,
# the text, and with scores its log-probability (as Python objects in lists)
SAMPLE_BYTES_PER_CHAR = 96


def check_sampling(decoding, spec, available=None):
    """OptionError, naming the options to lower, when the whole samples ``decoding``
    asks for (engine.spec.ModelSpec ``spec``) cannot fit in memory: K rows (beams or
    samples) of n characters each, their states, logits and noise. Only for the paths
    that hold whole samples (several samples, a beam, --json, --stop); one stream is
    written as it is made and holds nothing per character."""
    from .engine.sampling import BLOCK

    rows = decoding.beam or decoding.num_samples
    per_row = (decoding.n * SAMPLE_BYTES_PER_CHAR
               + FLOAT_BYTES * (2 * int(np.prod(spec.state_shape(1)))
                                + (BLOCK + 4) * spec.vocab_size))
    need = rows * per_row
    have = (available_bytes() if available is None else available) // 2
    if need <= have:
        return need
    rows_option = "beam" if decoding.beam else "num_samples"
    raise OptionError(f"{{{rows_option}}} {rows:,} x {{n}} {decoding.n:,} characters need "
                      f"about {_size(need)} of memory, more than half the {_size(have * 2)} "
                      f"available; lower {{n}} or {{{rows_option}}}", ("n", rows_option))
