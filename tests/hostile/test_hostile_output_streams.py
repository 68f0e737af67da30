"""Output streams that fail: stdout full, closed or unable to encode; stderr gone during
training; output names whose temporary sibling does not fit. Real file descriptors, so
every case runs the command in a subprocess, through bash where a shell would."""
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from world import ENV, assert_error, cli, digest, make_world
from rnngen import atomic, checkpoint


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "streams")


def sh(command, env=None, timeout=120):
    """Run a bash command line with RNNGEN standing for the command."""
    rnngen = f"{shlex.quote(sys.executable)} -m rnngen"
    return subprocess.run(["bash", "-c", command.replace("RNNGEN", rnngen)],
                          capture_output=True, encoding="utf-8", errors="replace",
                          env=env or ENV, timeout=timeout)


DATA_COMMANDS = {
    "sample": "RNNGEN sample --checkpoint {ckpt} --n 200",
    "sample a long text": "RNNGEN sample --checkpoint {ckpt} --n 100000",
    "eval": "RNNGEN eval --checkpoint {ckpt} --corpus {text}",
    "eval --json": "RNNGEN eval --checkpoint {ckpt} --corpus {text} --json",
    "eval its split": "RNNGEN eval --checkpoint {ckpt}",
}


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_stdout_full_is_one_line_and_exit_1(w, command):
    done = sh(DATA_COMMANDS[command].format(ckpt=w.ckpt, text=w.text) + " > /dev/full")
    assert_error(done, "cannot write to stdout: No space left on device")


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_stdout_closed_is_one_line_and_exit_1(w, command):
    done = sh(DATA_COMMANDS[command].format(ckpt=w.ckpt, text=w.text) + " >&-")
    assert_error(done, "stdout is closed")


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_a_reader_that_leaves_early_ends_it_quietly(w, command):
    done = sh("set -o pipefail; " + DATA_COMMANDS[command].format(ckpt=w.ckpt, text=w.text)
              + " | head -c 1 > /dev/null")
    assert done.returncode == 0 and done.stderr == "", done.stderr


@pytest.mark.parametrize("encoding, ok", [
    ("ascii", False), ("latin-1", False), ("cp1252", False), ("utf-8", True), ("utf-16", True),
])
@pytest.mark.parametrize("command", ["sample", "sample --seed 'thé k'"])
def test_stdout_encoding_is_checked_before_generating(w, encoding, ok, command):
    env = dict(ENV, PYTHONIOENCODING=encoding)
    done = sh(f"RNNGEN {command} --checkpoint {w.wide_ckpt} --n 50", env=env)
    if ok:
        assert done.returncode == 0 and done.stderr == "", done.stderr
    else:
        assert_error(done, "set PYTHONIOENCODING=utf-8")
        assert done.stdout == ""  # refused before a character was written


def test_an_ascii_model_writes_to_an_ascii_stdout(w):
    done = sh(f"RNNGEN sample --checkpoint {w.ckpt} --n 50", env=dict(ENV, PYTHONIOENCODING="ascii"))
    assert done.returncode == 0 and done.stderr == "" and len(done.stdout) >= 50


TRAIN_STDERR = {
    "stderr /dev/full": "RNNGEN train --config {cfg} --output {out} 2>/dev/full",
    "stderr /dev/full, quiet": "RNNGEN train --config {cfg} --output {out} -q 2>/dev/full",
    "stderr closed": "RNNGEN train --config {cfg} --output {out} 2>&-",
    "stderr closed, quiet": "RNNGEN train --config {cfg} --output {out} -q 2>&-",
    "2>&1 | head -1": "RNNGEN train --config {cfg} --output {out} 2>&1 | head -1",
    "2>&1 | head -c 1": "RNNGEN train --config {cfg} --output {out} 2>&1 | head -c 1",
    "stderr to a reader that is gone": "RNNGEN train --config {cfg} --output {out} "
                                       "2> >(exec 0<&-; true)",
    "stdout and stderr closed": "RNNGEN train --config {cfg} --output {out} >&- 2>&-",
    "all of stdin, stdout, stderr closed": "RNNGEN train --config {cfg} --output {out} "
                                           "<&- >&- 2>&-",
}


@pytest.mark.parametrize("how", TRAIN_STDERR)
def test_training_survives_losing_stderr(w, tmp_path, how):
    out = tmp_path / "out.npz"
    cfg = w.config(f"stderr{abs(hash(how))}", train={"steps": 20, "eval_every": 5})
    done = sh("set -o pipefail; " + TRAIN_STDERR[how].format(cfg=cfg, out=out) + "; "
              "echo rc=${PIPESTATUS[0]}")
    assert "rc=0" in done.stdout, (done.stdout, done.stderr)
    ckpt = checkpoint.load(out)
    assert ckpt.step == 20
    assert "Traceback" not in done.stdout + done.stderr


def test_export_survives_losing_stderr(w, tmp_path):
    out = tmp_path / "e.npz"
    done = sh(f"RNNGEN export --checkpoint {w.ckpt} --output {out} 2>/dev/full")
    assert done.returncode == 0 and checkpoint.load(out).weights_only


def test_an_error_with_stderr_full_still_exits_1(w, tmp_path):
    done = sh(f"RNNGEN train --config {tmp_path / 'none.yaml'} 2>/dev/full")
    assert done.returncode == 1 and "Traceback" not in done.stdout


def temp_overhead():
    """Characters a checkpoint's temporary name adds to NAME, in this process."""
    return len(atomic.temp_prefix(Path("x"))) - 1 + len("abcdefgh.tmp")


# (case, file name length as a function of the overhead): the temp sibling of the output,
# or of the best checkpoint beside it (NAME.best.npz), is one character too long
LENGTHS = {
    "name of 255": lambda o: 255,
    "temp one over": lambda o: 256 - o,
    "best's temp one over": lambda o: 256 - o - len(".best"),
}


@pytest.mark.parametrize("case", LENGTHS)
@pytest.mark.parametrize("command", ["train", "export"])
def test_names_whose_temporary_sibling_is_too_long_fail_before_work(w, tmp_path, case, command):
    length = LENGTHS[case](temp_overhead())
    out = tmp_path / ("m" * (length - 4) + ".npz")
    if command == "train":
        args = ["train", "--config", w.cfg, "--output", out, "-q"]
    else:
        args = ["export", "--checkpoint", w.ckpt, "--output", out]
    before = digest(w.ckpt)
    result = cli(args)  # in this process, so the temp names' PID is known
    if command == "export" and case == "best's temp one over":
        assert result.exit_code == 0, result.output  # export writes no best checkpoint
        return
    assert_error(result, "cannot write checkpoints to")  # one line: refused before training
    assert "name too long" in result.stderr
    assert not out.exists() and digest(w.ckpt) == before


def test_sample_to_a_file_writes_exactly_the_text(w, tmp_path):
    out = tmp_path / "s.txt"
    done = sh(f"RNNGEN sample --checkpoint {w.ckpt} --seed 'the ' --n 300 --random-seed 1 > {out}")
    assert done.returncode == 0 and done.stderr == ""
    text = out.read_text()
    assert text.startswith("the ") and len(text) == 4 + 300  # no newline added off a tty
