"""What a task means for a training run: its data, batches, loss and validation.

A run (run.prepare, training.Trainer) is handed its task and never asks which one it
is. Each task module provides:

    load(cfg, origin) -> data      read and check the training data (origin: how
                                   messages name data.corpus)
    inputs(cfg) -> {what: path}    the files the run reads, which it must not write
    describe(cfg, data) -> spec    the model's description (engine.spec)
    vocab_size(data) -> V          the symbols the model reads (for sizing the run)
    Task(cfg, data, spec, workers, device, dtype)
        .units                     what the throughput counts ("char")
        .loss_ceiling              a loss above this means training has diverged
        .next_batch(rng) -> batch  the next training batch
        .size(batch) -> int        its units, for the throughput
        .loss_and_grads(params, batch, bits) -> (loss, grads)
        .validate(params) -> {"val_loss": nats, ...}  (the history's extra metrics)
        .position() / .restore(ckpt, same_batches)   the data position, for resume
        .state                     the carried state to checkpoint (None: none)
        .record() -> {"data": {sha256, chars}, "vocab": str, "classes": [...] or None}
        .check_resumable(ckpt)     CheckpointError unless ckpt continues this data
        .summary() -> [str]        lines about the data, for the user
"""
from . import classify, generate

TASKS = {"generate": generate, "classify": classify}


def of(cfg):
    """The task module a config names (model.task)."""
    return TASKS[cfg.model.task]
