"""Using a classifier: texts in, class probabilities out, and its scores on labelled data.

Texts run through the model in batches of similar lengths (labelled.batches.in_order),
so padding costs little, and come back in their own order. A text's probabilities do
not depend on the batch it ran in (engine/classifier.py: padding is invisible).
"""
from dataclasses import dataclass

import numpy as np

from . import checkpoint, metrics
from .device import CPU
from .engine import classifier, heads, layers
from .errors import CheckpointError
from .labelled import batches as labelled_batches
from .labelled.encode import encode

BATCH_TEXTS = 512  # texts in one inference batch at most
BATCH_BYTES = 32 << 20  # about the most a batch's forward pass keeps, per direction


def batch_bounds(spec, lengths, batch_size=BATCH_TEXTS):
    """(texts, characters) one inference batch may hold: as many characters as keep
    the forward pass's arrays (the cell's gates, state and outputs for every step,
    about (G + 3) H floats a character) near BATCH_BYTES, and never fewer than the
    longest text needs."""
    per_char = (spec.cell_module.GATES + 3) * spec.hidden_size * 8
    longest = int(np.max(lengths, initial=1))
    return batch_size, max(BATCH_BYTES // per_char, longest, 1)


def logits(spec, params, encoded, device=CPU, batch_size=BATCH_TEXTS):
    """(N, K) host logits of encoded's N texts (a labelled.encode.Encoded), in its order."""
    out = np.empty((len(encoded), spec.output_size), dtype=np.float64)
    texts, chars = batch_bounds(spec, encoded.lengths, batch_size)
    for batch in labelled_batches.in_order(encoded, texts, chars):
        ids = device.to_device(np.ascontiguousarray(batch.ids.T))  # (T, N), time-major
        lengths = device.to_device(batch.lengths.astype(np.intp))
        out[batch.index] = device.to_host(classifier.forward(spec, params, ids, lengths)[0])
    return out


def cross_entropy(logit_rows, labels, class_weights=None):
    """The mean (or class-weighted mean, as training's) cross-entropy, nats per text."""
    return heads.cross_entropy(logit_rows, labels, class_weights)[0]


def probabilities(logit_rows):
    """(N, K) logits -> (N, K) class probabilities."""
    return np.exp(layers.log_probs(logit_rows))


@dataclass
class Classifier:
    """A classifier ready to answer (what a server keeps loaded): its description,
    parameters on the device, vocabulary (with the unknown symbol) and class names."""

    spec: object  # engine.spec.ClassifierSpec
    params: dict
    vocab: object  # corpus.Vocabulary
    classes: tuple
    device: object = CPU

    @classmethod
    def from_checkpoint(cls, ckpt, device=CPU, path="the checkpoint"):
        if ckpt.spec.task != "classify":
            raise CheckpointError(f"{path} is a character model ({ckpt.spec.describe()}), not "
                                  "a classifier; use rnngen sample or eval with it")
        params = {k: device.to_device(v) for k, v in ckpt.params.items()}
        return cls(ckpt.spec, params, ckpt.vocab, ckpt.classes, device)

    @classmethod
    def load(cls, path, device=CPU):
        return cls.from_checkpoint(checkpoint.load(path), device, path)

    def encode(self, texts, labels=None):
        """labelled.encode.Encoded of texts; characters the model never saw are read as
        its unknown symbol (Encoded.unknown counts them)."""
        return encode(self.vocab, texts, labels)

    def logits(self, encoded, batch_size=BATCH_TEXTS):
        return logits(self.spec, self.params, encoded, self.device, batch_size)

    def probabilities(self, texts):
        """(N, K) class probabilities of N texts, in the classes' order."""
        return probabilities(self.logits(self.encode(texts)))

    def evaluate(self, data):
        """metrics.evaluate's summary of labelled data (a labelled.Labelled whose classes
        are this model's, see labelled.split.align), with the loss in nats per text
        and the characters the model never saw."""
        encoded = self.encode(data.texts, data.labels)
        rows = self.logits(encoded)
        summary = metrics.evaluate(data.labels, rows.argmax(axis=1), self.classes)
        return dict(summary, nats_per_text=cross_entropy(rows, data.labels),
                    unknown_chars=encoded.unknown)
