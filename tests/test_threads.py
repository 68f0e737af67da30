"""Groups of streams on threads: BLAS thread control, group counts, the worker pool,
the measured thread count for one stream."""
import contextlib
import threading
import time

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


@pytest.mark.parametrize("one, two, expected", [
    (0.004, 0.002, 2),    # clearly faster on two threads
    (0.004, 0.0039, 1),   # about as fast: not worth a second core
    (0.002, 0.004, 1),    # slower on two (a busy second core)
])
def test_fastest_takes_all_threads_only_when_clearly_faster(monkeypatch, one, two, expected):
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
        time.sleep(one if now["n"] == 1 else two)

    assert threads.fastest(work, rounds=3) == expected
    assert sorted(set(seen)) == [1, 2] and len(seen) == 8  # a warm-up round, then 3


@pytest.mark.parametrize("blas, expected", [(None, None), (1, 1)])
def test_fastest_without_a_choice_measures_nothing(monkeypatch, blas, expected):
    monkeypatch.setattr(threads, "thread_count", lambda: blas)
    assert threads.fastest(lambda: pytest.fail("nothing to measure")) == expected


def test_one_stream_threads_is_one_or_all_of_them():
    from rnngen import generation
    from rnngen.engine import model
    from rnngen.engine.spec import ModelSpec

    spec = ModelSpec(5, 8, 1, "gru")
    params = model.init_params(spec, np.random.default_rng(0))
    before = threads.thread_count()
    assert generation.one_stream_threads(spec, params) in {None, 1, before}
    assert threads.thread_count() == before
