"""Bad input, one row per case: each gets a one-line message naming the problem and
the fix, exit 1 (errors) or 2 (usage), and no traceback."""
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import edit_meta, make_text, write_config
from rnngen import checkpoint
from rnngen.cli import main


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    """A small world of good and bad files, shared by every row."""
    d = tmp_path_factory.mktemp("bad")
    good = d / "good.txt"
    good.write_text(make_text(), encoding="utf-8")
    cfg = write_config(d, good, name="good.yaml")
    result = CliRunner().invoke(main, ["train", "--config", str(cfg), "-q"])
    assert result.exit_code == 0, result.output
    ckpt = d / "model.npz"

    def file(name, data):
        path = d / name
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
        return path

    def config_with(name, **sections):
        return write_config(d, good, name=name, **sections)

    def ckpt_variant(name, edit):
        path = d / name
        shutil.copy(ckpt, path)
        edit(path)
        return path

    blocker = file("a_file", "not a directory")
    return SimpleNamespace(
        d=d, good=good, cfg=cfg, ckpt=ckpt,
        yaml_error=file("yaml_error.yaml", "model:\n  hidden_size: 8\n train: [\n"),
        unknown=file("unknown.yaml", "model:\n  hiden_size: 8\n"),
        wrong_type=file("wrong_type.yaml", "train:\n  steps: many\n"),
        hidden0=config_with("h0.yaml", model={"hidden_size": 0}),
        lr0=config_with("lr0.yaml", train={"learning_rate": 0.0}),
        seq0=config_with("seq0.yaml", train={"seq_length": 0}),
        split=config_with("split.yaml", data={"val_fraction": 1.0}),
        dropout=config_with("dropout.yaml", model={"dropout": 1.0}),
        weight_drop=config_with("weight_drop.yaml", model={"weight_drop": -0.1}),
        missing_corpus=config_with("mc.yaml", data={"corpus": str(d / "nope.txt")}),
        empty=config_with("empty.yaml", data={"corpus": str(file("empty.txt", b""))}),
        short=config_with("short.yaml", data={"corpus": str(file("short.txt", "tiny text"))}),
        latin1=config_with("latin1.yaml", data={"corpus": str(file("l1.txt", b"caf\xe9 ok"))}),
        dir_corpus=config_with("dir.yaml", data={"corpus": str(d)}),
        binary=config_with("bin.yaml", data={"corpus": str(file("b.bin", b"\x7fELF\x00\x01"))}),
        unwritable=config_with("unw.yaml", train={"output": str(blocker / "model.npz")}),
        other_vocab=config_with("ov.yaml", data={"corpus": str(file("ov.txt", "xyz" * 3000))}),
        truncated=ckpt_variant("trunc.npz", lambda p: p.write_bytes(p.read_bytes()[:1000])),
        corrupted=ckpt_variant("corrupt.npz", lambda p: p.write_bytes(b"\x00" * 4000)),
        newer=ckpt_variant("newer.npz", lambda p: edit_meta(p, version=checkpoint.VERSION + 1)),
        pickled=ckpt_variant("pickled.npz", lambda p: np.savez(
            p, meta=np.array([{"evil": True}], dtype=object))),
        foreign=ckpt_variant("foreign.npz", lambda p: np.savez(p, weights=np.ones(4))),
    )


