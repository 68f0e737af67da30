"""Two runs, one output: the second is refused at once, naming the first one's PID."""
import os
import subprocess
import sys
import time

import pytest

from world import ENV, assert_error, assert_ok, cli, digest, make_world
from rnngen import checkpoint, lock


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
    assert checkpoint.load(out).meta["step"] == 2


def test_the_lock_is_released_when_a_run_ends(w, tmp_path):
    out = tmp_path / "m.npz"
    assert_ok(cli(["train", "--config", w.cfg, "--output", out, "--steps", 2, "-q"]))
    assert_ok(cli(["train", "--config", w.cfg, "--output", out, "--steps", 4, "-q", "--resume"]))
    assert checkpoint.load(out).meta["step"] == 4


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
    finally:
        first.terminate()
        first.communicate(timeout=60)
    assert first.returncode == 143
    assert checkpoint.load(out).meta["step"] > 0
