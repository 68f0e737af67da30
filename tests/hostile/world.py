"""What every hostile test shares: tiny runs, and exact checks of an outcome.

Each case asserts the whole outcome: the exit code, exactly one line on stderr for an
error (``Error: ...``, naming the problem), no traceback, and either the files it must
not touch unchanged (byte for byte) or the checkpoint it must leave.
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from conftest import ROOT, SHARED_CORPUS, edit_meta, make_text  # noqa: E402,F401

from rnngen.cli import main  # noqa: E402

# the smallest run that trains, validates and writes a checkpoint
TINY = {"model": {"hidden_size": 4, "num_layers": 1},
        "train": {"steps": 2, "batch_size": 2, "seq_length": 8, "eval_every": 2,
                  "learning_rate": 0.01, "seed": 1}}
ENV = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT / "src"))


def tiny_config(path, corpus, output, **sections):
    cfg = {"data": {"corpus": str(corpus), "val_fraction": 0.1}, **{k: dict(v) for k, v in
                                                                    TINY.items()}}
    cfg["train"]["output"] = str(output)
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cli(args, input=None):
    """Run the CLI in-process, as a user would from the shell."""
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def run(args, **kw):
    """Run ``python -m rnngen ARGS`` in a subprocess (real file descriptors)."""
    kw.setdefault("capture_output", True)
    kw.setdefault("env", ENV)
    kw.setdefault("timeout", 120)
    return subprocess.run([sys.executable, "-m", "rnngen", *map(str, args)], **kw)


def error_line(stderr):
    """The one line an error leaves on stderr; fails unless there is exactly one."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


def assert_error(result, fragment, code=1):
    """A CliRunner result or CompletedProcess that failed cleanly with one line."""
    rc = getattr(result, "exit_code", None)
    rc = result.returncode if rc is None else rc
    assert rc == code, (rc, result.stderr)
    if isinstance(getattr(result, "exception", None), Exception):
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    stderr = result.stderr
    if code == 2:  # click's usage text, then one Error line
        if isinstance(stderr, bytes):
            stderr = stderr.decode()
        errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1 and "Traceback" not in stderr, stderr
        line = errors[0]
    else:
        line = error_line(stderr)
    assert fragment in line, line
    return line


def assert_ok(result):
    rc = getattr(result, "exit_code", None)
    rc = result.returncode if rc is None else rc
    stderr = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
    assert rc == 0, stderr
    assert "Traceback" not in stderr and "Error" not in stderr, stderr


class World:
    """Files shared by a module's cases: a corpus, a config, trained checkpoints."""

    def __init__(self, d):
        self.d = d
        self.text = d / "corpus.txt"
        self.text.write_text(make_text(4000), encoding="utf-8")
        self.cfg = tiny_config(d / "cfg.yaml", self.text, d / "model.npz")
        assert_ok(cli(["train", "--config", self.cfg, "-q"]))
        self.ckpt = d / "model.npz"
        self.wide_text = d / "wide.txt"  # a vocabulary that ASCII and Latin-1 cannot write
        self.wide_text.write_text(make_text(4000).replace("e", "é").replace("o", "✓"),
                                  encoding="utf-8")
        self.wide_cfg = tiny_config(d / "wide.yaml", self.wide_text, d / "wide.npz")
        assert_ok(cli(["train", "--config", self.wide_cfg, "-q"]))
        self.wide_ckpt = d / "wide.npz"

    def config(self, name, **sections):
        """A tiny config writing to its own output NAME.npz."""
        return tiny_config(self.d / f"{name}.yaml", self.text, self.d / f"{name}.npz",
                           **sections)

    def file(self, name, data):
        path = self.d / name
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
        return path


def make_world(tmp_path_factory, name="world"):
    return World(tmp_path_factory.mktemp(name))
