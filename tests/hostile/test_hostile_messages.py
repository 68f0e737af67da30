"""Saying what it did and what to do: messages name only options the command has, say
where things went, and label what they show."""
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from world import ENV, assert_error, assert_ok, cli, make_world
from rnngen import resources


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "messages")


@pytest.mark.parametrize("name", list(resources.shipped_configs()) + ["tiny.yaml"])
def test_configs_name_prints_a_shipped_config_to_copy(name):
    result = cli(["configs", name])
    assert_ok(result)
    path = resources.shipped_configs()[name.removesuffix(".yaml")][0]
    assert result.stdout == path.read_text(encoding="utf-8") and result.stderr == ""


def test_configs_with_an_unknown_name_lists_the_shipped_ones():
    line = assert_error(cli(["configs", "tinny"]), "no shipped config is named 'tinny'", 2)
    assert all(name in line for name in resources.shipped_configs())


def test_train_checkpoint_points_at_resume_not_at_report(w, tmp_path):
    line = assert_error(cli(["train", "--config", w.cfg, "--checkpoint", w.ckpt, "--output",
                             tmp_path / "o.npz"]), "use --resume CHECKPOINT", 2)
    assert "--report" not in line and not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("source", ["stdin", "file"])
def test_eval_unknown_characters_name_skip_unknown(w, tmp_path, source):
    text = tmp_path / "t.txt"
    text.write_text("the king ~ of rome")
    args = ["eval", "--checkpoint", w.ckpt, "--corpus", "-" if source == "stdin" else text]
    line = assert_error(cli(args, input="the king ~ of rome"), "never saw: '~'")
    assert "--skip-unknown" in line
    assert_ok(cli([*args, "--skip-unknown"], input="the king ~ of rome"))


def test_progress_lines_label_the_training_loss_apart_from_validation(w, tmp_path):
    cfg = w.config("progress", train={"steps": 40, "eval_every": 20})
    result = cli(["train", "--config", cfg, "--output", tmp_path / "p.npz"])
    assert_ok(result)
    plain = [line for line in result.stderr.splitlines() if re.match(r"step \d+/40:", line)]
    assert plain and all(re.fullmatch(r"step \d+/40: train loss [\d.]+ \([\d.]+ bpc\), val "
                                      r"[-\d.]+ [\d.]+k char/s", line) for line in plain), plain


def test_train_report_says_where_the_page_went(w, tmp_path):
    out = tmp_path / "r.npz"
    result = cli(["train", "--config", w.cfg, "--output", out, "--report"])
    assert_ok(result)
    told = [line for line in result.stderr.splitlines() if "report written to" in line]
    assert told == [f"rnngen: report written to {tmp_path / 'r.html'} (rewritten at every "
                    "validation)"]
    assert (tmp_path / "r.html").exists()


def test_interrupted_sampling_on_a_terminal_ends_its_line_first(w):
    """Ctrl-C while text streams to a terminal: the message starts a line of its own."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "rnngen", "sample", "--checkpoint",
                             str(w.ckpt), "--n", "100000000", "--random-seed", "1"],
                            stdin=child, stdout=child, stderr=child, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(child)
    seen, deadline = b"", time.time() + 60
    try:
        while len(seen) < 2000 and time.time() < deadline:
            if select.select([main], [], [], 1)[0]:
                seen += os.read(main, 4096)
        proc.send_signal(signal.SIGINT)
        while time.time() < deadline:
            if select.select([main], [], [], 1)[0]:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # the terminal's other end closed
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
    finally:
        proc.kill()
        proc.wait()
        os.close(main)
    text = seen.decode("utf-8", "replace").replace("\r\n", "\n")
    assert "rnngen: interrupted" in text
    assert re.search(r"(^|\n)rnngen: interrupted\n?$", text), repr(text[-200:])
    assert proc.returncode in (130, -signal.SIGKILL)


def test_sample_says_which_model_and_points_at_a_run_beside_it(w, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli(["sample", "--n", "5"])
    assert_ok(result)
    assert result.stderr == ("rnngen: sampling from the shipped model (tinyshakespeare); "
                             "--checkpoint PATH samples another\n")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "mine.npz").write_bytes(w.ckpt.read_bytes())
    result = cli(["sample", "--n", "5"])
    assert result.stderr.splitlines() == [
        "rnngen: sampling from the shipped model, not your run runs/mine.npz; to sample from "
        "that: rnngen sample --checkpoint runs/mine.npz"]
    assert cli(["sample", "--n", "5", "--checkpoint", w.ckpt]).stderr == ""


def test_every_command_that_reads_a_checkpoint_takes_checkpoint(w):
    for args in (["info", "--checkpoint", w.ckpt], ["info", w.ckpt],
                 ["eval", "--checkpoint", w.ckpt, "--corpus", w.text],
                 ["sample", "--checkpoint", w.ckpt, "--n", "3"],
                 ["report", "--checkpoint", w.ckpt, "--terminal", "--corpus", w.text]):
        assert_ok(cli(args))
    assert_error(cli(["info", w.ckpt, "--checkpoint", w.text]), "give the checkpoint once", 2)


def test_export_names_only_its_own_option(w, tmp_path):
    line = assert_error(cli(["export", "--checkpoint", w.ckpt, "--output", tmp_path]),
                        "is a directory")
    assert "--output" in line and "train.output" not in line
