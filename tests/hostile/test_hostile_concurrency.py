"""Two runs, one output: the second is refused at once, naming the first one's PID."""
import os
import subprocess
import sys
import time

import pytest

from world import ENV, assert_error, assert_ok, cli, digest, make_world
from rnngen import checkpoint, lock
from rnngen.training import best_path


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "concurrency")


def spell(tmp_path, out, how):
    if how == "absolute":
        return out
    if how == "relative":
        return os.path.relpath(out)
    if how == "dotted":
        return tmp_path / "." / ".." / tmp_path.name / out.name
    link = tmp_path / "link.npz"
    link.symlink_to(out)
    return link


@pytest.mark.parametrize("how", ["absolute", "relative", "dotted", "symlink"])
@pytest.mark.parametrize("command", ["train", "export"])
def test_a_held_output_is_refused_whatever_its_spelling(w, tmp_path, how, command):
    out = tmp_path / "m.npz"
    out.write_bytes(w.ckpt.read_bytes())  # another run's checkpoint, mid-run
    before = digest(out)
    with lock.OutputLock(out):
        if command == "train":
            args = ["train", "--config", w.cfg, "--output", spell(tmp_path, out, how), "-q"]
        else:
            args = ["export", "--checkpoint", w.ckpt, "--output", spell(tmp_path, out, how)]
        result = cli(args)
    assert_error(result, f"being written by another rnngen run (process {os.getpid()})")
    assert digest(out) == before


def test_a_stale_lock_file_from_a_dead_run_does_not_block(w, tmp_path):
    out = tmp_path / "m.npz"
    lock.lock_path(out).write_text("999999999\n")
    assert_ok(cli(["train", "--config", w.cfg, "--output", out, "-q"]))
    assert checkpoint.load(out).step == 2


def test_the_lock_is_released_when_a_run_ends(w, tmp_path):
    out = tmp_path / "m.npz"
    assert_ok(cli(["train", "--config", w.cfg, "--output", out, "--steps", 2, "-q"]))
    assert_ok(cli(["train", "--config", w.cfg, "--output", out, "--steps", 4, "-q", "--resume"]))
    assert checkpoint.load(out).step == 4


def test_a_failed_run_releases_its_lock(w, tmp_path):
    out = tmp_path / "m.npz"
    assert_error(cli(["train", "--config", w.cfg, "--output", out, "--corpus", tmp_path]),
                 "is a directory")
    assert_ok(cli(["train", "--config", w.cfg, "--output", out, "-q"]))


def test_different_outputs_do_not_block_each_other(w, tmp_path):
    with lock.OutputLock(tmp_path / "a.npz"):
        assert_ok(cli(["train", "--config", w.cfg, "--output", tmp_path / "b.npz", "-q"]))


def test_a_lock_file_that_cannot_be_made_is_one_line(w, tmp_path):
    out = tmp_path / "m.npz"
    lock.lock_path(out).mkdir()
    assert_error(cli(["train", "--config", w.cfg, "--output", out, "-q"]),
                 "cannot create the lock file")


def test_two_live_runs_on_one_output(w, tmp_path):
    out = tmp_path / "m.npz"
    cfg = w.config("long", train={"steps": 100000, "eval_every": 20, "output": str(out)})
    first = subprocess.Popen([sys.executable, "-m", "rnngen", "train", "--config", str(cfg),
                              "-q"], stderr=subprocess.PIPE, env=ENV)
    try:
        deadline = time.time() + 60
        while not out.exists() and time.time() < deadline:
            time.sleep(0.02)
        second = subprocess.run([sys.executable, "-m", "rnngen", "train", "--config", str(cfg),
                                 "-q"], capture_output=True, env=ENV, timeout=60)
        assert_error(second, f"being written by another rnngen run (process {first.pid})")
        assert first.poll() is None  # the first run goes on, untouched
    finally:  # (it may still be starting: its signal handlers are not always in place)
        first.terminate()
        first.communicate(timeout=60)
    assert checkpoint.load(out).step > 0


def wait_for_locks(run, *outputs):
    """Until the run has locked every output (its PID in their lock files)."""
    deadline = time.time() + 60
    while time.time() < deadline and run.poll() is None:
        paths = [lock.lock_path(out) for out in outputs]
        if all(p.exists() and p.read_text().strip() == str(run.pid) for p in paths):
            return
        time.sleep(0.02)
    raise AssertionError(f"the first run did not lock {outputs}")


@pytest.mark.parametrize("second", ["train onto its best", "train whose best is its output",
                                    "export onto its best"])
def test_a_live_runs_best_checkpoint_is_locked_too(w, tmp_path, second):
    """m.npz keeps its best in m.best.npz: a run writing m.best.npz as its output, or
    one writing m.npz whose best is the first run's output, is refused before any work."""
    first_out = tmp_path / ("m.best.npz" if second == "train whose best is its output"
                            else "m.npz")
    cfg = w.config("long", train={"steps": 100000, "eval_every": 20, "output": str(first_out)})
    first = subprocess.Popen([sys.executable, "-m", "rnngen", "train", "--config", str(cfg),
                              "-q"], stderr=subprocess.PIPE, env=ENV)
    try:
        wait_for_locks(first, first_out, best_path(first_out))
        if second == "train onto its best":
            out = best_path(first_out)
            args = ["train", "--config", w.cfg, "--output", out, "-q"]
        elif second == "export onto its best":
            out = best_path(first_out)
            args = ["export", "--checkpoint", w.ckpt, "--output", out]
        else:
            out = tmp_path / "m.npz"
            args = ["train", "--config", w.cfg, "--output", out, "-q"]
        before = digest(out) if out.exists() else None
        assert_error(cli(args), f"being written by another rnngen run (process {first.pid})")
        assert (digest(out) if out.exists() else None) == before
        assert first.poll() is None  # the first run goes on, untouched
    finally:  # it may still be starting, before its signal handlers: no exit code to check
        first.terminate()
        first.communicate(timeout=60)
