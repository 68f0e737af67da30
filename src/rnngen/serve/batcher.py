"""Continuous batching: one thread owns each model's decoding.Decoder and steps every
sampled row of every request together, rows joining and leaving between steps.

Requests come in from the event loop as Jobs; what their rows make goes back to the
loop's coroutines through each Job, with one wake-up call per step for all of them
(a call per row would cost the loop more than the characters are worth). The
Decoder computes every product row by row (rowwise), so a row's text is the same
whoever else is in the batch, and the same as `rnngen sample` gives it alone.
"""
import asyncio
import threading
import time
import traceback

import numpy as np

from .. import decoding
from ..errors import RnngenError
from .refused import Refused

WAKES_PER_SECOND = 2000  # streams woken per second at most, all together (see _step)


class Job:
    """One sampling request: num_samples rows of one Decoding from one seed. The
    engine thread adds what the rows make; the request's coroutine takes it."""

    def __init__(self, served, dec, seed, deadline, streaming=False):
        """Made on the request's event loop, which the engine wakes: while it runs
        only if ``streaming``, and when it ends."""
        self.served, self.decoding, self.seed = served, dec, seed
        self.streaming = streaming
        self.next_wake = 0.0  # engine thread: no wake-up for new text before this time
        self.deadline = deadline  # time.monotonic() past which the rows are dropped
        self.loop = asyncio.get_running_loop()
        self.ready = asyncio.Event()  # set when there is something to take
        self.ended = asyncio.Event()  # set when it finished or failed
        self.primed = None  # its rows, seeds read, before they join (decoding.Primed)
        self.rows = []  # the Decoder's rows (engine thread only)
        self.cancelled = False  # set by the request: its client left
        self._lock = threading.Lock()
        self._seeds = []  # [(index, seed, random_seed)] not yet taken
        self._texts = {}  # {index: ([ids], [logprobs])} not yet taken
        self.samples = None  # [(decoding.Sample, seed_ids)] when it finished
        self.error = None  # (status, message) when it failed
        self.finished = False

    @property
    def size(self):
        return self.decoding.num_samples

    def take(self):
        """(seeds, texts, finished) made since the last take: the rows' seeds
        [(index, seed, random_seed)] and texts {index: (ids, logprobs)}."""
        with self._lock:
            seeds, texts, self._seeds, self._texts = self._seeds, self._texts, [], {}
            return seeds, texts, self.finished

    def cancel(self):
        self.cancelled = True  # read by the engine thread before its next step

    # -- engine thread ---------------------------------------------------------

    def _seeded(self, index, row):
        with self._lock:
            self._seeds.append((index, row.seed, row.random_seed))

    def _made(self, index, idx, logprob):
        with self._lock:
            ids, lps = self._texts.setdefault(index, ([], []))
            ids.append(idx)
            lps.append(logprob)

    def _finish(self, samples=None, error=None):
        with self._lock:
            self.samples, self.error, self.finished = samples, error, True


