"""The study: where it is stored, how it samples and prunes, what is left to run,
the trials a killed worker left behind, and the best config.

Default storage: Optuna's journal file (JournalFileBackend) in the sweep folder,
locked with JournalFileOpenLock (an O_EXCL lock file), which works for processes
on one machine and for machines sharing an NFSv3+ filesystem, where SQLite's
fcntl locks are unreliable. ``--storage`` takes a path (another journal file) or
a database URL (postgresql://, mysql://, sqlite:///) for workers on many machines.
"""
import datetime
import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import atomic, corpus, extras, lock, outputs
from ..errors import ConfigError, RnngenError
from . import section
from .trial import HOST

EXTRA = "sweep"  # pyproject's optional extra that installs Optuna
# a running trial names its host within milliseconds of being asked for; one that has
# not after this long lost its worker in between
ORPHAN_SECONDS = 60


def optuna():
    """Optuna, imported on first use; its absence (or any failure importing it) is one
    line saying how to install it."""
    found = extras.require("optuna", EXTRA, "rnngen sweep")
    found.logging.set_verbosity(found.logging.WARNING)  # progress is ours, on stderr
    return found


@dataclass
class Plan:
    """A sweep as a config file describes it, with the command line's choices."""

    cfg: object  # the config.Config the trials start from
    sweep: section.SweepConfig
    config_path: Path
    sweep_folder: Path  # beside the runs: the default journal, which the config's studies share

    @property
    def folder(self):
        """The study's trials' checkpoints, best.yaml and report.html (study_folder)."""
        return study_folder(self.sweep_folder, self.sweep.study,
                            section.default_study(self.config_path),
                            None if self.storage == self.default_storage else self.storage)

    @property
    def default_storage(self):
        return str(self.sweep_folder / "study.journal")

    @property
    def storage(self):
        if not self.sweep.storage:
            return self.default_storage
        if is_url(self.sweep.storage):
            return self.sweep.storage
        # a path as given, but the default journal by any name is the default
        given = Path(self.sweep.storage)
        return self.default_storage if given.resolve() == Path(
            self.default_storage).resolve() else self.sweep.storage

    @property
    def shown_storage(self):
        """The storage as messages and pages name it: a URL's password masked."""
        return shown(self.storage)

    @property
    def best_path(self):
        return self.folder / "best.yaml"

    @property
    def report_path(self):
        """Where --report writes the page when given no path."""
        return self.folder / "report.html"


def plan(config_path, storage=None, study=None):
    """A Plan for the config file at ``config_path`` (with a sweep: section)."""
    cfg, sweep = section.load(config_path)
    if storage:
        sweep.storage = storage
    if study:
        sweep.study = study
    output = Path(cfg.train.output)
    shared = output.with_name(output.stem + "-sweep")  # beside the runs: runs/NAME-sweep/
    made = Plan(cfg, sweep, Path(config_path), shared)
    inputs = {"corpus": corpus.resolve(cfg.data.corpus, fetch=False),
              "config file": made.config_path}
    # nothing the sweep writes may be what it reads, or inside the package
    outputs.claim(made.best_path, inputs, "the best config", "train.output", kind="config")
    if not is_url(made.storage):
        outputs.claim(made.storage, inputs, "the storage", "--storage or sweep.storage",
                      kind="journal")
    return made


def study_folder(shared, study, default_study, storage):
    """Where a study's trials, best config and page go: the config's own study in its
    default journal keeps them in ``shared`` (runs/NAME-sweep/); any other study
    (--study, sweep.study) in a folder of its own inside, and a study in another storage
    (``storage``, None for the default journal) in one named for that storage too, so
    two studies never share a trial-0.npz, whatever their names."""
    if storage is None:
        return shared if study == default_study else shared / folder_name(study)
    where = storage if is_url(storage) else str(Path(storage).resolve())
    tag = hashlib.sha256(where.encode("utf-8")).hexdigest()[:8]
    return shared / f"{folder_name(study)}-{tag}"


