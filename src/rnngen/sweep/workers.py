"""Running a sweep's trials: one after another here, or N at once in worker
processes, each with its share of the cores (its BLAS limited to them).

How many: ``trials`` given (--trials N), this command runs N more; otherwise it runs
until the study holds sweep.trials trials, so running the same command again after
an interruption finishes the rest, and a second worker on the same storage shares
the work. Workers of one command draw from one count under one lock; workers on
other machines may overshoot the study's total by a trial each.
"""
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass

from ..errors import RnngenError
from ..run import StopOnSignals
from ..threads import set_thread_count
from . import study as studies
from . import trial as trials

BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class Stop:
    """Set by a signal (run.StopOnSignals calls request_stop): the running trial then
    checkpoints and stops, and the worker starts no other. A second signal gets the
    default behaviour, so a stuck worker can still be killed."""

    reason = None

    def request_stop(self, reason):
        self.reason = reason


@dataclass
class Quota:
    """Which trials this command may still start: ``more`` of them (--trials), or
    enough to bring the study to ``total`` (sweep.trials). ``taken`` and ``lock``
    are shared by the command's worker processes."""

    more: int  # None: up to total
    total: int
    taken: object  # a multiprocessing Value('i')
    lock: object

    def ask(self, study):
        """The next trial (study.ask()), or None when the quota is spent."""
        with self.lock:
            if self.more is not None and self.taken.value >= self.more:
                return None
            if self.more is None and studies.counted(study) >= self.total:
                return None
            self.taken.value += 1
            return study.ask()


def work(plan, quota, report, worker, stop, deadline):
    """One worker: trials until the quota is spent, the deadline passes or a signal
    stops it. ``report(outcome)`` is called after each trial. Returns True when it was
    interrupted."""
    study = studies.open_study(plan, worker)
    studies.recover(study)
    while stop.reason is None and (deadline is None or time.monotonic() < deadline):
        trial = quota.ask(study)
        if trial is None:
            break
        limit = plan.sweep.trial_minutes * 60 or None
        ends = [d for d in (deadline, limit and time.monotonic() + limit) if d]
        outcome = trials.run(study, trial, plan, stop, min(ends) if ends else None)
        report(outcome)
        if outcome.state == "interrupted":
            return True
    return stop.reason is not None


def run(plan, more, workers, report, notify):
    """Run the sweep's trials (see the module's docstring); ``report(outcome)`` after
    each trial, in this process; ``notify(message)`` once the study is open. Returns
    True when it was interrupted by a signal."""
    study = studies.start_study(plan)  # here once, so this command's workers never race
    share = max(1, cores() // workers)  # each worker process's BLAS threads
    at_once = f"; {workers} worker processes, each on {share} BLAS threads" if workers > 1 else ""
    notify(f"sweep {plan.sweep.study!r} in {plan.shown_storage}: {studies.counted(study)} of "
           f"{plan.sweep.trials} trials so far; trials' checkpoints go to {plan.folder}"
           f"{at_once}")
    ctx = multiprocessing.get_context("spawn")
    quota = Quota(more, plan.sweep.trials, ctx.Value("i", 0), ctx.Lock())
    deadline = (time.monotonic() + plan.sweep.total_minutes * 60
                if plan.sweep.total_minutes else None)
    if workers == 1:
        stop = Stop()
        with StopOnSignals(stop):
            return work(plan, quota, report, 0, stop, deadline)
    return _processes(ctx, plan, quota, report, workers, share, deadline)


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _processes(ctx, plan, quota, report, workers, share, deadline):
    """``workers`` processes, each with ``share`` BLAS threads; a signal here is passed
    on to them once (they checkpoint and stop), a second one kills them."""
    events = ctx.Queue()
    saved = {k: os.environ.get(k) for k in BLAS_VARIABLES}
    os.environ.update({k: str(share) for k in BLAS_VARIABLES})  # read at the child's start
    try:
        procs = [ctx.Process(target=_child, args=(plan, quota, events, i, share, deadline),
                             name=f"rnngen-sweep-{i}") for i in range(workers)]
        for p in procs:
            p.start()
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    signals = []

    def forward(signum, frame):
        signals.append(signum)
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM if len(signals) == 1 else signal.SIGKILL)

    previous = {s: signal.signal(s, forward) for s in StopOnSignals.SIGNALS}
    errors, interrupted = [], False
    try:
        while any(p.is_alive() for p in procs) or not events.empty():
            try:
                kind, payload = events.get(timeout=0.2)
            except Exception:  # noqa: BLE001 -- queue.Empty, or a child gone mid-message
                continue
            if kind == "outcome":
                report(payload)
            elif kind == "interrupted":
                interrupted = True
            else:
                errors.append(payload)
        for p in procs:
            p.join()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if errors:
        raise RnngenError(errors[0])
    failed = [p for p in procs if p.exitcode not in (0, None)]
    if failed and not signals:
        raise RnngenError(f"sweep worker {failed[0].name} ended with exit code "
                          f"{failed[0].exitcode}; its message is above")
    return interrupted or bool(signals)


def _child(plan, quota, events, worker, share, deadline):
    """A worker process: its own process group (a Ctrl-C reaches the parent, which
    passes it on once), its share of the cores, outcomes sent to the parent."""
    os.setpgrp()
    set_thread_count(share)
    stop = Stop()
    try:
        with StopOnSignals(stop):
            if work(plan, quota, lambda o: events.put(("outcome", o)), worker, stop, deadline):
                events.put(("interrupted", worker))
    except RnngenError as e:
        events.put(("error", str(e)))
