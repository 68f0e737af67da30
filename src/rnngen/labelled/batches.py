"""Length-bucketed batches of labelled sequences, resumable.

Sequences of different lengths are padded to their batch's longest, so a batch of
similar lengths wastes little: each epoch shuffles the examples, sorts them by
length within pools of ``pool`` batches' worth (so batches still mix examples from
across the data, as torchtext's BucketIterator does), cuts the pools into batches
and shuffles the batches. A batch holds at most batch_size sequences and at most
max_chars padded cells (N x T), which bounds its memory whatever the lengths.

Randomness: each epoch draws one seed from the Generator passed to ``next`` and
plans the epoch from it, so a saved position (epoch, seed, batch index: a few
numbers, JSON-ready) rebuilds the same epoch exactly on resume.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import OptionError

PAD = 0  # id written past a sequence's end; the model must never read it (lengths say where)
POOL = 100  # batches' worth of examples sorted together


@dataclass
class Batch:
    """ids: (N, T) padded with PAD. lengths: (N,). labels: (N,) int, or None.
    index: (N,) the examples' positions in the Encoded they came from."""

    ids: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    index: np.ndarray


def check_fits(lengths, max_chars):
    """OptionError if one sequence alone is longer than a batch may hold."""
    longest = int(np.max(lengths, initial=0))
    if longest > max_chars:
        raise OptionError(f"a text of {longest:,} characters is longer than the {max_chars:,} "
                          "characters a batch may hold; raise the characters-per-batch bound "
                          "or shorten the text")


def _cut(lengths, order, batch_size, max_chars):
    """Split order (positions sorted by length, ascending) into batches: each as long
    as batch_size and max_chars allow, its cost (count x longest) rising with count."""
    batches, i = [], 0
    while i < len(order):
        window = lengths[order[i:i + batch_size]]
        costs = np.arange(1, len(window) + 1) * window  # nondecreasing: window is sorted
        take = max(int(np.searchsorted(costs, max_chars, side="right")), 1)
        batches.append(order[i:i + take])
        i += take
    return batches


def plan(lengths, batch_size, max_chars, rng=None, pool=POOL):
    """One epoch's batches as a list of index arrays, each example in exactly one.

    rng None: all examples sorted by length, batches in that order (evaluation,
    classification: deterministic, least padding). A Generator: shuffled, sorted
    within pools of pool x batch_size examples, batches shuffled (training).
    """
    if batch_size < 1 or max_chars < 1:
        raise OptionError(f"batch_size and max_chars must be >= 1, got {batch_size} and "
                          f"{max_chars}")
    lengths = np.asarray(lengths)
    check_fits(lengths, max_chars)
    if rng is None:
        return _cut(lengths, np.argsort(lengths, kind="stable"), batch_size, max_chars)
    order = rng.permutation(len(lengths))
    size = pool * batch_size
    batches = []
    for start in range(0, len(order), size):
        part = order[start:start + size]
        batches += _cut(lengths, part[np.argsort(lengths[part], kind="stable")], batch_size,
                        max_chars)
    return [batches[k] for k in rng.permutation(len(batches))]


def padding_fraction(lengths, batches):
    """The fraction of the batches' padded cells (sum of N x T) that are padding."""
    lengths = np.asarray(lengths)
    cells = sum(len(b) * int(lengths[b].max()) for b in batches)
    return 1 - int(lengths.sum()) / cells if cells else 0.0


def gather(data, index):
    """The Batch of data's (an Encoded) examples at index, padded to the longest."""
    index = np.asarray(index, dtype=np.intp)
    lengths = data.lengths[index]
    ids = np.full((len(index), int(lengths.max(initial=0))), PAD, dtype=data.ids.dtype)
    # the examples' ids end to end: each run starts at its offset
    starts = np.repeat(data.offsets[index] - np.cumsum(lengths) + lengths, lengths)
    ids[np.arange(ids.shape[1]) < lengths[:, None]] = data.ids[starts + np.arange(len(starts))]
    labels = None if data.labels is None else data.labels[index]
    return Batch(ids, lengths, labels, index)


def in_order(data, batch_size, max_chars):
    """Every example of data once, in batches sorted by length (see plan, rng None);
    each Batch's index says where its rows belong."""
    for index in plan(data.lengths, batch_size, max_chars):
        yield gather(data, index)


class LengthBatches:
    """Training batches over an Encoded, epoch after epoch, resumable."""

    def __init__(self, data, batch_size, max_chars, pool=POOL):
        check_fits(data.lengths, max_chars)
        self.data, self.batch_size, self.max_chars, self.pool = data, batch_size, max_chars, pool
        self.epoch, self.seed, self.index, self.batches = 0, None, None, None

    def _plan(self):
        rng = np.random.default_rng(self.seed)
        self.batches = plan(self.data.lengths, self.batch_size, self.max_chars, rng, self.pool)

    def next(self, rng):
        """(Batch, new_epoch): the next batch; a new epoch's plan is drawn from rng."""
        new_epoch = self.index is None or self.index >= len(self.batches)
        if new_epoch:
            if self.index is not None:
                self.epoch += 1
            self.seed = int(rng.integers(2 ** 63))
            self._plan()
            self.index = 0
        batch = gather(self.data, self.batches[self.index])
        self.index += 1
        return batch, new_epoch

    @property
    def padding(self):
        """The padding fraction of the current epoch's plan (None before the first)."""
        return None if self.batches is None else padding_fraction(self.data.lengths, self.batches)

    def position(self):
        return {"epoch": self.epoch, "seed": self.seed, "index": self.index}

    def restore(self, pos):
        """Continue from a saved position; one that does not fit these data and batch
        bounds (a checkpoint from elsewhere) is refused with ValueError."""
        try:
            epoch, seed, index = pos["epoch"], pos["seed"], pos["index"]
        except (KeyError, TypeError):
            raise ValueError(f"data position {pos} is not a labelled-batch position") from None

        def count(v, top=None):
            return isinstance(v, int) and not isinstance(v, bool) and 0 <= v \
                and (top is None or v < top)

        fresh = seed is None and index is None
        if not count(epoch) or not (fresh or (count(seed, 2 ** 63) and count(index))):
            raise ValueError(f"data position {pos} is not a labelled-batch position")
        self.epoch, self.seed, self.index, self.batches = epoch, seed, index, None
        if fresh:
            return
        self._plan()
        if index > len(self.batches):
            self.index, self.batches = None, None
            raise ValueError(f"data position {pos} is outside these data's batches")