def folder_name(study):
    """A study's name made a plain folder name: characters other than letters, digits,
    '.', '_' and '-' become '_' (so two names differing only there would share it)."""
    name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in study)
    return "_" + name if name.startswith(".") or not name else name


def is_url(storage):
    return "://" in storage


def shown(storage):
    """``storage`` with the password of a URL (scheme://user:password@host/...) masked,
    for anything printed or written: a database URL may carry its password."""
    return PASSWORD.sub(r"\1***@", storage) if is_url(storage) else storage


PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")


def open_storage(plan):
    """The Optuna storage the plan names (a journal file, or a database URL)."""
    opt = optuna()
    where = plan.storage
    try:
        if is_url(where):
            # Optuna's database storage
            extras.require("sqlalchemy", EXTRA, f"the sweep's storage {plan.shown_storage}")
            return opt.storages.RDBStorage(where)
        Path(where).parent.mkdir(parents=True, exist_ok=True)
        journal = opt.storages.journal
        return journal.JournalStorage(journal.JournalFileBackend(
            where, lock_obj=journal.JournalFileOpenLock(where)))
    except RnngenError:
        raise
    except Exception as e:  # noqa: BLE001 -- a bad URL, a missing driver, a closed server
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        reason = reason.replace(where, plan.shown_storage)  # a driver may quote the URL
        raise RnngenError(f"cannot open the sweep's storage {plan.shown_storage}: {reason}; "
                          "check the path or URL (a database URL needs its driver "
                          "installed, e.g. psycopg2 for postgresql://)") from None


def sampler(plan, worker=0):
    seed = plan.sweep.seed
    return optuna().samplers.TPESampler(seed=None if seed < 0 else seed + worker)


def pruner(plan):
    opt, name = optuna(), plan.sweep.pruner
    if name == "median":
        return opt.pruners.MedianPruner(n_startup_trials=plan.sweep.startup_trials)
    if name == "halving":
        return opt.pruners.SuccessiveHalvingPruner()
    return opt.pruners.NopPruner()


def open_study(plan, worker=0, create=True):
    """The plan's study, created if new (create=False: a ConfigError if there is none,
    and the storage is only read)."""
    opt = optuna()
    name = plan.sweep.study
    direction = plan.sweep.direction
    # a look (create=False) must not leave an empty journal file behind
    missing = not create and not is_url(plan.storage) and not Path(plan.storage).is_file()
    storage = None if missing else open_storage(plan)
    if not create and (missing or name not in opt.get_all_study_names(storage)):
        raise ConfigError(f"no study named {name!r} in {plan.shown_storage}; run "
                          f"rnngen sweep --config {plan.config_path} first, or pass "
                          "--study and --storage of an existing one")
    if create:
        study = opt.create_study(storage=storage, study_name=name, direction=direction,
                                 sampler=sampler(plan, worker), pruner=pruner(plan),
                                 load_if_exists=True)
    else:  # create_study would append a "create" record to a journal even when loading
        study = opt.load_study(study_name=name, storage=storage, sampler=sampler(plan, worker),
                               pruner=pruner(plan))
    if study.direction.name.lower() != direction:
        raise ConfigError(f"the study {name!r} in {plan.shown_storage} was made to "
                          f"{study.direction.name.lower()}, but sweep.direction is {direction}; "
                          "use another --study")
    return study


def start_study(plan):
    """The plan's study, for a command about to run trials. The one command that creates
    it (a storage creates a study once, so of two workers starting together only one
    does) queues the config's own setting (sweep.baseline) and sweep.enqueue to run first."""
    opt = optuna()
    try:
        opt.create_study(storage=open_storage(plan), study_name=plan.sweep.study,
                         direction=plan.sweep.direction, load_if_exists=False)
        created = True
    except opt.exceptions.DuplicatedStudyError:
        created = False
    study = open_study(plan)
    if created:
        if plan.sweep.baseline:
            study.enqueue_trial(section.baseline(plan.sweep, plan.cfg),
                                user_attrs={"baseline": True})
        for setting in plan.sweep.enqueue:
            study.enqueue_trial(setting, user_attrs={"enqueued": True})
    return study


