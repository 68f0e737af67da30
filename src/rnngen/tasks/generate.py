"""Generation as a run's task: predict each next character of one text.

Batches are N streams over the text, T steps at a time, carrying each stream's
hidden state from batch to batch (training.Batches); the loss is nats per
character; validation scores the held-out end of the text (evaluation.score).
"""
import math

import numpy as np

from .. import corpus, evaluation
from ..engine import model
from ..engine.spec import ModelSpec
from ..errors import CheckpointError, CorpusError


def inputs(cfg):
    return {"corpus": corpus.resolve(cfg.data.corpus, fetch=False)}


def load(cfg, origin):
    """The corpus (corpus.Corpus), downloaded first if it is a named one."""
    return corpus.read_corpus(corpus.resolve(cfg.data.corpus), origin)


def vocab_size(data):
    return len(data.vocab)


def describe(cfg, data):
    m = cfg.model
    return ModelSpec(len(data.vocab), m.hidden_size, m.num_layers, m.cell, m.skip)


class Task:
    units = "char"

    def __init__(self, cfg, text, spec, workers, device, dtype=np.float32):
        from ..training import Batches  # training imports the tasks' callers

        t = cfg.train
        self.cfg, self.corpus, self.spec, self.workers = cfg, text, spec, workers
        train_ids, val_ids = text.split(cfg.data.val_fraction)
        self.batches = Batches(train_ids, t.batch_size, t.seq_length, device.xp)
        if len(val_ids) < 2:
            raise CorpusError(f"the validation split of {text.source} has fewer than 2 "
                              "characters; raise data.val_fraction or use a longer corpus")
        if t.eval_chars:
            val_ids = val_ids[: t.eval_chars + 1]
        self.val_ids = val_ids
        self.state = model.zero_state(spec, t.batch_size, dtype, device.xp)
        self.device = device
        self.loss_ceiling = 10 * math.log(max(spec.vocab_size, 2))  # see Trainer.train_step

    @property
    def train_ids(self):
        return self.batches.ids

    def next_batch(self, rng):
        """(inputs (T, N), targets (T, N)); a new epoch starts from a zero state."""
        inputs, targets, new_epoch = self.batches.next(rng)
        if new_epoch:
            self.state[:] = 0
        return inputs, targets

    def size(self, batch):
        return batch[0].size

    def loss_and_grads(self, params, batch, bits):
        m = self.cfg.model
        inputs, targets = batch
        # one group of streams per BLAS thread, each on its own thread: see threads.py
        loss, grads, _, self.state = model.split_loss_and_grads(
            self.spec, params, inputs, targets, self.state, m.dropout, bits, m.weight_drop,
            self.workers.groups, self.workers.map)
        return loss, grads

    def validate(self, params):
        return {"val_loss": evaluation.score(self.spec, params, self.val_ids,
                                             workers=self.workers).nats}

    def position(self):
        return self.batches.position()

    def restore(self, ckpt, same_batches):
        """Continue the checkpoint's stream positions and carried state when the batch
        shape is the same; else a fresh epoch from a zero state."""
        if same_batches and ckpt.state is not None and ckpt.state.shape == self.state.shape:
            self.batches.restore(ckpt.position)
            self.state = self.device.to_device(np.array(ckpt.state, dtype=self.state.dtype))

    def record(self):
        return {"data": {"sha256": self.corpus.sha256, "chars": int(len(self.corpus.ids))},
                "vocab": self.corpus.vocab.chars, "classes": None}

    def check_resumable(self, ckpt):
        if ckpt.vocab_chars != self.corpus.vocab.chars:
            raise CheckpointError(
                "cannot resume: the checkpoint's vocabulary differs from this corpus's "
                f"({len(ckpt.vocab_chars)} vs {len(self.corpus.vocab)} characters); "
                "train on the same corpus or start a new run")

    def summary(self):
        return [f"{self.corpus.source}: {len(self.train_ids):,} train / "
                f"{len(self.val_ids):,} val characters, {len(self.corpus.vocab)} symbols"]
