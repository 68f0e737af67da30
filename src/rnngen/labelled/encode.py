"""Labelled texts -> ids, with a vocabulary built from the training texts.

A classifier reads text it has not seen: a validation file, or lines piped to
``rnngen classify`` that hold a character the training texts lacked (an emoji, a
rare accent). Refusing the whole input over one character would break a pipeline,
so, as word-level classifiers do with an unknown token, the vocabulary reserves
one symbol, UNKNOWN, and every character outside it is read as that symbol. The
symbol is U+FFFD, Unicode's own replacement character, so the vocabulary stays a
plain string of characters (corpus.Vocabulary, saved as generation's is).

The unknown symbol must be learned, not left at its initial weights: characters
seen fewer than ``min_count`` times in training are read as UNKNOWN too, so
training meets it wherever the data has rare characters.
"""
from dataclasses import dataclass

import numpy as np

from ..corpus import Vocabulary
from ..errors import OptionError

UNKNOWN = "\ufffd"
MIN_COUNT = 2  # a character seen once in training is read as UNKNOWN


@dataclass
class Encoded:
    """N id sequences end to end, with their labels.

    ids: (sum of lengths,) compact unsigned ids. offsets: (N+1,) where sequence i is
    ids[offsets[i]:offsets[i+1]]. labels: (N,) int, or None for texts to classify.
    unknown: characters read as UNKNOWN because the vocabulary lacks them (a U+FFFD
    in the text itself is the symbol, not counted).
    """

    ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    unknown: int

    def __len__(self):
        return len(self.offsets) - 1

    @property
    def lengths(self):
        """(N,) characters in each sequence."""
        return np.diff(self.offsets)

    def sequence(self, i):
        return self.ids[self.offsets[i]:self.offsets[i + 1]]


def _code_points(texts):
    """(all the texts' code points end to end as uint32, (N+1,) offsets)."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    cps = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    return cps, offsets


def build_vocabulary(texts, min_count=MIN_COUNT):
    """The Vocabulary of the characters seen at least min_count times in texts, and
    UNKNOWN."""
    if min_count < 1:
        raise OptionError(f"min_count must be >= 1, got {min_count}")
    cps, _ = _code_points(texts)
    values, counts = np.unique(cps, return_counts=True)
    return Vocabulary("".join(map(chr, values[counts >= min_count])) + UNKNOWN)


def encode(vocab, texts, labels=None):
    """Encoded of texts (N strings) and labels ((N,) int, or None) under vocab, which
    must hold UNKNOWN; every character outside vocab becomes UNKNOWN's id."""
    if UNKNOWN not in vocab.index:
        raise OptionError("this vocabulary has no unknown symbol (U+FFFD); build it with "
                          "build_vocabulary")
    cps, offsets = _code_points(texts)
    known = np.frombuffer(vocab.chars.encode("utf-32-le"), dtype=np.uint32)  # sorted
    ids = np.searchsorted(known, cps)
    missing = ids >= len(known)
    missing[~missing] = known[ids[~missing]] != cps[~missing]
    ids[missing] = vocab.index[UNKNOWN]
    if labels is not None:
        labels = np.asarray(labels, dtype=np.intp)
        if labels.shape != (len(texts),):
            raise OptionError(f"{len(texts)} texts but labels of shape {labels.shape}")
    return Encoded(ids.astype(vocab.dtype), offsets, labels, int(missing.sum()))
