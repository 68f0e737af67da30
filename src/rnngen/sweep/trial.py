"""One Optuna trial: a normal training run of the config with the trial's values,
reported to Optuna at every validation point and stopped early when the pruner
says so, when its time is up, or when the sweep is interrupted.

An interrupted trial is marked failed and a copy of it is enqueued that resumes its
checkpoint, so no training is lost and the study's record stays true (Optuna
cannot move a trial back to running). A trial whose worker was killed outright is
found and treated the same way by the next worker on its host (study.recover).
"""
import copy
import math
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import config, run as runs
from ..errors import CheckpointError, ConfigError, RnngenError, TrainingDiverged
from ..threads import thread_count

HOST = socket.gethostname()
STATES = ("complete", "pruned", "failed", "interrupted")


@dataclass
class Outcome:
    """What became of one trial, for the progress line and the caller."""

    number: int
    state: str  # one of STATES
    value: float = None  # the objective at the trial's last validation point
    step: int = 0
    seconds: float = 0.0
    params: dict = field(default_factory=dict)
    note: str = ""  # why it was pruned, failed or cut short; what it resumed

    def line(self, objective):
        values = " ".join(f"{k}={short(v)}" for k, v in self.params.items())
        value = f"{objective} {self.value:.4f}" if self.value is not None else "no value"
        note = f"; {self.note}" if self.note else ""
        return (f"trial {self.number}: {self.state} at step {self.step}, {value} "
                f"({self.seconds:.0f} s) {values}{note}")


def short(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def trial_config(cfg, params, output):
    """The run a trial makes: the config with the trial's values, writing ``output``."""
    cfg = copy.deepcopy(cfg)
    return config.apply_overrides(cfg, list(params.items()) + [("train.output", str(output))],
                                  "the trial's values")


def output_path(folder, number):
    return Path(folder) / f"trial-{number}.npz"


def run(study, trial, plan, stop, deadline=None):
    """Run ``trial`` (an optuna Trial from study.ask) to the end and tell the study;
    returns its Outcome. ``stop.reason`` set (a signal) ends it as interrupted;
    ``deadline`` (time.monotonic) ends its training, keeping its last value."""
    import optuna

    sweep = plan.sweep
    params = {key: p.suggest(trial) for key, p in sweep.params.items()}
    output = output_path(plan.folder, trial.number)
    outcome = Outcome(trial.number, "failed", params=params)
    resume = trial.user_attrs.get("resume_from")
    if resume and not Path(resume).is_file():
        outcome.note, resume = f"could not resume {resume} (gone); started afresh", None
    elif resume:
        outcome.note = f"resumed {resume}"
    try:
        cfg = trial_config(plan.cfg, params, output)
    except ConfigError as e:  # a combination the config refuses (say, init for a cell)
        return _fail(study, trial, outcome, f"the trial's values do not fit the config: {e}")
    started = time.monotonic()
    # who runs it, so that study.recover can tell when its worker is gone
    trial.set_user_attr("host", HOST)
    trial.set_user_attr("pid", os.getpid())
    trial.set_user_attr("threads", thread_count())  # its BLAS threads (its worker's share)
    try:
        if not resume:
            _check_no_stale_trial(output, plan)
        with runs.prepare(cfg, resume=resume) as run:
            # the locks are held now: from here a free lock means a dead worker
            trial.set_user_attr("output", str(output))
            for point in run.trainer.history:  # a resumed run's curve, for the pruner
                outcome.value, outcome.step = _objective(point, sweep.objective), point["step"]
                trial.report(outcome.value, outcome.step)
            reason = _train(run, trial, sweep, stop, deadline, outcome)
            outcome.step = run.trainer.step
    except TrainingDiverged as e:
        outcome.seconds = time.monotonic() - started
        outcome.note = f"diverged: {str(e).split(';')[0]}"
        trial.set_user_attr("diverged", outcome.note)
        return _tell(study, trial, outcome, optuna.trial.TrialState.PRUNED, "pruned")
    except RnngenError as e:
        outcome.seconds = time.monotonic() - started
        _fail(study, trial, outcome, str(e))
        raise
    except BaseException as e:  # a bug or a hard interrupt: leave a true record
        _fail(study, trial, outcome, f"{type(e).__name__}: {e}")
        raise
    outcome.seconds = time.monotonic() - started
    if reason == "pruned":
        return _tell(study, trial, outcome, optuna.trial.TrialState.PRUNED, "pruned")
    if reason == "interrupted":
        trial.set_user_attr("interrupted", outcome.step)
        _tell(study, trial, outcome, optuna.trial.TrialState.FAIL, "interrupted")
        study.enqueue_trial(params, user_attrs={"resume_from": str(output),
                                                "retry_of": trial.number})
        return outcome
    if outcome.value is None:
        return _fail(study, trial, outcome, "no validation point before its time ran out; "
                                            "raise sweep.trial_minutes or lower train.eval_every")
    if reason == "time":
        outcome.note = "; ".join(filter(None, [outcome.note, "stopped by its time budget"]))
    study.tell(trial, outcome.value)
    outcome.state = "complete"
    return outcome


def _check_no_stale_trial(output, plan):
    """CheckpointError, in the sweep's words, when a new trial's checkpoint is taken by a
    run this study did not make (its storage was deleted, or renamed by hand): train's
    own refusal would name flags that sweep does not have."""
    found = runs.other_run(output)
    if found:
        raise CheckpointError(
            f"{found[0]} already holds {found[1]}, which study {plan.sweep.study!r} in its "
            f"storage did not run (a storage deleted or replaced); name this sweep's study "
            f"otherwise with --study NAME, or move the old trials out of {plan.folder}")


def _train(run, trial, sweep, stop, deadline, outcome):
    """Step the run (run.Run), reporting each validation point; why it ended: None
    (finished), 'pruned', 'time' or 'interrupted'."""
    reason = None
    for stats in run.steps():
        if reason is None and stop.reason is not None:
            reason = "interrupted"
            run.stop(reason)
        elif reason is None and deadline is not None and time.monotonic() > deadline:
            reason = "time"
            run.stop(reason)
        if stats.val_loss is None or reason is not None:
            continue
        point = run.trainer.history[-1]  # what the run recorded at this validation
        outcome.value, outcome.step = _objective(point, sweep.objective), stats.step
        if not math.isfinite(outcome.value):
            outcome.value = math.inf if not sweep.maximize else -math.inf
        trial.report(outcome.value, stats.step)
        if trial.should_prune():
            outcome.note = f"below the pruner's bar at step {stats.step}"
            reason = "pruned"
            run.stop(reason)
    return reason


NOT_METRICS = ("step", "seconds")  # in a validation's record, but not measures of the model


def _objective(point, name):
    """The objective's value in a validation's record (a trainer.history entry), by
    name among the metrics the run reports there."""
    metrics = [k for k in point if k not in NOT_METRICS]
    if name not in metrics:
        raise ConfigError(f"sweep.objective {name!r} is not a metric this run reports; "
                          f"it reports {', '.join(sorted(metrics))}")
    return float(point[name])


def _tell(study, trial, outcome, state, name):
    study.tell(trial, state=state)
    outcome.state = name
    return outcome


def _fail(study, trial, outcome, message):
    import optuna

    trial.set_user_attr("error", message)
    outcome.note = message
    return _tell(study, trial, outcome, optuna.trial.TrialState.FAIL, "failed")
