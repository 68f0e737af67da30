"""Every signal that ends a terminal session or a job leaves a resumable checkpoint, and
one that stops a report or an export mid-write leaves no temporary file."""
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


# -- report and export: a signal mid-write leaves no temporary file ---------------------
# runs the CLI with atomic.write slowed: the temporary file holds a few bytes, the test
# is told (a marker file), and the write waits for the signal
SLOW_WRITE = """import sys, time
from rnngen import atomic
marker = sys.argv.pop(1)
real = atomic.write
def slow(path, fill):
    def fill_slowly(f):
        f.write(b"the first bytes")
        f.flush()
        open(marker, "w").close()
        time.sleep(60)
        fill(f)
    return real(path, fill_slowly)
atomic.write = slow
from rnngen.cli import main
main(prog_name="rnngen")
"""
def defaults_restored():
    # a background job ignores SIGINT and SIGQUIT, and one started by nohup SIGHUP too
    for name in ENDING:
        signal.signal(getattr(signal, name), signal.SIG_DFL)


WRITERS = {
    "report": lambda w, out: ["report", "--checkpoint", w.ckpt, "--corpus", w.text,
                              "--output", out / "page.html"],
    "export": lambda w, out: ["export", "--checkpoint", w.ckpt, "--output", out / "m.npz"],
}


@pytest.mark.parametrize("existing", [False, True], ids=["new output", "output replaced"])
@pytest.mark.parametrize("name", ENDING)
@pytest.mark.parametrize("command", WRITERS)
def test_a_signal_mid_write_leaves_no_temporary_file(w, tmp_path, command, name, existing):
    out = tmp_path / "out"
    out.mkdir()
    args = WRITERS[command](w, out)
    target = args[-1]
    if existing:
        target.write_bytes(b"the previous version")
    marker = tmp_path / "mid-write"
    # every ending signal at its default, whatever the tests' own process ignores
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, str(marker), *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV,
                            preexec_fn=defaults_restored)
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")], "no write under way"
    proc.send_signal(getattr(signal, name))
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 128 + getattr(signal, name), err
    assert err.splitlines() == (["rnngen: interrupted"] if name == "SIGINT" else
                                [f"rnngen: stopped by {name}; nothing was written"])
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    assert (target.read_bytes() == b"the previous version") if existing else not target.exists()
