"""A training run, prepared in one place: `rnngen train`, a sweep trial and a notebook
all enter here, and so all get the same checks before any work.

    from rnngen import run

    with run.prepare("shakespeare.yaml", {"train.steps": 500}) as r:
        for stats in r.steps():          # one StepStats per optimizer step
            if stats.val_loss is not None:
                print(stats.step, stats.val_loss)

``prepare`` reads the config (a file, a shipped config's name, or a config.Config) and
its overrides; refuses an output that is one of the run's inputs, the shipped model or
inside the package; sizes the run's memory from the config alone, then again once the
corpus's vocabulary is known; holds the locks on the output and on NAME.best.npz for
the whole run; checks the output can be written; loads the checkpoint to resume from;
and builds the Trainer. Leaving the block releases the locks.
"""
import contextlib
import copy
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import allocator, checkpoint, config, finetune, outputs, resources, sizing, tasks
from .resources import DEFAULT_CONFIG
from .threads import Workers, groups_for, use as use_threads
from .device import select as select_device
from .engine import model
from .errors import CheckpointError, OptionError
from .training import Trainer, best_path

# where a setting came from, as messages name it; prepare(origins=...) may say "--output"
ORIGINS = {"train.output": "--output or train.output", "data.corpus": "data.corpus in the config"}


@dataclass
class Run:
    """A prepared run (made by ``prepare``): its locks are held until the block ends."""
    cfg: object  # config.Config, after the overrides
    config_path: Path  # the file it was read from (None for a Config object)
    corpus: object  # the training data, as the task reads it (corpus.Corpus to generate)
    trainer: Trainer  # steps, validates, checkpoints
    resumed_from: object = None  # the checkpoint.Checkpoint it continues, if any
    notes: list = field(default_factory=list)  # things worth telling the user (no errors)

    @property
    def output(self):
        """Where the checkpoint is written at every validation and at the end."""
        return self.cfg.train.output

    @property
    def best_output(self):
        """Where the best checkpoint by validation loss is kept (NAME.best.npz)."""
        return best_path(self.cfg.train.output)

    def steps(self):
        """Train to train.steps, yielding a training.StepStats after every step (its
        val_loss and checkpoint are set on the steps that validated). Ends early, after
        writing a checkpoint, once ``stop`` has been called."""
        return self.trainer.run()

    def validations(self):
        """Train as ``steps`` does, yielding only the steps that validated: where a
        sweep reports to its pruner (trial.report, then trial.should_prune)."""
        for stats in self.trainer.run():
            if stats.val_loss is not None:
                yield stats

    def stop(self, reason="stopped"):
        """Ask the run to end cleanly: the step under way finishes, a checkpoint is
        written, and ``steps``/``validations`` end. Safe from a signal handler."""
        self.trainer.request_stop(reason)

    @property
    def stop_reason(self):
        """What ``stop`` was called with (a signal number for stop_on_signals), or None."""
        return self.trainer.stop_reason

    @property
    def finished(self):
        return self.trainer.step >= self.cfg.train.steps

    def stop_on_signals(self):
        """A context manager: while in it, SIGINT, SIGTERM and the like call ``stop``
        with the signal's number (a second signal acts as usual)."""
        return StopOnSignals(self.trainer)


@contextlib.contextmanager
def prepare(config_or_path=DEFAULT_CONFIG, overrides=(), *, resume=None, threads=None,
            origins=None, notify=None, overwrite=False, init_from=None):
    """Prepare a training run; a context manager yielding a Run.

    config_or_path: a YAML file, the name of a shipped config, or a config.Config
    (copied, never changed). overrides: {dotted key: value} or (key, value) pairs,
    applied over it (flag > YAML > default). resume: None (start afresh), True (the
    config's own output) or the path of a checkpoint to continue. threads: BLAS
    threads for the run (None: as the BLAS is set). origins: {"train.output" |
    "data.corpus": how the user gave it}, for messages. notify: called with each note
    as it arises (they are also kept in Run.notes). overwrite: a new run (no resume)
    may replace the run whose checkpoints are at the output; without it, that is an error.
    init_from: the path of a checkpoint whose weights a new run starts from (fine-tuning,
    see finetune.py: step 0, a fresh optimizer and data position); not with resume.

    Raises an RnngenError subclass (ConfigError, CorpusError, CheckpointError, ...)
    naming what to change, before anything is written.
    """
    check_start(resume, init_from)
    notes = []

    def note(message):
        if message:
            notes.append(message)
            if notify is not None:
                notify(message)

    origin = dict(ORIGINS, **(origins or {}))
    cfg, config_path = load_config(config_or_path, overrides)
    t, task = cfg.train, tasks.of(cfg)
    sizing.check_training(cfg, 1)  # absurd sizes, before any work (V is not known yet)
    inputs = dict(task.inputs(cfg), **{"config file": config_path,
                                        "checkpoint to start from": init_from})
    claims = [outputs.claim(t.output, inputs, "the output", origin["train.output"]),
              # another run's output may be this run's NAME.best.npz, or the other way round
              outputs.claim(best_path(t.output), inputs, "the best checkpoint",
                            origin["train.output"])]
    with contextlib.ExitStack() as held:
        for lock in claims:  # one live writer per file
            note(held.enter_context(lock).note)
        resumed = None
        if resume is not None:
            resumed = checkpoint.load(t.output if resume is True else resume)
        data = task.load(cfg, origin["data.corpus"])
        if resume is None and not overwrite:  # the inputs are good: is the output free?
            check_no_other_run(t.output)
        sizing.check_training(cfg, task.vocab_size(data))
        note(use_threads(threads))
        trainer = build_trainer(cfg, data, resume=resumed)
        if init_from is not None:
            record = trainer.task.record()
            note(finetune.start(trainer, init_from, record["vocab"], record["classes"]))
        yield Run(cfg, config_path, data, trainer, resumed, notes)


