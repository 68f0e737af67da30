"""Groups of streams on threads: BLAS thread control, group counts, the worker pool,
the measured thread count for one stream."""
import contextlib
import threading
import types

import numpy as np
import pytest

from rnngen import threads


@pytest.fixture
def two_blas_threads():
    """OpenBLAS set to 2 threads for the test (then put back), so that going down to
    one is visible even on a one-core machine."""
    before = threads.thread_count()
    if before is None:
        pytest.skip("NumPy's BLAS here is not an OpenBLAS rnngen can control")
    put = threads._functions()[1]
    put(2)
    yield
    put(before)


def test_single_threaded_sets_one_blas_thread_and_restores_the_count(two_blas_threads):
    with threads.single_threaded():
        assert threads.thread_count() == 1
        with threads.single_threaded():  # nesting must not deadlock
            assert threads.thread_count() == 1
    assert threads.thread_count() == 2


def test_workers_run_on_one_blas_thread_and_pass_errors_on(two_blas_threads):
    workers = threads.Workers(2)
    assert workers.map(lambda _: threads.thread_count(), range(4)) == [1, 1, 1, 1]
    assert threads.thread_count() == 2

    def fail_on_one(x):
        if x == 1:
            raise ValueError("group 1 failed")
        return x

    with pytest.raises(ValueError, match="group 1 failed"):
        workers.map(fail_on_one, range(3))
    assert threads.thread_count() == 2


@pytest.mark.parametrize("blas, streams, hidden, groups", [
    (2, 64, 512, 2),   # the benchmark shape: one group per BLAS thread
    (4, 64, 512, 4),
    (8, 64, 512, 4),   # at least 16 streams a group
    (2, 64, 64, 1),    # 32 x 64 slabs are too small to pay for a thread
    (2, 64, 128, 2),
    (2, 20, 512, 1),
    (1, 64, 512, 1),   # OPENBLAS_NUM_THREADS=1: one piece
    (None, 64, 512, 1),  # a BLAS rnngen cannot control: one piece
])
def test_groups_follow_blas_threads_and_batch_shape(monkeypatch, blas, streams, hidden, groups):
    monkeypatch.setattr(threads, "thread_count", lambda: blas)
    assert threads.groups_for(streams, hidden) == groups


def test_workers_map_keeps_order_and_uses_threads():
    seen = set()

    def work(x):
        seen.add(threading.current_thread().name)
        return x * x

    assert threads.Workers(2).map(work, range(6)) == [0, 1, 4, 9, 16, 25]
    assert all(name.startswith("rnngen") for name in seen)
    assert threads.Workers(1).map(work, [3]) == [9]


def test_blas_threads_sets_a_count_for_the_block_and_none_leaves_it(two_blas_threads):
    with threads.blas_threads(1):
        assert threads.thread_count() == 1
    with threads.blas_threads(None):
        assert threads.thread_count() == 2
    assert threads.thread_count() == 2


@pytest.fixture
def clock(monkeypatch):
    """threads' perf_counter as a clock the test moves ("now"), so timings are exact."""
    fake = {"now": 0.0}
    monkeypatch.setattr(threads, "time", types.SimpleNamespace(perf_counter=lambda: fake["now"]))
    return fake


@pytest.mark.parametrize("one, two, expected", [
    (0.004, 0.002, 2),    # clearly faster on two threads
    (0.004, 0.0039, 1),   # about as fast: not worth a second core
    (0.002, 0.004, 1),    # slower on two (a busy second core)
])
def test_fastest_takes_all_threads_only_when_clearly_faster(monkeypatch, clock, one, two,
                                                            expected):
    now = {"n": 2}

    @contextlib.contextmanager
    def blas_threads(n):
        before, now["n"] = now["n"], n
        yield
        now["n"] = before

    monkeypatch.setattr(threads, "thread_count", lambda: 2)
    monkeypatch.setattr(threads, "blas_threads", blas_threads)
    seen = []

    def work():
        seen.append(now["n"])
        clock["now"] += one if now["n"] == 1 else two

    assert threads.fastest(work, rounds=3) == expected
    assert sorted(set(seen)) == [1, 2] and len(seen) == 8  # a warm-up round, then 3


@pytest.mark.parametrize("blas, expected", [(None, None), (1, 1)])
def test_fastest_without_a_choice_measures_nothing(monkeypatch, blas, expected):
    monkeypatch.setattr(threads, "thread_count", lambda: blas)
    assert threads.fastest(lambda: pytest.fail("nothing to measure")) == expected


