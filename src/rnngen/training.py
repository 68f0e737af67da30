"""The training loop, as a generator of per-step statistics.

``Trainer.run()`` yields a ``StepStats`` after every optimizer step; the caller
(the CLI, a notebook) decides what to show. Checkpoints are written at every
validation, at the end, and when ``request_stop`` is called (between steps, so a
checkpoint never holds a half-applied update).
"""
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checkpoint
from .engine import optim
from .errors import CorpusError, TrainingDiverged


@dataclass
class StepStats:
    step: int  # steps done so far
    loss: float  # this batch's training loss, nats/char
    learning_rate: float
    chars_per_sec: float  # training throughput over this step
    val_loss: float = None  # set on steps that validated
    checkpoint: str = None  # set on steps that wrote a checkpoint


class Batches:
    """N parallel streams over the training ids, served T steps at a time.

    The text is cut into N contiguous streams; batch k holds positions
    offset + k*T ... + T of every stream (inputs) and the characters one later
    (targets), so each stream's hidden state carries over from batch to batch.
    Each epoch starts at a random offset in [0, T), so epochs do not repeat the
    same windows, and with a fresh (zero) hidden state.
    """

    def __init__(self, ids, batch_size, seq_length, xp=np):
        self.ids, self.N, self.T = xp.asarray(ids), batch_size, seq_length
        self.stream_len = (len(ids) - 1) // batch_size
        if self.stream_len < seq_length:
            need = batch_size * seq_length + 1
            raise CorpusError(
                f"the training text has {len(ids)} characters, fewer than one batch needs "
                f"({need} = batch_size x seq_length + 1); lower train.batch_size or "
                "train.seq_length, or use a longer corpus")
        # index arrays on the ids' device, so batches are gathered there
        self.starts = xp.arange(batch_size) * self.stream_len
        self.steps = xp.arange(seq_length + 1)
        self.epoch, self.offset, self.index = 0, 0, None  # index None: epoch not begun

    def next(self, rng):
        """(inputs (T, N), targets (T, N), new_epoch)."""
        new_epoch = self.index is None or self.offset + (self.index + 1) * self.T > self.stream_len
        if new_epoch:
            if self.index is not None:
                self.epoch += 1
            self.offset = int(rng.integers(0, min(self.T, self.stream_len - self.T + 1)))
            self.index = 0
        pos = self.starts[:, None] + self.offset + self.index * self.T + self.steps  # (N, T+1)
        window = self.ids[pos].T  # (T+1, N)
        self.index += 1
        return window[:-1], window[1:], new_epoch

    def position(self):
        return {"epoch": self.epoch, "offset": self.offset, "index": self.index}

    def restore(self, pos):
        """Continue from a saved position; one that does not fit this text and batch
        shape (a checkpoint from elsewhere) is refused with ValueError."""
        epoch, offset, index = pos["epoch"], pos["offset"], pos["index"]
        if index is not None and not (0 <= offset < self.T and 0 <= index
                                      and offset + index * self.T <= self.stream_len):
            raise ValueError(f"data position {pos} is outside this corpus's batches")
        self.epoch, self.offset, self.index = epoch, offset, index


def best_path(output):
    """Where the best-by-validation checkpoint is kept beside the output."""
    output = Path(output)
    return output.with_name(output.stem + ".best" + output.suffix)


