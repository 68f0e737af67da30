"""Running groups of streams on threads, each with single-threaded BLAS.

The streams of a batch never interact, so training (and scoring) can split them
into groups and run each group's forward and backward pass on its own Python
thread: NumPy releases the GIL inside BLAS and its element-wise loops. Why bother,
when BLAS already uses every core? Because only the matrix products do: the
element-wise work (tanh and its derivative, softmax, the embedding gradient,
dropout) is a fifth of a step and ran on one core. One group per core, each on
one BLAS thread, made steps a few per cent faster at hidden 512 and 11% at 128
on a 2-core machine (a 32-row product on one core is less efficient than a
64-row one on two, which caps the gain; see the README's speed section).

Each thread's products must then run on one BLAS thread, or the threads would
fight over the cores. NumPy's wheels bundle OpenBLAS, whose C API has
openblas_get/set_num_threads; this module finds them through ctypes. With
another BLAS (MKL, Accelerate) they are missing, ``thread_count()`` is None,
and batches run in one piece on the BLAS's own threads.
"""
import contextlib
import ctypes
import glob
import itertools
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

_PREFIXES = ("openblas", "scipy_openblas")  # scipy_: the build NumPy's wheels bundle
_lock = threading.RLock()
_api = None  # (get, set) once looked up; False when there is none


def _candidates():
    """Shared libraries that may be the OpenBLAS NumPy loaded."""
    root = os.path.dirname(np.__file__)
    paths = glob.glob(os.path.join(root + ".libs", "*openblas*"))  # Linux wheels
    paths += glob.glob(os.path.join(root, ".dylibs", "*openblas*"))  # macOS wheels
    try:  # a system OpenBLAS (e.g. a distribution's numpy) is only found by what is mapped
        with open("/proc/self/maps") as maps:
            paths += sorted({line.split()[-1] for line in maps if "openblas" in line})
    except OSError:
        pass
    return paths


def _numpy_blas():
    """NumPy's report of its BLAS: (name, OpenBLAS configuration), or None when it
    has no report (older NumPy), in which case the library search decides alone."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:
        return None
    return str(blas.get("name", "")).lower(), str(blas.get("openblas configuration", "")).strip()


def _lookup():
    report = _numpy_blas()
    if report is not None and "openblas" not in report[0]:
        return False  # MKL, Accelerate, ...: not ours to set
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in ("", "64_"):  # 64-bit-integer builds add 64_ to every symbol
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is None or put is None:
                    continue
                if report is not None and report[1] and not _same_build(lib, prefix, suffix,
                                                                          report[1]):
                    continue  # another package's OpenBLAS (SciPy's, say), not NumPy's
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                return get, put
    return False


def _same_build(lib, prefix, suffix, config):
    """Whether the library's openblas_get_config() matches the build NumPy reports:
    the same version and options, allowing for the CPU core name, which a
    DYNAMIC_ARCH build reports as the one it picked at run time."""
    get_config = getattr(lib, f"{prefix}_get_config{suffix}", None)
    if get_config is None:
        return True
    get_config.restype, get_config.argtypes = ctypes.c_char_p, []
    mine, reported = (get_config() or b"").decode(errors="replace").split(), config.split()
    return mine[:2] == reported[:2] and len(set(mine) ^ set(reported)) <= 2


def _functions():
    global _api
    if _api is None:
        _api = _lookup()
    return _api


def thread_count():
    """OpenBLAS's current thread count, or None where it cannot be controlled."""
    api = _functions()
    return api[0]() if api else None


def single_threaded():
    """Run the block with OpenBLAS on one thread, then restore the old count."""
    return blas_threads(1)


@contextlib.contextmanager
def blas_threads(n):
    """Run the block with OpenBLAS on ``n`` threads (None: as it is), then restore the
    old count. Only one block at a time changes the count (the setting is process-wide).
    """
    api = _functions()
    if not api or n is None:
        yield
        return
    get, put = api
    with _lock:
        before = get()
        put(n)
        try:
            yield
        finally:
            put(before)


CLEARLY_FASTER = 0.9  # more threads must take at most this share of one thread's time
BLOCK = 128  # items one_stream times at a time, watching many threads
PROBE_EVERY = 8  # one block in this many runs on one thread (the second first), to compare


def fastest(work, rounds=5):
    """The BLAS thread count, 1 or all of the BLAS's threads, under which ``work()``
    runs faster, measured here and now (see timings). None where the count cannot
    be controlled."""
    timed = timings(work, rounds)
    return None if timed is None else timed[0]