@pytest.fixture
def fake_blas(monkeypatch):
    """A BLAS thread count the test controls and reads ("n"), starting at 2."""
    now = {"n": 2}

    @contextlib.contextmanager
    def blas_threads(n):
        before = now["n"]
        if n is not None:
            now["n"] = n
        try:
            yield
        finally:
            now["n"] = before

    monkeypatch.setattr(threads, "blas_threads", blas_threads)
    return now


@pytest.mark.parametrize("slow_from, counts", [
    (None, [2]),      # blocks stay as fast as the first: two threads throughout
    (9, [2, 1]),      # the third block is three times slower: one thread from then on
])
def test_one_stream_drops_to_one_thread_when_blocks_slow_down(monkeypatch, fake_blas, clock,
                                                              slow_from, counts):
    # at the start one thread took twice as long as two
    monkeypatch.setattr(threads, "timings", lambda work: (2, 0.002, 0.001))
    seen, used = [], []

    def chars():
        for i in range(20):
            seen.append(fake_blas["n"])
            clock["now"] += 0.003 if slow_from is not None and i >= slow_from else 0.001
            yield i

    stream = threads.one_stream(chars(), None, used.append, block=4, probe_every=None)
    assert list(stream) == list(range(20))
    assert used == counts
    if slow_from is None:
        assert set(seen) == {2}
    else:  # blocks of 4: the slow block, items 8-11, is judged once 11 is taken
        assert seen[:12] == [2] * 12 and set(seen[12:]) == {1}
    assert fake_blas["n"] == 2  # restored


@pytest.mark.parametrize("one_thread_cost, counts", [
    (0.002, [2]),     # probes on one thread stay slower: two threads throughout
    (0.001, [2, 1]),  # a probe as fast as two threads: one thread from then on
])
def test_one_stream_probes_one_thread_every_few_blocks(monkeypatch, fake_blas, clock,
                                                       one_thread_cost, counts):
    monkeypatch.setattr(threads, "timings", lambda work: (2, 0.002, 0.001))
    seen, used = [], []

    def chars():
        for i in range(40):
            seen.append(fake_blas["n"])
            clock["now"] += one_thread_cost if fake_blas["n"] == 1 else 0.001
            yield i

    assert list(threads.one_stream(chars(), None, used.append, block=4, probe_every=3)) \
        == list(range(40))
    assert used == counts
    if one_thread_cost == 0.002:  # blocks of 4, probes the second and every third after
        assert seen == [n for n in (2, 1, 2, 2, 1, 2, 2, 1, 2, 2) for _ in range(4)]
    else:  # the first probe, items 4-7, settles it
        assert seen == [2] * 4 + [1] * 36
    assert fake_blas["n"] == 2


def test_one_stream_on_one_thread_when_that_is_faster(monkeypatch, fake_blas):
    monkeypatch.setattr(threads, "timings", lambda work: (1, 0.001, 0.002))
    used, seen = [], []

    def chars():
        for i in range(5):
            seen.append(fake_blas["n"])
            yield i

    stream = threads.one_stream(chars(), None, used.append)
    assert next(stream) == 0
    stream.close()  # a reader that stops early still gets the count back
    assert used == [1] and seen == [1] and fake_blas["n"] == 2


def test_one_stream_trial_samples_a_few_characters_and_is_timed_by_one_stream():
    from rnngen import decoding
    from rnngen.engine import model
    from rnngen.engine.spec import ModelSpec

    spec = ModelSpec(5, 8, 1, "gru")
    params = model.init_params(spec, np.random.default_rng(0))
    before, used = threads.thread_count(), []
    trial = decoding.one_stream_trial(spec, params)
    assert len(trial()) == decoding.TRIAL_CHARS
    assert list(threads.one_stream(iter("abc"), trial, used.append)) == list("abc")
    assert used and used[0] in {None, 1, before}
    assert threads.thread_count() == before


def test_one_stream_compares_a_probe_with_the_latest_block(monkeypatch, fake_blas, clock):
    """Two threads slow down (not enough to give up on them by themselves), so that one
    thread, slower than two were at the start, is now the faster."""
    monkeypatch.setattr(threads, "timings", lambda work: (2, 0.002, 0.001))
    used = []

    def chars():
        for i in range(40):
            if fake_blas["n"] == 1:
                clock["now"] += 0.0015
            else:
                clock["now"] += 0.001 if i < 4 else 0.00175
            yield i

    assert list(threads.one_stream(chars(), None, used.append, block=4, probe_every=3)) \
        == list(range(40))
    assert used == [2, 1]