def counted(study):
    """Trials that count toward sweep.trials: finished or running, but not the failed
    ones that are run again (interrupted, or left behind by a killed worker)."""
    states = optuna().trial.TrialState
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state in (states.COMPLETE, states.PRUNED, states.RUNNING)
               or (t.state == states.FAIL and "error" in t.user_attrs))


def recover(study):
    """Trials this host's killed workers left running: mark each failed and enqueue a
    copy that resumes its checkpoint. A trial is alive while its run holds the lock on
    its checkpoint (lock.OutputLock), so taking that lock proves its worker is gone;
    a trial killed before it took the lock is known by its process being gone.
    Returns the numbers of the trials recovered."""
    states = optuna().trial.TrialState
    found = []
    for t in study.get_trials(deepcopy=False, states=(states.RUNNING,)):
        attrs = t.user_attrs
        if "host" not in attrs and _older_than(t, ORPHAN_SECONDS):
            _requeue(study, t, None)  # killed between study.ask and naming its host
            found.append(t.number)
            continue
        if attrs.get("host") != HOST:
            continue  # another machine's: its checkpoint is there, not here
        output = attrs.get("output")
        if output is None:
            if not _process_gone(attrs.get("pid")):
                continue
            _requeue(study, t, None)
            found.append(t.number)
            continue
        try:
            with lock.OutputLock(output) as held:
                if held.fd is None:
                    continue  # no locking on this filesystem: cannot tell, leave it
                running = study.get_trials(deepcopy=False, states=(states.RUNNING,))
                if t.number in {r.number for r in running}:  # not recovered meanwhile
                    _requeue(study, t, output if Path(output).is_file() else None)
                    found.append(t.number)
        except RnngenError:  # held: its worker is alive
            continue
    return found


def _older_than(frozen, seconds):
    started = frozen.datetime_start
    return started is not None and (datetime.datetime.now() - started).total_seconds() > seconds


def _process_gone(pid):
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _requeue(study, frozen, output):
    study.tell(frozen.number, state=optuna().trial.TrialState.FAIL, skip_if_finished=True)
    attrs = {"retry_of": frozen.number}
    if output:
        attrs["resume_from"] = output
    study.enqueue_trial(frozen.params, user_attrs=attrs)


def best_trial(study):
    """The best finished trial, or None while none has finished."""
    states = optuna().trial.TrialState
    if not study.get_trials(deepcopy=False, states=(states.COMPLETE,)):
        return None
    return study.best_trial


def write_best(plan, study):
    """Write the best trial's config as a YAML file `rnngen train --config` takes as it
    is (no sweep: section; its checkpoint goes beside it as best.npz). Returns the
    path, or None while no trial has finished."""
    from .trial import trial_config

    best = best_trial(study)
    if best is None:
        return None
    path = plan.best_path
    cfg = trial_config(plan.cfg, best.params, path.with_suffix(".npz"))
    header = (f"# The best finished trial of the study {plan.sweep.study!r} (rnngen sweep "
              f"--config {plan.config_path}): trial {best.number}, {plan.sweep.objective} "
              f"{best.value:.4f} at step {max(best.intermediate_values, default=0)}.\n"
              f"# Swept: {', '.join(f'{k}={v!r}' for k, v in best.params.items())}.\n")
    text = header + yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic.write(path, lambda f: f.write(text.encode("utf-8")))
    except OSError as e:
        raise RnngenError(f"cannot write the best config to {path}: {e.strerror or e}") from None
    return path


def value_or_last(t):
    """A trial's value for ranking: its objective, or a pruned trial's last report."""
    if t.value is not None:
        return t.value
    if t.intermediate_values:
        return t.intermediate_values[max(t.intermediate_values)]
    return None


def finite(x):
    return x is not None and math.isfinite(x)

