"""Hyperparameter sweeps over Optuna (the optional extra ``rnngen-text[sweep]``).

A config's ``sweep:`` section (section.py) names the keys to search; each trial is a
normal training run of the config with the trial's values (trial.py), reported to
Optuna at the run's validation points so its pruner can stop bad trials early. The
study lives in a storage that workers on one machine or many share (study.py);
workers.py runs the trials. From a notebook:

    from rnngen import sweep
    plan = sweep.plan("configs/tiny.yaml")
    sweep.run(plan, more=4)
    print(sweep.show(plan))
    sweep.look(plan).write("sweep.html")  # every trial's curve, and the tables
"""
from dataclasses import dataclass
from pathlib import Path

from . import page
from .section import SweepConfig, parse  # noqa: F401 -- the section's public names
from .study import open_study, optuna, plan, write_best  # noqa: F401
from .tables import importances_table, trials_table
from .trial import Outcome  # noqa: F401


@dataclass
class Result:
    interrupted: bool  # a signal stopped it; running the same command resumes
    table: str  # the study's trials, best first
    best: Path  # the best config written (None while no trial has finished)


def run(plan, more=None, workers=1, report=None, notify=None):
    """Run the plan's trials (``more``: this many; default: up to sweep.trials in the
    study), ``workers`` at once; ``report(Outcome)`` after each, ``notify(message)``
    once the study is open. Writes the best config and returns a Result."""
    from . import workers as running

    interrupted = running.run(plan, more, workers, report or (lambda outcome: None),
                              notify or (lambda message: None))
    study = open_study(plan)
    return Result(interrupted, trials_table(study, plan), write_best(plan, study))


def look(plan):
    """The plan's study as it stands (read, never changed): its tables (``.text()``,
    what --show prints) and its page (``.page()``, ``.write(path)``). A ConfigError
    when there is no such study."""
    return page.Looked(plan, open_study(plan, create=False))


def show(plan):
    """The study's trials so far, best first, and Optuna's parameter importances."""
    return look(plan).text()


def check_report(plan, path):
    """Before a sweep runs: a one-line error if its page could not be written to path."""
    page.check(plan, path)


def report_or_warning(plan, path):
    """Write the page of the plan's study to path, best effort: returns a warning to
    show when it cannot be written (a page must never end a sweep)."""
    try:
        look(plan).write(path)
    except Exception as e:  # noqa: BLE001 -- any failure, even a bug, must not stop trials
        return f"warning: could not write the report {path}: {e}"
    return None