def timings(work, rounds=5):
    """(count, seconds of work() on one thread, on all threads) or None where the count
    cannot be controlled. The two take turns ``rounds`` times after a warm-up round and
    their medians are compared; all threads win only when clearly faster, since they
    keep a second core busy. Which is faster depends on the machine, the model and the
    neighbours: a one-row product reads all of W_hh for one character, and splitting
    that read over two cores pays at the GRU's (H, 3H) on a quiet machine, but a busy
    second core makes every product wait for it.
    """
    most = thread_count()
    if most is None:
        return None
    if most < 2:
        return 1, None, None
    times = {1: [], most: []}
    for r in range(rounds + 1):  # ending on one thread, so the others go idle at once
        for n in (1, most) if (rounds - r) % 2 else (most, 1):
            with blas_threads(n):
                started = time.perf_counter()
                work()
                if r:  # round 0 warms both up (thread start, caches)
                    times[n].append(time.perf_counter() - started)
    one, many = (statistics.median(times[n]) for n in (1, most))
    return (most if many <= CLEARLY_FASTER * one else 1), one, many


def one_stream(items, work, on_count=None, block=BLOCK, probe_every=PROBE_EVERY):
    """Yield ``items`` (one stream's characters, made as they are taken) with OpenBLAS
    on the thread count ``timings(work)`` chooses, then restore the count.

    On all threads the stream keeps checking, since a neighbour may take a core at any
    time and threads waiting on a busy core are many times slower than one thread:
    items are timed a ``block`` at a time, and the second block and every
    ``probe_every``-th after it run on one thread (None: never). The rest runs on one
    thread for good once such a probe is not clearly slower than the block before it
    (a start measured in a quiet moment, or a neighbour since), or once a block takes
    longer than the first did by more than one thread's time over all threads' at the
    start. ``on_count(n)`` hears each count used.
    """
    items = iter(items)
    timed = timings(work)
    count = None if timed is None else timed[0]
    if on_count is not None:
        on_count(count)
    if count is None or count == 1:
        with blas_threads(count):
            yield from items
        return
    _, one, many = timed
    first = last = None  # seconds of the first block on all threads, and of the latest
    for k in itertools.count():
        probe = probe_every is not None and k % probe_every == 1
        with blas_threads(1 if probe else count):
            started, n = time.perf_counter(), 0
            for item in items:
                yield item
                n += 1
                if n == block:
                    break
            else:
                return
            took = time.perf_counter() - started
        if probe:
            if last > CLEARLY_FASTER * took:
                break
        elif first is None:
            first = last = took
        elif took * many > first * one:
            break
        else:
            last = took
    if on_count is not None:
        on_count(1)
    with blas_threads(1):
        yield from items


def set_thread_count(n):
    """Set OpenBLAS's thread count for the rest of the process (--threads, $RNNGEN_THREADS).

    Returns False where the count cannot be controlled (another BLAS)."""
    api = _functions()
    if not api:
        return False
    with _lock:
        api[1](n)
    return True


def groups_for(streams, hidden, min_streams=16, min_slab=4096, most=None):
    """How many groups to split ``streams`` into: one per BLAS thread (the BLAS's
    own setting, so OPENBLAS_NUM_THREADS limits rnngen too; ``most`` in its place
    when given), as long as each keeps ``min_streams`` streams and a (streams, hidden)
    slab of ``min_slab`` numbers. Below that a step's NumPy calls are too small to
    release the GIL for long, and two threads run slower than one (hidden 32 or 64:
    15-20% slower; 128: 11% faster)."""
    fits = min(streams // min_streams, streams * hidden // min_slab)
    return max(1, min(most or thread_count() or 1, fits))


class Workers:
    """A thread per group of streams; ``map`` runs them with BLAS on one thread."""

    def __init__(self, groups):
        self.groups = groups
        self._pool = ThreadPoolExecutor(groups, thread_name_prefix="rnngen") if groups > 1 else None

    def map(self, fn, items):
        items = list(items)
        if self._pool is None or len(items) < 2:  # one piece: here, on every BLAS thread
            return list(map(fn, items))
        with single_threaded():
            futures = [self._pool.submit(fn, item) for item in items]
            try:
                return [f.result() for f in futures]
            finally:
                # on an error or a Ctrl-C here, let the other groups finish before
                # the BLAS thread count goes back up under them
                for f in futures:
                    f.cancel()
                wait(futures)


def use(n):
    """Run OpenBLAS on ``n`` threads for the rest of the process (--threads,
    $RNNGEN_THREADS; None leaves it be). Returns a note to show when that cannot be
    done here (another BLAS), else None."""
    if n is not None and not set_thread_count(n):
        return ("--threads has no effect here: NumPy's BLAS is not OpenBLAS; "
                "set that BLAS's own variable (e.g. MKL_NUM_THREADS)")
    return None
