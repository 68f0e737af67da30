"""Scoring text with a model: cross-entropy in nats and bits per character."""
import math
from dataclasses import dataclass

import numpy as np

from . import threads
from .corpus import Vocabulary, load_corpus
from .device import CPU
from .engine import layers, model
from .engine.backend import xp_of
from .errors import CheckpointError, CorpusError


@dataclass
class Score:
    nats: float  # mean cross-entropy, nats per character
    chars: int  # characters scored

    @property
    def bits(self):
        return self.nats / math.log(2)

    @property
    def perplexity(self):
        return math.exp(self.nats)

    def as_dict(self):
        return {"nats_per_char": self.nats, "bits_per_char": self.bits,
                "perplexity": self.perplexity, "chars": self.chars}


def score(spec, params, ids, streams=64, seq_length=256, warmup=128, workers=None):
    """Mean cross-entropy of predicting ids[1:] from the characters before each.

    Every prediction is scored exactly once. For speed the text is cut into up to
    ``streams`` contiguous pieces run side by side; each piece starts ``warmup``
    characters early (unscored) so its first predictions see context, as a single
    pass over the whole text would. With ``workers`` (threads.Workers) the pieces
    are scored in groups at once.
    """
    n = len(ids) - 1  # predictions to make
    if n < 1:
        raise ValueError("scoring needs at least two characters")
    N = max(1, min(streams, n // max(warmup, 1)))
    chunk = -(-n // N)
    starts = [max(0, i * chunk - warmup) for i in range(N)]
    ends = [min((i + 1) * chunk, n) for i in range(N)]
    length = max(e - s for s, e in zip(starts, ends))
    inputs = np.zeros((length, N), dtype=np.intp)
    targets = np.zeros((length, N), dtype=np.intp)
    scored = np.zeros((length, N), dtype=bool)
    for i, (s, e) in enumerate(zip(starts, ends)):
        inputs[: e - s, i] = ids[s:e]
        targets[: e - s, i] = ids[s + 1:e + 1]
        scored[max(0, i * chunk - s): e - s, i] = True

    xp = xp_of(params["Whh0"])  # the parameters' device; the windows go there

    def run(cols):  # the summed loss of the pieces in columns cols
        h = model.zero_state(spec, cols.stop - cols.start, params["Whh0"].dtype, xp)
        total = 0.0
        for t0 in range(0, length, seq_length):
            window = slice(t0, t0 + seq_length)
            logits, h, _ = model.forward(spec, params, xp.asarray(inputs[window, cols]), h)
            T, M, V = logits.shape
            logp = layers.log_probs(logits.reshape(-1, V))
            picked = logp[xp.arange(T * M), xp.asarray(targets[window, cols].reshape(-1))]
            keep = xp.asarray(scored[window, cols].reshape(-1))
            total -= float(picked[keep].sum(dtype=np.float64))
        return total

    if workers is None or xp is not np:  # thread groups split the CPU's cores only
        workers = threads.Workers(1)
    # as many groups as the pool has threads, if the N pieces are enough for them
    groups = model.stream_groups(N, min(workers.groups, threads.groups_for(N, spec.hidden_size)))
    return Score(sum(workers.map(run, groups)) / n, n)


def checkpoint_score(ckpt, text=None, source="text", device=CPU):
    """Score ``text`` with a checkpoint's model, or, when text is None, the validation
    split of the corpus the checkpoint was trained on (the same split training used),
    computing on ``device``."""
    vocab = Vocabulary(ckpt.vocab_chars)
    if text is not None:
        ids = vocab.encode(text, what=source)
    else:
        data = ckpt.meta.get("data")
        if not (isinstance(data, dict) and isinstance(data.get("corpus"), str)
                and isinstance(data.get("val_fraction"), float)):
            raise CheckpointError("the checkpoint does not say which corpus it was trained on; "
                                  "pass --corpus with the text to score")
        corpus = load_corpus(data["corpus"])
        if corpus.sha256 != data.get("sha256", corpus.sha256):
            raise CorpusError(f"{corpus.source} is not the text this checkpoint was trained on "
                              "(its sha256 differs); pass --corpus to score it anyway")
        if corpus.vocab.chars != ckpt.vocab_chars:
            raise CorpusError(f"{corpus.source} is not the corpus this checkpoint was trained "
                              "on (its vocabulary differs); pass --corpus with the text to score")
        ids = corpus.split(data["val_fraction"])[1]
    if len(ids) < 2:
        raise CorpusError(f"{source} has fewer than 2 characters; there is nothing to score")
    params = {k: device.to_device(v) for k, v in ckpt.params.items()}
    return score(ckpt.spec, params, ids, workers=threads.Workers(threads.thread_count() or 1))