class Batcher:
    """The engine loop: a thread that steps every model's rows while there are any.

    submit() is called from the event loop; everything else runs on the thread.
    """

    def __init__(self, models, seconds_limit, log=print, flush_seconds=0.02):
        self.decoders = {name: decoding.Decoder(s.model, rowwise=True, scores=True)
                         for name, s in models.items() if s.task == "generate"}
        self.seconds_limit, self.log = seconds_limit, log
        # a stream is woken at once for its first character, then at most this often:
        # a wake-up per step would cost the event loop more than the characters
        self.flush_seconds = flush_seconds
        self._cond = threading.Condition()
        self._inbox = []  # jobs waiting to join at the next step
        self.jobs = []  # jobs in the batch (engine thread only)
        self.drain_deadline = None  # set on SIGTERM: work past it is cut short
        self._stopped = False
        self.steps = 0  # steps taken, for /healthz
        self.cpu_seconds = 0.0  # this thread's CPU time in steps, for /healthz
        self.rows_now = 0  # rows in the batch after the last step, for /healthz
        self.load = 0  # rows the event loop has handed it and not yet taken back (loop only)
        self._thread = threading.Thread(target=self._run, name="rnngen-serve-batcher",
                                        daemon=True)

    def start(self):
        self._thread.start()

    def submit(self, job):
        with self._cond:
            if self._stopped:
                raise Refused(503, "the server is shutting down")
            self._inbox.append(job)
            self._cond.notify()

    def drain(self, seconds):
        """Let the work in flight go on for ``seconds`` more, then cut it short."""
        with self._cond:
            self.drain_deadline = time.monotonic() + seconds
            self._cond.notify()

    def stop(self, timeout=5.0):
        """End the thread; jobs still in flight fail."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout)

    # -- the thread ------------------------------------------------------------

    def _run(self):
        while True:
            with self._cond:
                while not self._inbox and not self.jobs and not self._stopped:
                    self._cond.wait()
                arrivals, self._inbox = self._inbox, []
                stopped = self._stopped
            if stopped:
                for job in arrivals + self.jobs:
                    self._leave(job, (503, "the server shut down before this request finished"))
                self._wake(set(arrivals + self.jobs))
                return
            cpu = time.thread_time()
            try:
                self._step(arrivals)
            except Exception:  # noqa: BLE001 -- a fault fails the requests, not the server
                self.log("rnngen: the batcher failed a step; its requests are answered 500:\n"
                         + traceback.format_exc())
                failed = set(arrivals + self.jobs)
                for job in failed:
                    job._finish(error=(500, "the server failed while decoding"))
                self.jobs = []
                self.decoders = {name: decoding.Decoder(d.model, rowwise=True, scores=True)
                                 for name, d in self.decoders.items()}
                self._wake(failed)
            self.cpu_seconds += time.thread_time() - cpu

    def _step(self, arrivals):
        touched = []
        for job in arrivals:
            self._join(job)
            touched.append(job)
        now = time.monotonic()
        for job in list(self.jobs):
            if job.cancelled:
                self._leave(job)
            elif now > job.deadline:
                self._leave(job, (503, f"the request took longer than this server's limit "
                                       f"of {self.seconds_limit:g} s; ask for fewer "
                                       "characters or try again when it is less busy"))
                touched.append(job)
            elif self.drain_deadline is not None and now > self.drain_deadline:
                self._leave(job, (503, "the server shut down before this request finished"))
                touched.append(job)
        for decoder in self.decoders.values():
            if decoder.live:
                for row, idx in decoder.step():
                    job, index = row.key
                    job._made(index, idx, row.logprobs[-1])
                    if row.done:  # it takes no more steps: out of the batch now
                        decoder.remove(row)
        self.steps += 1
        finished = []
        for job in list(self.jobs):
            if all(row.done for row in job.rows):
                finished.append(job)
                samples = [(decoding.Sample(r.seed, r.text, r.stopped, r.random_seed,
                                            logprobs=list(r.logprobs)), r.seed_ids)
                           for r in job.rows]
                self._leave(job, samples=samples)
        self.rows_now = sum(len(d.rows) for d in self.decoders.values())
        now = time.monotonic()
        # every wake-up costs the event loop a write to a socket, so with many streams
        # each is woken less often: about WAKES_PER_SECOND writes in all
        streams = sum(job.streaming for job in self.jobs)
        interval = max(self.flush_seconds, streams / WAKES_PER_SECOND)
        due = []
        for job in set(touched + self.jobs + finished):
            if job.finished or job.streaming and now >= job.next_wake:
                job.next_wake = now + interval
                due.append(job)
        self._wake(due)

    def prime(self, job):
        """Read the job's seeds (decoding.Decoder.prime): on the caller's thread, a
        worker's, while this batcher steps. Sample i draws from a generator seeded with
        random_seed + i, as `rnngen sample --num-samples` draws it."""
        base, dec = job.decoding.random_seed, job.decoding
        job.primed = self.decoders[job.served.name].prime(
            [(dec, job.seed, np.random.default_rng(base + i), (job, i), base + i)
             for i in range(job.size)])

    def _join(self, job):
        """The job's rows into its model's batch, its seeds read here unless they were
        already (prime, on another thread)."""
        if job.cancelled:
            job._finish(error=(499, "the client left"))
            return
        if job.primed is None:
            try:
                self.prime(job)
            except RnngenError as e:  # checked before it came: only a missed case lands here
                job._finish(error=(422, str(e)))
                return
        job.rows = self.decoders[job.served.name].join(job.primed)
        job.primed = None
        for i, row in enumerate(job.rows):
            job._seeded(i, row)
        self.jobs.append(job)

    def _leave(self, job, error=None, samples=None):
        decoder = self.decoders[job.served.name]
        for row in job.rows:
            if any(r is row for r in decoder.rows):
                decoder.remove(row)
        if job in self.jobs:
            self.jobs.remove(job)
        # a row's key names its job, which holds the row: without this cycle the rows
        # (each with its block of noise) go when the request does, not at a later
        # garbage collection
        job.rows = []
        job._finish(samples, error or (None if samples is not None else (499, "the client left")))

    def _wake(self, jobs):
        """Wake each job's coroutine: one call into each event loop for all of them."""
        by_loop = {}
        for job in jobs:
            by_loop.setdefault(job.loop, set()).add(job)
        for loop, group in by_loop.items():
            if loop is None or loop.is_closed():
                continue
            try:
                loop.call_soon_threadsafe(_set_events, group)
            except RuntimeError:  # the loop closed meanwhile
                pass


def _set_events(jobs):
    for job in jobs:
        job.ready.set()
        if job.finished:
            job.ended.set()
