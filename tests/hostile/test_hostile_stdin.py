"""Every command with stdin closed (`0<&-`: Python then has no sys.stdin at all) or at
its end (`</dev/null`): it works where it does not need stdin, and otherwise says so in
one line (exit 1 or 2), with no traceback and nothing on stdout as if it had worked."""
import os
import subprocess

import pytest

from world import ENV, assert_error, assert_ok, cli, make_world, run
from test_classify_cli import markers, write_config as classifier_config, write_tsv
from test_sweep import sweep_config

CLOSED = "closed"  # which kind of stdin a case expects to fail on; EOF covers both
EOF = "eof"

# name -> (args, where it must fail: None (works either way), CLOSED or EOF, and the
# fragment its line holds). {ckpt} is a character model, {clf} a classifier, {out} a
# fresh output path, {cfg}/{clf_cfg}/{sweep_cfg} configs.
CASES = {
    "train": (["train", "--config", "{cfg}", "--output", "{out}.npz", "-q"], None, ""),
    "train classifier --corpus -": (["train", "--config", "{clf_cfg}", "--corpus", "-",
                                     "--output", "{out}.npz", "-q"], EOF, "stdin"),
    "sample": (["sample", "--checkpoint", "{ckpt}", "--n", "20"], None, ""),
    "sample --seed -": (["sample", "--checkpoint", "{ckpt}", "--n", "20", "--seed", "-"],
                        CLOSED, "--seed -"),  # at EOF: an empty seed, as if none
    "eval": (["eval", "--checkpoint", "{ckpt}"], None, ""),
    "eval --corpus -": (["eval", "--checkpoint", "{ckpt}", "--corpus", "-"], EOF, "stdin"),
    "eval classifier --corpus -": (["eval", "--checkpoint", "{clf}", "--corpus", "-"], EOF,
                                   "stdin"),
    "report --corpus -": (["report", "--checkpoint", "{ckpt}", "--corpus", "-", "--output",
                           "{out}.html"], EOF, "stdin"),
    "report --output -": (["report", "--checkpoint", "{ckpt}", "--output", "-"], None, ""),
    "report --terminal": (["report", "--checkpoint", "{ckpt}", "--terminal"], None, ""),
    "export": (["export", "--checkpoint", "{ckpt}", "--output", "{out}.npz"], None, ""),
    "info": (["info", "{ckpt}"], None, ""),
    "info --json": (["info", "--checkpoint", "{clf}", "--json"], None, ""),
    "configs": (["configs"], None, ""),
    "configs tiny": (["configs", "tiny"], None, ""),
    "classify": (["classify", "--checkpoint", "{clf}"], CLOSED, "stdin is closed"),
    "classify -": (["classify", "--checkpoint", "{clf}", "-"], CLOSED, "stdin is closed"),
    "sweep --show": (["sweep", "--config", "{sweep_cfg}", "--show"], None, ""),
}


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    w = make_world(tmp_path_factory, "stdin")
    d = w.d
    data = write_tsv(d / "m.tsv", markers(60))
    w.clf_cfg = classifier_config(d, data, train={"steps": 2, "eval_every": 2})
    assert_ok(cli(["train", "--config", w.clf_cfg, "-q"]))
    w.clf = d / "c.npz"
    sweep_dir = d / "sweep"
    sweep_dir.mkdir()
    w.sweep_cfg = sweep_config(sweep_dir, w.text)
    return w


def run_with_stdin(args, stdin):
    if stdin == CLOSED:  # closed in the child before rnngen starts
        return run(args, preexec_fn=lambda: os.close(0), env=ENV)
    return run(args, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("stdin", [CLOSED, EOF])
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_command_with_stdin_closed_or_at_its_end(w, tmp_path, name, stdin):
    args, fails_on, fragment = CASES[name]
    fill = {"ckpt": w.ckpt, "clf": w.clf, "cfg": w.cfg, "clf_cfg": w.clf_cfg,
            "sweep_cfg": w.sweep_cfg, "out": tmp_path / "out"}
    args = [a.format(**fill) for a in args]
    result = run_with_stdin(args, stdin)
    stderr = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr
    if fails_on == EOF or fails_on == stdin:
        assert result.returncode in (1, 2), stderr
        assert_error(result, fragment, result.returncode)
        assert result.stdout == b""
        # nothing written as if it had worked (a lock file is no output: lock.py)
        assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    elif name == "sweep --show" and result.returncode:
        assert_error(result, "")  # no study yet, or no Optuna: one line either way
    else:
        assert_ok(result)


def test_closed_stdin_is_named_in_the_line(w):
    result = run_with_stdin(["eval", "--checkpoint", w.ckpt, "--corpus", "-"], CLOSED)
    assert_error(result, "stdin is closed, so there is nothing to read for --corpus -")
