"""One trial's training run, prepared as `rnngen train` prepares one: protected
paths, sizing, one live writer per checkpoint, writability, resume.

``training(cfg, resume)`` is a context manager yielding a Run whose ``points()``
generator yields after every step (None) and at every validation point (a dict of
the metrics the run reports, by name, with its step), so a trial can report to
Optuna at the validation points and stop the run cleanly between steps.
"""
import contextlib
from dataclasses import dataclass

from .. import checkpoint, corpus, lock, resources, session, sizing
from ..training import best_path


@dataclass
class Point:
    step: int
    metrics: dict  # name -> value, as the run reports them (val_loss: nats/char)


class Run:
    def __init__(self, trainer):
        self.trainer = trainer

    @property
    def step(self):
        return self.trainer.step

    @property
    def seconds(self):
        """Training and validation time so far, across resumes."""
        return self.trainer.seconds

    def history(self):
        """The validation points a resumed run already made, as Points."""
        return [Point(h["step"], _metrics(h)) for h in self.trainer.history]

    def points(self):
        for stats in self.trainer.run():
            yield (Point(stats.step, _metrics(self.trainer.history[-1]))
                   if stats.val_loss is not None else None)

    def stop(self, reason):
        """Write a checkpoint and end ``points()`` after the current step."""
        self.trainer.request_stop(reason)


def _metrics(entry):
    return {k: v for k, v in entry.items() if k not in ("step", "seconds")}


@contextlib.contextmanager
def training(cfg, resume=None):
    """A Run of ``cfg`` (continuing the checkpoint at path ``resume`` when given),
    holding the locks on its checkpoints while it lasts."""
    t = cfg.train
    resources.check_output_allowed(t.output)
    sizing.check_training(cfg, 1)
    corpus_path = corpus.resolve(cfg.data.corpus)
    for out in (t.output, best_path(t.output)):
        lock.check_distinct(out, {"corpus": corpus_path})
        checkpoint.check_writable(out)
    with lock.OutputLock(t.output), lock.OutputLock(best_path(t.output)):
        ckpt = checkpoint.load(resume) if resume else None
        text = corpus.read_corpus(corpus_path, "data.corpus in the config")
        sizing.check_training(cfg, len(text.vocab))
        yield Run(session.start(cfg, text, resume=ckpt))