class Trainer:
    """Steps a model through its task's batches, validates and checkpoints
    (run.build_trainer builds one: the task, device, a fresh or resumed model,
    threads). The task (tasks/) says what a batch, the loss and validation are.

    Parameters, optimizer state, the carried state and the batches live on
    ``device`` (device.Device); a checkpoint copies them to the host.
    """

    def __init__(self, cfg, task, params, rng, workers, device):
        self.cfg, self.task, self.spec, self.params = cfg, task, task.spec, params
        self.rng, self.workers, self.device = rng, workers, device
        t = cfg.train
        self.update = optim.RULES[t.optimizer]
        hyper = {k: getattr(t, k) for k in ("momentum", "beta1", "beta2", "decay_rate",
                                            "epsilon", "weight_decay")}
        self.opt = {name: dict(hyper) for name in params}
        self.step, self.history, self.best_val = 0, [], math.inf
        self.seconds = 0.0
        self.recent_losses = []  # training losses since the last validation
        self.loss_ceiling = task.loss_ceiling  # see train_step
        self.early_stop = None  # set to a message when train.patience ends the run
        self.init_from = None  # {path, sha256, step} of the checkpoint a fine-tuning began at
        self._stop = None

    # a character model's data, as the task holds it
    @property
    def batches(self):
        return self.task.batches

    @property
    def state(self):
        return self.task.state

    @property
    def corpus(self):
        return self.task.corpus

    @property
    def train_ids(self):
        return self.task.train_ids

    @property
    def val_ids(self):
        return self.task.val_ids

    def restore(self, ckpt):
        """Take weights, optimizer state, position, RNG state and history from a
        checkpoint that run.check_resumable has found compatible."""
        dtype = self.params["Whh0"].dtype
        self.params = {k: self.device.to_device(np.ascontiguousarray(v, dtype=dtype))
                       for k, v in ckpt.params.items()}
        for name, slots in ckpt.optimizer_state.items():
            for slot, value in slots.items():
                self.opt[name][slot] = (self.device.to_device(np.array(value, dtype=dtype))
                                        if isinstance(value, np.ndarray) else value)
        self.step = ckpt.step
        self.history = ckpt.history
        self.best_val = ckpt.best_val or math.inf
        self.seconds = ckpt.train_seconds or 0.0
        self.recent_losses = ckpt.recent_losses
        self.init_from = ckpt.init_from
        self.rng.bit_generator.state = ckpt.rng_state
        t, old_t = self.cfg.train, ckpt.settings("train")
        same_shape = (old_t["batch_size"], old_t["seq_length"]) == (t.batch_size, t.seq_length)
        # else: a new batch shape starts a fresh epoch (and a zero state)
        self.task.restore(ckpt, same_shape)

    # -- control --------------------------------------------------------------
    def request_stop(self, reason="interrupted"):
        """Ask run() to write a checkpoint and return after the current step."""
        self._stop = reason

    @property
    def stop_reason(self):
        return self._stop

    def learning_rate(self):
        t = self.cfg.train
        return optim.learning_rate(self.step, t.learning_rate, t.lr_schedule, t.steps,
                                   t.warmup_steps, t.lr_decay, t.lr_decay_every, t.min_lr)

    # -- the loop -------------------------------------------------------------
    def run(self):
        t = self.cfg.train
        while self.step < t.steps and self.early_stop is None:
            if self._stop:
                self.save(t.output)
                return
            started = time.perf_counter()
            batch = self.task.next_batch(self.rng)
            lr = self.learning_rate()
            loss = self.train_step(batch, lr)
            elapsed = time.perf_counter() - started
            self.seconds += elapsed
            self.recent_losses.append(loss)
            stats = StepStats(self.step, loss, lr, self.task.size(batch) / max(elapsed, 1e-9))
            if self.step % t.eval_every == 0 or self.step == t.steps:
                self._validate(stats, float(np.mean(self.recent_losses)))
                self.recent_losses = []
            yield stats

    def train_step(self, batch, lr):
        """One optimizer step on a batch of the task's (for generation, inputs and
        targets (T, N), carrying the hidden state).

        Returns the batch's loss (nats per character, or per text to classify).
        Raises TrainingDiverged, before any weight changes, if the loss or gradient
        norm is not finite, or the loss is over ten times a uniform guess's (ln V, or
        ln K: as lost as nan, only slower to show it).
        """
        bits = self.device.mask_bits(self.rng, self.cfg.train.seed, self.step)
        loss, grads = self.task.loss_and_grads(self.params, batch, bits)
        self._check_and_clip(grads, loss)
        optim.update_all(self.update, self.params, grads, self.opt, lr, self.workers.map,
                         self.workers.groups)
        self.step += 1
        return loss

    def _check_and_clip(self, grads, loss):
        t = self.cfg.train
        norm = optim.clip_by_norm(grads, t.clip_norm) if t.clip_norm else 0.0
        if not (math.isfinite(loss) and math.isfinite(norm) and loss < self.loss_ceiling):
            raise TrainingDiverged(
                f"training diverged at step {self.step + 1} (loss is {loss:.4g}); the last good "
                f"checkpoint is {self.cfg.train.output} if one was written; lower "
                f"train.learning_rate (now {t.learning_rate}) or set train.clip_norm, and "
                "resume or start again")
        if t.clip_value:
            optim.clip_by_value(grads, t.clip_value)

    def _validate(self, stats, train_loss):
        t = self.cfg.train
        started = time.perf_counter()
        metrics = self.task.validate(self.params)
        self.seconds += time.perf_counter() - started
        val = metrics["val_loss"]
        self.history.append(dict({"step": self.step, "train_loss": train_loss},
                                 **metrics, seconds=round(self.seconds, 3)))
        stats.val_loss = val
        if val < self.best_val:
            self.best_val = val
            self.save(best_path(t.output))
        elif t.patience and self.since_best() >= t.patience:
            self.early_stop = (f"validation has not improved for {t.patience} validations "
                               f"(train.patience); the best is {self.best_val:.4f} at step "
                               f"{self.history[-1 - self.since_best()]['step']}")
        self.save(t.output)
        stats.checkpoint = t.output

    def since_best(self):
        """Validations since the best one (0: the last was the best), from the history,
        so that a resumed run counts as the run it continues did."""
        losses = [h["val_loss"] for h in self.history]
        return len(losses) - 1 - losses.index(min(losses)) if losses else 0

    def checkpoint(self):
        """The current state as a Checkpoint (host arrays are shared, not copied; a
        device's are copied to the host)."""
        host = self.device.to_host
        opt = {name: {k: (host(slots[k]) if hasattr(slots[k], "shape") else slots[k])
                      for k in self.update.state if k in slots}
               for name, slots in self.opt.items()}
        record = self.task.record()
        meta = checkpoint.training_record(
            self.cfg, record["data"], record["vocab"], classes=record["classes"],
            step=self.step, position=self.task.position(),
            rng=self.rng.bit_generator.state, history=self.history,
            best_val=None if math.isinf(self.best_val) else self.best_val,
            seconds=self.seconds, recent_losses=self.recent_losses, init_from=self.init_from)
        params = {k: host(v) for k, v in self.params.items()}
        state = None if self.task.state is None else host(self.task.state)
        return checkpoint.Checkpoint(self.spec, params, meta, state, opt)

    def save(self, path):
        checkpoint.save(path, self.checkpoint())