def check_start(resume=None, init_from=None):
    """OptionError when a run is asked both to continue one (resume) and to start anew
    from a checkpoint's weights (init_from)."""
    if init_from is not None and resume is not None:
        raise OptionError("{init_from} starts a new run from a checkpoint's weights and "
                          "{resume} continues a run: give one of them",
                          ("init_from", "resume"))


def load_config(config_or_path, overrides=()):
    """(Config, its file or None): a file or shipped config read with the overrides
    applied, or a copy of a Config with them applied; validated."""
    pairs = list(overrides.items() if isinstance(overrides, Mapping) else overrides)
    if isinstance(config_or_path, config.Config):
        return config.apply_overrides(copy.deepcopy(config_or_path), pairs), None
    path = resources.find_config(str(config_or_path))
    return config.load(path, pairs), path


def build_trainer(cfg, data, resume=None, dtype=np.float32, device=None):
    """A Trainer for ``cfg`` on ``data`` (what its task's ``load`` gives: a
    corpus.Corpus to generate), continuing from the Checkpoint ``resume`` when given;
    on ``device`` (default: train.device). No files, locks or sizing: ``prepare`` does
    those (tests and benchmarks call this directly).
    """
    t, m, task = cfg.train, cfg.model, tasks.of(cfg)
    device = device or select_device(t.device)
    if device.is_host:
        allocator.keep_freed_memory()  # see allocator.py; CPU only
    spec = task.describe(cfg, data)
    # thread groups split the CPU's cores; a device runs each batch in one piece
    workers = Workers(groups_for(t.batch_size, m.hidden_size) if device.is_host else 1)
    run_task = task.Task(cfg, data, spec, workers, device, dtype)
    rng = np.random.default_rng(t.seed)
    params = {k: device.to_device(v) for k, v in
              model.init_params(spec, rng, m.init, m.init_scale, dtype).items()}
    trainer = Trainer(cfg, run_task, params, rng, workers, device)
    if resume is not None:
        check_resumable(cfg, run_task, resume)
        try:
            trainer.restore(resume)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise CheckpointError(f"cannot resume: the checkpoint's training state does not "
                                  f"fit this run ({type(e).__name__}: {e}); start a new "
                                  "run") from None
    return trainer


def check_no_other_run(output):
    """CheckpointError when a new run would replace the checkpoints of another at output
    (or NAME.best.npz), naming what is there and the ways on."""
    found = other_run(output)
    if found:
        raise CheckpointError(f"{found[0]} already holds {found[1]}; continue that run with "
                              "--resume, write this one elsewhere with --output PATH, or "
                              "replace it with --overwrite")


def other_run(output):
    """(path, what it holds) for the first of output and NAME.best.npz that exists (a
    run, or a file rnngen cannot read), or None: what a new run there would replace."""
    for path in (Path(output), best_path(output)):
        if not os.path.lexists(path):
            continue
        try:
            there = checkpoint.load(path)
            record = there.corpus
            what = (f"a run on {record.name if record else 'an unrecorded corpus'} at step "
                    f"{there.step}")
        except CheckpointError:
            what = "a file that is not a checkpoint rnngen can read"
        return path, what
    return None


def check_resumable(cfg, task, ckpt):
    """CheckpointError unless ``ckpt`` can continue this config on the run's data (a
    tasks' Task)."""
    if ckpt.weights_only or ckpt.missing_training_state():
        raise CheckpointError("cannot resume from an exported (weights-only) checkpoint: "
                              "it has no optimizer state; resume from the checkpoint "
                              "training wrote")
    if ckpt.spec.task != task.spec.task:
        raise CheckpointError(f"cannot resume: the checkpoint's model.task is "
                              f"{ckpt.spec.task}, the config says {task.spec.task}; use the "
                              "config it was trained with")
    task.check_resumable(ckpt)
    found = finetune.mismatch(ckpt.spec, task.spec)  # the task compared the sizes
    if found:
        key, was, now = found
        raise CheckpointError(f"cannot resume: the checkpoint has model.{key} = {was} but the "
                              f"config says {now}; use the config it was trained with")
    optimizer = ckpt.settings("train")["optimizer"]
    if optimizer != cfg.train.optimizer:
        raise CheckpointError(
            f"cannot resume: the checkpoint was trained with {optimizer}, "
            f"the config says {cfg.train.optimizer}; keep the optimizer to resume")


class StopOnSignals:
    """While in the block, SIGINT and SIGTERM (and the like) ask the trainer to
    checkpoint and stop; a second signal gets the default behaviour, so a stuck run
    can still be killed. Outside the main thread, signals are left alone."""

    # every signal that ends a terminal session or a job, where the platform has it:
    # Ctrl-C, kill, the terminal closing, Ctrl-backslash, a CPU-time limit
    SIGNALS = tuple(getattr(signal, name) for name in
                    ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGXCPU")
                    if hasattr(signal, name))

    def __init__(self, trainer):
        self.trainer = trainer
        self.previous = {}

    def _handle(self, signum, frame):
        self.trainer.request_stop(signum)
        for s in self.SIGNALS:
            signal.signal(s, self.previous[s])

    def __enter__(self):
        for s in self.SIGNALS:
            try:
                self.previous[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
