"""Scoring text with a model: cross-entropy in nats and bits per character."""
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import jsonout, texts, threads
from .corpus import NAMED, Vocabulary, read_corpus, read_open_corpus, resolve
from .device import CPU
from .engine import layers, model
from .engine.backend import xp_of
from .errors import CheckpointError, CorpusError


SCORE_ASK = "pass --corpus with the text to score"


@dataclass
class Score:
    nats: float  # mean cross-entropy, nats per character
    chars: int  # characters scored

    @property
    def bits(self):
        return self.nats / math.log(2)

    @property
    def perplexity(self):
        return math.exp(self.nats) if self.nats < 709 else math.inf  # exp overflows past 709

    def as_dict(self):
        return {"nats_per_char": self.nats, "bits_per_char": self.bits,
                "perplexity": self.perplexity, "chars": self.chars}


def score(spec, params, ids, streams=64, seq_length=256, warmup=128, workers=None,
          groups=None):
    """Mean cross-entropy of predicting ids[1:] from the characters before each.

    Every prediction is scored exactly once. For speed the text is cut into up to
    ``streams`` contiguous pieces run side by side; each piece starts ``warmup``
    characters early (unscored) so its first predictions see context, as a single
    pass over the whole text would. With ``workers`` (threads.Workers) the pieces
    are scored in groups at once: as many as it has threads, or as ``groups`` says.
    The score's last digits follow the groups (each is its own product, whose
    rounding BLAS may choose by its size), not the threads that run them. Windows of ``seq_length`` steps are cut from
    ``ids`` as they are scored, so memory beyond ``ids`` itself does not grow
    with the text. The model runs on its parameters' device: the ids go there
    once, and one sum per window comes back.
    """
    n = len(ids) - 1  # predictions to make
    if n < 1:
        raise ValueError("scoring needs at least two characters")
    N = max(1, min(streams, n // max(warmup, 1)))
    chunk = -(-n // N)
    # piece i predicts positions [first[i], ends[i]) and reads from starts[i]
    first = np.arange(N) * chunk
    starts = np.maximum(0, first - warmup)
    ends = np.minimum(first + chunk, n)
    length = int((ends - starts).max())

    def run(cols):  # the summed loss of the pieces in columns cols
        with np.errstate(all="ignore"):  # weights that overflow score inf or nan, quietly
            return _run(cols)

    xp = xp_of(params["Whh0"])
    # the text and the pieces' bounds go to the device once; windows are cut there
    text, first, starts, ends = (xp.asarray(a) for a in (ids, first, starts, ends))

    def _run(cols):
        h = model.zero_state(spec, cols.stop - cols.start, params["Whh0"].dtype, xp)
        begin, end, scored_from = starts[cols], ends[cols], first[cols]
        total = 0.0
        for t0 in range(0, length, seq_length):
            pos = begin + t0 + xp.arange(min(seq_length, length - t0))[:, None]  # (T, M)
            live = pos < end  # past its end, a piece is padding
            at = xp.where(live, pos, 0)
            logits, h, _ = model.forward(spec, params, text[at].astype(np.intp), h)
            T, M, V = logits.shape
            logp = layers.log_probs(logits.reshape(-1, V))
            picked = logp[xp.arange(T * M), text[at + 1].reshape(-1).astype(np.intp)]
            scored = (live & (pos >= scored_from)).reshape(-1)
            total -= float(picked[scored].sum(dtype=np.float64))
        return total

    if workers is None or xp is not np:  # thread groups split the CPU's cores only
        workers = threads.Workers(1)
    count = 1 if xp is not np else groups or workers.groups
    # that many groups, if the N pieces are enough for them
    pieces = model.stream_groups(N, threads.groups_for(N, spec.hidden_size, most=count))
    return Score(sum(workers.map(run, pieces)) / n, n)


def checkpoint_score(ckpt, text=None, source="text", ids=None, device=CPU, measure=False):
    """Score ``text`` (or its ``ids`` under the checkpoint's vocabulary) with a
    checkpoint's model on ``device``, or, when neither is given, the validation
    split of the corpus the checkpoint was trained on (the same split training used).

    That corpus is read only when it can be trusted to be the same text: a named
    corpus (checked against its published sha256), or a regular file whose size
    and sha256 agree with the checkpoint's record. Anything else (a FIFO, a device,
    an edited file) is refused, asking for --corpus.

    measure: score on the BLAS thread count a short trial finds faster (1 or all, see
    thread_choice), as `rnngen eval` does without --threads; False: as the BLAS is set.
    """
    vocab = Vocabulary(ckpt.vocab_chars)
    if ids is None and text is not None:
        ids = vocab.encode(text, what=source)
    elif ids is None:
        ids = recorded_validation(ckpt)[1]
    if len(ids) < 2:
        raise CorpusError(f"{source} has fewer than 2 characters; there is nothing to score")
    params = {k: device.to_device(v) for k, v in ckpt.params.items()}
    # the groups are cut for the count the BLAS has before the trial, whichever count
    # the trial then picks, so that a text scores the same on every run here
    groups = threads.thread_count() or 1
    count = thread_choice(ckpt.spec, params, ids) if measure and device.is_host else None
    with threads.blas_threads(count):
        return score_here(ckpt.spec, params, ids, groups)


def score_here(spec, params, ids, groups=None):
    """score on as many threads as the BLAS's thread count now allows, in ``groups``
    groups (default: one per thread)."""
    return score(spec, params, ids, workers=threads.Workers(threads.thread_count() or 1),
                 groups=groups)


TRIAL_CHARS = 4096  # characters of the text a thread trial scores
MEASURED_FROM = 8 * TRIAL_CHARS  # a shorter text is scored as the BLAS is set: the trial
# (twelve scorings of TRIAL_CHARS) would cost more than a wrong choice saves


def thread_choice(spec, params, ids):
    """The BLAS thread count (1 or all) under which scoring ``ids`` runs faster, found
    as sample's one stream finds its own (threads.timings, on thread_trial); None to
    leave the count as it is (a short text, or a BLAS whose count cannot be set).
    On a busy machine all threads, each waiting on the others, can be several times
    slower than one."""
    if len(ids) < MEASURED_FROM:
        return None
    return threads.fastest(thread_trial(spec, params, ids))


def thread_trial(spec, params, ids):
    """Scoring the first TRIAL_CHARS of ids as checkpoint_score would (score_here):
    what thread_choice times."""
    part, groups = ids[:TRIAL_CHARS + 1], threads.thread_count() or 1
    return lambda: score_here(spec, params, part, groups)


@dataclass
class Scored:
    """What score_source measured: the score, the text's name, the characters dropped."""
    score: Score
    source: str  # "validation split", "stdin" or the file's path
    skipped: int = None  # characters dropped as unknown (None: skip_unknown was off)

    def as_dict(self):
        """A JSON-ready dict; a number that is not finite (a broken model) is None."""
        return jsonout.finite(self.score.as_dict())

    def as_text(self):
        """The lines ``rnngen eval`` prints: name and value, aligned."""
        s = self.score
        return (f"nats/char   {s.nats:.4f}\nbits/char   {s.bits:.4f}\n"
                f"perplexity  {s.perplexity:.4f}\nchars       {s.chars}"
                + (f"\nskipped     {self.skipped}" if self.skipped is not None else ""))


def score_source(ckpt, text=None, skip_unknown=False, device=CPU, stdin=None, measure=False):
    """Score a checkpoint on a text chosen as ``rnngen eval`` chooses it -> Scored.

    text None: the validation split of the corpus it was trained on (see
    checkpoint_score). skip_unknown: the whole text in memory, less the characters the
    model never saw (counted in Scored.skipped). Otherwise the text is streamed as ids
    (memory is the ids, not the text) and an unknown character is a VocabularyError.
    text is a file, a named corpus, or '-' for ``stdin`` (default sys.stdin). measure:
    choose the BLAS thread count by a trial (see checkpoint_score).
    """
    if text is None:
        return Scored(checkpoint_score(ckpt, device=device, measure=measure),
                      "validation split")
    vocab = Vocabulary(ckpt.vocab_chars)
    if skip_unknown:
        whole, source, _ = texts.read_text(text, stdin)
        whole, skipped = vocab.drop_unknown(whole)
        return Scored(checkpoint_score(ckpt, whole, source, device=device, measure=measure),
                      source, skipped)
    ids, source = texts.read_ids(text, vocab, stdin)
    return Scored(checkpoint_score(ckpt, ids=ids, source=source, device=device,
                                   measure=measure), source)


def recorded_validation(ckpt, ask=SCORE_ASK):
    """(corpus, val_ids): the validation split of the corpus a checkpoint was trained
    on, the same split training used, read only if it is provably the same text (see
    checkpoint_score). ``ask`` ends each refusal: what the user can pass instead."""
    data = ckpt.corpus
    if not (data and isinstance(data.name, str) and isinstance(data.val_fraction, float)
            and isinstance(data.sha256, str) and isinstance(data.chars, int)):
        raise CheckpointError("the checkpoint does not record which text it was trained on "
                              f"(corpus, sha256 and length); {ask}")
    name = data.name
    if name in NAMED:  # resolve checks the cached copy against the published sha256
        try:
            corpus = read_corpus(resolve(name))
        except CorpusError as e:  # offline, say: the flag is the way round it
            raise CorpusError(f"{str(e).rstrip('.')}; or {ask}") from None
    else:
        corpus = _read_if_same(Path(name), data.chars, ask)
    if corpus.sha256 != data.sha256:
        raise CorpusError(f"{corpus.source} is not the text this checkpoint was trained on "
                          f"(its sha256 differs); {ask}")
    if corpus.vocab.chars != ckpt.vocab_chars:
        raise CorpusError(f"{corpus.source} is not the corpus this checkpoint was trained "
                          f"on (its vocabulary differs); {ask}")
    return corpus, corpus.split(data.val_fraction)[1]


def _read_if_same(path, chars, ask):
    """Read path as a corpus only if it is a regular file of a size that ``chars``
    UTF-8 characters can have (1 to 4 bytes each), checked on the opened file."""
    ask = "; " + ask
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise CorpusError(f"the checkpoint's corpus {path} cannot be opened "
                          f"({e.strerror or e}){ask}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise CorpusError(f"the checkpoint's corpus {path} is not a regular file, so it "
                          f"cannot be checked against the checkpoint's record{ask}")
    with os.fdopen(fd, "rb") as f:
        if not chars <= info.st_size <= 4 * chars:
            raise CorpusError(f"the checkpoint's corpus {path} has changed (its size does not "
                              f"fit the {chars:,} characters recorded){ask}")
        return read_open_corpus(f, path)
