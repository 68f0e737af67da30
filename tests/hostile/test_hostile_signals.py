"""Every signal that ends a terminal session or a job leaves a resumable checkpoint."""
import signal
import subprocess
import sys
import time

import pytest

from world import ENV, make_world
from rnngen import checkpoint
from rnngen.run import StopOnSignals

ENDING = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGXCPU"]


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "signals")


def test_the_list_of_stop_signals_names_them_all():
    assert {signal.Signals(s).name for s in StopOnSignals.SIGNALS} == set(ENDING)


def start(w, tmp_path, stderr):
    out = tmp_path / "m.npz"
    cfg = w.config(f"sig-{tmp_path.name}", train={"steps": 100000, "eval_every": 20,
                                                  "output": str(out)})
    proc = subprocess.Popen([sys.executable, "-m", "rnngen", "train", "--config", str(cfg),
                             "-q"], stderr=stderr, stdout=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 60
    while not out.exists() and time.time() < deadline:  # under way: a checkpoint exists
        time.sleep(0.02)
    return proc, cfg, out


@pytest.mark.parametrize("name", ENDING)
def test_signal_leaves_a_resumable_checkpoint(w, tmp_path, name):
    proc, cfg, out = start(w, tmp_path, subprocess.PIPE)
    proc.send_signal(getattr(signal, name))
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 128 + getattr(signal, name), err
    assert f"stopped by {name} at step" in err and "Traceback" not in err
    stopped = checkpoint.load(out).step
    assert stopped > 0
    resumed = subprocess.run([sys.executable, "-m", "rnngen", "train", "--config", str(cfg),
                              "--steps", str(stopped + 2), "-q", "--resume"],
                             capture_output=True, env=ENV, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.load(out).step == stopped + 2


@pytest.mark.parametrize("name", ["SIGHUP", "SIGTERM"])
def test_signal_after_the_terminal_is_gone(w, tmp_path, name):
    # the terminal closed: stderr's reader has gone before the signal arrives
    proc, cfg, out = start(w, tmp_path, subprocess.PIPE)
    proc.stderr.close()
    proc.send_signal(getattr(signal, name))
    proc.wait(timeout=60)
    assert proc.returncode == 128 + getattr(signal, name)
    assert checkpoint.load(out).step > 0


def test_a_second_signal_stops_at_once(w, tmp_path):
    proc, cfg, out = start(w, tmp_path, subprocess.PIPE)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    checkpoint.load(out)  # whatever stopped it, the last checkpoint is whole
