"""Classification as a run's task: one label for each whole text.

The data are labelled texts (labelled.load: a file, a folder of class folders, stdin
or a named set); validation is a stratified fraction of each class, drawn with
train.seed, or a separate file (data.val_file). Batches hold texts of similar
lengths, padded at their ends (labelled.batches.LengthBatches: at most
train.batch_size texts and batch_size x seq_length characters, padding included).
The loss is the cross-entropy of each text's label, nats per text, each class
weighted equally with train.class_weights: balanced. Validation adds accuracy and
macro-F1 to the loss.
"""
import hashlib
import json
import math
from dataclasses import dataclass

import numpy as np

from .. import classification, labelled, metrics
from ..engine import classifier, heads
from ..engine.spec import ClassifierSpec
from ..errors import CheckpointError, CorpusError
from ..labelled import batches as labelled_batches
from ..labelled.encode import build_vocabulary, encode
from ..labelled.split import align, class_counts, stratified_split


@dataclass
class Data:
    """What a classify run reads: its training and validation texts, labelled."""

    train: object  # labelled.Labelled
    val: object  # labelled.Labelled, its labels in train's classes
    vocab: object  # corpus.Vocabulary of the training texts, with the unknown symbol
    sha256: str  # of the examples as read (digest), training and validation together
    chars: int  # characters in all the texts

    @property
    def classes(self):
        return self.train.classes


def _path(name):
    """The file a data setting reads (None for stdin); a named set's cached file."""
    if name == "-":
        return None
    return labelled.NAMED_PATHS[name]() if name in labelled.NAMED_PATHS else name


def inputs(cfg):
    d = cfg.data
    found = {"labelled data": _path(d.corpus)}
    if d.val_file:
        found["validation data"] = _path(d.val_file)
    return found


def limits(cfg):
    d = cfg.data
    return labelled.Limits(d.max_bytes, d.max_rows, d.max_text_chars)


def digest(*parts):
    """sha256 of labelled examples as read (texts and class names, in order): what a
    checkpoint records of its data, whatever form they came in."""
    h = hashlib.sha256()
    for part in parts:
        names = [part.classes[k] for k in part.labels]
        h.update(json.dumps([part.texts, names], ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()


def load(cfg, origin=None, stdin=None):
    """The run's Data: data.corpus read and split (or data.val_file read for
    validation), the vocabulary built from the training texts."""
    d, bounds = cfg.data, limits(cfg)
    whole = labelled.load(d.corpus, limits=bounds, stdin=stdin)
    if d.val_file:
        train, val = whole, align(labelled.load(d.val_file, limits=bounds, stdin=stdin),
                                  whole.classes)
        sha = digest(train, val)
    else:
        train_index, val_index = stratified_split(whole.labels, d.val_fraction, cfg.train.seed)
        train, val = whole.subset(train_index), whole.subset(val_index)
        sha = digest(whole)
    chars = sum(map(len, train.texts)) + sum(map(len, val.texts))
    return Data(train, val, build_vocabulary(train.texts), sha, chars)


def vocab_size(data):
    return len(data.vocab)


def describe(cfg, data):
    m = cfg.model
    return ClassifierSpec(len(data.vocab), m.hidden_size, m.num_layers, m.cell,
                          output_size=len(data.classes), pooling=m.pooling,
                          bidirectional=m.bidirectional)


def class_weights(cfg, data, dtype=np.float64):
    """(K,) weights for train.class_weights (None: every text weighs the same)."""
    if cfg.train.class_weights == "none":
        return None
    return heads.balanced_weights(data.train.labels, len(data.classes)).astype(dtype)


class Task:
    units = "char"
    state = None  # nothing carries from batch to batch

    def __init__(self, cfg, data, spec, workers, device, dtype=np.float32):
        t = cfg.train
        self.cfg, self.data, self.spec, self.device = cfg, data, spec, device
        self.workers = workers  # its map runs a bidirectional encoder's directions at once
        self.train = encode(data.vocab, data.train.texts, data.train.labels)
        self.val = encode(data.vocab, data.val.texts, data.val.labels)
        max_chars = t.batch_size * t.seq_length
        lengths = self.train.lengths
        if lengths.max() > max_chars:
            i = int(lengths.argmax())
            raise CorpusError(f"{data.train.where(i)}: a text of {lengths[i]:,} characters "
                              f"is longer than a batch holds (train.batch_size x "
                              f"train.seq_length = {max_chars:,}); raise train.seq_length")
        self.batches = labelled_batches.LengthBatches(self.train, t.batch_size, max_chars)
        weights = class_weights(cfg, data, dtype)
        self.weights = None if weights is None else device.to_device(weights)
        self.host_weights = class_weights(cfg, data)
        self.loss_ceiling = 10 * math.log(spec.output_size)  # see Trainer.train_step

    def next_batch(self, rng):
        """(ids (T, N), lengths (N,), labels (N,)) on the device."""
        batch, _ = self.batches.next(rng)
        to = self.device.to_device
        return (to(np.ascontiguousarray(batch.ids.T)), to(batch.lengths.astype(np.intp)),
                to(batch.labels))

    def size(self, batch):
        return int(self.device.to_host(batch[1]).sum())

    def loss_and_grads(self, params, batch, bits):
        m = self.cfg.model
        ids, lengths, labels = batch
        loss, grads, _ = classifier.loss_and_grads(
            self.spec, params, ids, lengths, labels, self.weights, dropout=m.dropout, rng=bits,
            weight_drop=m.weight_drop, map_fn=self.workers.map)
        return loss, grads

    def validate(self, params):
        rows = classification.logits(self.spec, params, self.val, self.device,
                                     map_fn=self.workers.map)
        labels = self.val.labels
        s = metrics.scores(metrics.confusion(labels, rows.argmax(axis=1), len(self.data.classes)))
        return {"val_loss": classification.cross_entropy(rows, labels, self.host_weights),
                "val_accuracy": s["accuracy"], "val_macro_f1": s["macro_f1"]}

    def position(self):
        return self.batches.position()

    def restore(self, ckpt, same_batches):
        """Continue the checkpoint's epoch when the batch bounds are the same; else a
        fresh epoch."""
        if same_batches:
            self.batches.restore(ckpt.position)

    def record(self):
        return {"data": {"sha256": self.data.sha256, "chars": self.data.chars},
                "vocab": self.data.vocab.chars, "classes": list(self.data.classes)}

    def check_resumable(self, ckpt):
        recorded = ckpt.corpus
        if recorded is None or recorded.sha256 != self.data.sha256:
            raise CheckpointError("cannot resume: the labelled data differ from those the "
                                  "checkpoint was trained on (their sha256 differs); train "
                                  "on the same data or start a new run")
        if ckpt.classes != tuple(self.data.classes) or ckpt.vocab_chars != self.data.vocab.chars:
            raise CheckpointError("cannot resume: the checkpoint's classes or vocabulary "
                                  "differ from these data's; start a new run")

    def summary(self):
        d = self.data
        lines = [f"{d.train.source}: {len(d.train.texts):,} train / {len(d.val.texts):,} val "
                 f"texts, {len(d.classes)} classes, {len(d.vocab)} symbols"]
        return lines + class_counts(d.classes, d.train.labels, d.val.labels)