# (id, args(w), stdin, exit code, a piece of the message)
CASES = [
    ("config missing", lambda w: ["train", "--config", str(w.d / "none.yaml")], None, 1,
     "does not exist and is not a shipped config; pass --config"),
    ("config is a directory", lambda w: ["train", "--config", str(w.d)], None, 1,
     "is a directory"),
    ("yaml syntax error", lambda w: ["train", "--config", str(w.yaml_error)], None, 1,
     "YAML syntax error at line 3"),
    ("unknown key", lambda w: ["train", "--config", str(w.unknown)], None, 1,
     "unknown key 'model.hiden_size' (did you mean 'hidden_size'?)"),
    ("wrong type", lambda w: ["train", "--config", str(w.wrong_type)], None, 1,
     "train.steps must be int, got str 'many'"),
    ("hidden <= 0", lambda w: ["train", "--config", str(w.hidden0)], None, 1,
     "model.hidden_size must be > 0"),
    ("lr <= 0", lambda w: ["train", "--config", str(w.lr0)], None, 1,
     "train.learning_rate must be > 0"),
    ("seq length < 1", lambda w: ["train", "--config", str(w.seq0)], None, 1,
     "train.seq_length must be >= 1"),
    ("split outside (0,1)", lambda w: ["train", "--config", str(w.split)], None, 1,
     "data.val_fraction must be in (0, 1)"),
    ("dropout 1", lambda w: ["train", "--config", str(w.dropout)], None, 1,
     "model.dropout must be in [0, 1)"),
    ("weight drop negative", lambda w: ["train", "--config", str(w.weight_drop)], None, 1,
     "model.weight_drop must be in [0, 1)"),
    ("bad --set", lambda w: ["train", "--config", str(w.cfg), "--set", "model.layers=2"], None, 1,
     "unknown key 'model.layers'"),
    ("--steps 0", lambda w: ["train", "--config", str(w.cfg), "--steps", "0"], None, 2,
     "--steps"),
    ("training diverges", lambda w: ["train", "--config", str(w.cfg), "--output",
                                     str(w.d / "diverged.npz"), "--set",
                                     "train.optimizer=sgd", "--set", "train.learning_rate=1e30",
                                     "--set", "train.clip_value=0"], None, 1,
     "training diverged at step"),
    ("corpus missing", lambda w: ["train", "--config", str(w.missing_corpus)], None, 1,
     "nope.txt does not exist"),
    ("empty corpus", lambda w: ["train", "--config", str(w.empty)], None, 1,
     "is empty; give it some text"),
    ("corpus shorter than a batch", lambda w: ["train", "--config", str(w.short)], None, 1,
     "fewer than one batch needs"),
    ("corpus not utf-8", lambda w: ["train", "--config", str(w.latin1)], None, 1,
     "is not valid UTF-8 (bad byte at offset 3)"),
    ("corpus is a directory", lambda w: ["train", "--config", str(w.dir_corpus)], None, 1,
     "is a directory; name a UTF-8 text file"),
    ("corpus is binary", lambda w: ["train", "--config", str(w.binary)], None, 1,
     "looks like a binary file"),
    ("output not writable", lambda w: ["train", "--config", str(w.unwritable)], None, 1,
     "cannot write checkpoints to"),
    ("resume: other vocabulary", lambda w: ["train", "--config", str(w.other_vocab), "--resume",
                                            str(w.ckpt)], None, 1,
     "vocabulary differs"),
    ("resume: other shape", lambda w: ["train", "--config", str(w.cfg), "--resume", str(w.ckpt),
                                       "--set", "model.num_layers=2"], None, 1,
     "model.num_layers = 1 but the config says 2"),
    ("checkpoint missing", lambda w: ["sample", "--checkpoint", str(w.d / "none.npz")], None, 1,
     "does not exist"),
    ("checkpoint truncated", lambda w: ["sample", "--checkpoint", str(w.truncated)], None, 1,
     "truncated or corrupted"),
    ("checkpoint corrupted", lambda w: ["eval", "--checkpoint", str(w.corrupted)], None, 1,
     "truncated or corrupted"),
    ("checkpoint from a newer version", lambda w: ["sample", "--checkpoint", str(w.newer)], None,
     1, "newer rnngen"),
    ("npz with pickled objects", lambda w: ["sample", "--checkpoint", str(w.pickled)], None, 1,
     "refuses to load"),
    ("npz not an rnngen checkpoint", lambda w: ["eval", "--checkpoint", str(w.foreign)], None, 1,
     "not an rnngen checkpoint"),
    ("seed outside vocabulary", lambda w: ["sample", "--checkpoint", str(w.ckpt), "--seed",
                                           "Zoë"], None, 1,
     "the seed text has 2 character(s) the model never saw: 'Z', 'ë'"),
    ("eval text outside vocabulary", lambda w: ["eval", "--checkpoint", str(w.ckpt), "--corpus",
                                                "-"], "the king ~ of rome", 1,
     "never saw: '~'"),
    ("eval text too short", lambda w: ["eval", "--checkpoint", str(w.ckpt), "--corpus", "-"],
     "a", 1, "fewer than 2 characters"),
    ("temperature < 0", lambda w: ["sample", "--checkpoint", str(w.ckpt), "--temperature",
                                   "-0.5"], None, 2, "is not in the range x>=0"),
    ("temperature NaN", lambda w: ["sample", "--checkpoint", str(w.ckpt), "--temperature", "nan"],
     None, 2, "must be a finite number, got nan"),
    ("top-k < 1", lambda w: ["sample", "--checkpoint", str(w.ckpt), "--top-k", "0"], None, 2,
     "--top-k"),
    ("top-p 0", lambda w: ["sample", "--checkpoint", str(w.ckpt), "--top-p", "0"], None, 2,
     "--top-p"),
    ("top-p > 1", lambda w: ["sample", "--checkpoint", str(w.ckpt), "--top-p", "1.01"], None, 2,
     "--top-p"),
    ("n < 0", lambda w: ["sample", "--checkpoint", str(w.ckpt), "--n", "-1"], None, 2, "--n"),
    ("unknown option", lambda w: ["sample", "--temprature", "1"], None, 2, "No such option"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(w, case):
    _, args, stdin, code, message = case
    result = CliRunner().invoke(main, args(w), input=stdin)
    assert result.exit_code == code, result.output
    assert message in result.stderr, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # exited on purpose, not crashed
    if code == 1:  # the error is one line, the last (train may have printed its banner)
        last = result.stderr.splitlines()[-1]
        assert last.startswith("Error: ") and message in last


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25
