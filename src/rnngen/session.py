"""Building a training run: what the Trainer needs, made once, so the Trainer only steps.

``start`` chooses the device, splits the corpus, builds the batches, initialises (or
resumes) the model, starts the thread pool and checks the output can be written.
"""
import numpy as np

from . import allocator, checkpoint, schema, threads
from .device import select as select_device
from .engine import model
from .engine.spec import ModelSpec
from .errors import CheckpointError, CorpusError
from .training import Batches, Trainer


def start(cfg, corpus, resume=None, dtype=np.float32, device=None):
    """A Trainer for ``cfg`` on ``corpus`` (a corpus.Corpus), continuing from the
    Checkpoint ``resume`` when given; on ``device`` (default: train.device)."""
    t, m = cfg.train, cfg.model
    device = device or select_device(t.device)
    if device.is_host:
        allocator.keep_freed_memory()  # see allocator.py; CPU only
    train_ids, val_ids = corpus.split(cfg.data.val_fraction)
    batches = Batches(train_ids, t.batch_size, t.seq_length, device.xp)
    if len(val_ids) < 2:
        raise CorpusError(f"the validation split of {corpus.source} has fewer than 2 "
                          "characters; raise data.val_fraction or use a longer corpus")
    if t.eval_chars:
        val_ids = val_ids[: t.eval_chars + 1]
    rng = np.random.default_rng(t.seed)
    spec = ModelSpec(len(corpus.vocab), m.hidden_size, m.num_layers, m.cell, m.skip)
    params = {k: device.to_device(v) for k, v in
              model.init_params(spec, rng, m.init, m.init_scale, dtype).items()}
    # thread groups split the CPU's cores; a device runs each batch in one piece
    groups = threads.groups_for(t.batch_size, m.hidden_size) if device.is_host else 1
    trainer = Trainer(cfg, corpus, spec, params, batches, val_ids, rng,
                      threads.Workers(groups), device)
    checkpoint.check_writable(t.output)
    if resume is not None:
        check_resumable(cfg, corpus, spec, resume)
        try:
            trainer.restore(resume)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise CheckpointError(f"cannot resume: the checkpoint's training state does not "
                                  f"fit this run ({type(e).__name__}: {e}); start a new "
                                  "run") from None
    return trainer


def check_resumable(cfg, corpus, spec, ckpt):
    """CheckpointError unless ``ckpt`` can continue this config on this corpus."""
    meta = ckpt.meta
    if meta.get("weights_only") or schema.missing_training_state(meta):
        raise CheckpointError("cannot resume from an exported (weights-only) checkpoint: "
                              "it has no optimizer state; resume from the checkpoint "
                              "training wrote")
    if meta["vocab"] != corpus.vocab.chars:
        raise CheckpointError(
            "cannot resume: the checkpoint's vocabulary differs from this corpus's "
            f"({len(meta['vocab'])} vs {len(corpus.vocab)} characters); "
            "train on the same corpus or start a new run")
    for key, was in ckpt.spec.to_dict().items():
        now = getattr(spec, key)
        if was != now and key != "vocab_size":  # the vocabulary was compared above
            raise CheckpointError(
                f"cannot resume: the checkpoint has model.{key} = {was} but the config "
                f"says {now}; use the config it was trained with")
    if meta["train"]["optimizer"] != cfg.train.optimizer:
        raise CheckpointError(
            f"cannot resume: the checkpoint was trained with {meta['train']['optimizer']}, "
            f"the config says {cfg.train.optimizer}; keep the optimizer to resume")
