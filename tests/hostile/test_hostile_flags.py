"""Hostile flags: values out of range, and outputs that name an input."""
import os

import pytest

from world import assert_error, assert_ok, cli, digest, make_world
from rnngen import checkpoint


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "flags")


SAMPLE_BAD = [
    (["--n", "-1"], 2, "--n"), (["--n", "x"], 2, "--n"), (["--n", "1e3"], 2, "--n"),
    (["--temperature", "-1"], 2, "is not in the range x>=0"),
    (["--temperature", "nan"], 2, "'--temperature': must be a finite number, got nan"),
    (["--temperature", "-inf"], 2, "is not in the range x>=0"),
    (["--temperature", "x"], 2, "--temperature"),
    (["--temperature", "inf"], 2, "'--temperature': must be a finite number, got inf"),
    (["--temperature", "1e309"], 2, "'--temperature': must be a finite number, got inf"),
    (["--top-k", "0"], 2, "--top-k"), (["--top-k", "-1"], 2, "--top-k"),
    (["--top-k", "x"], 2, "--top-k"),
    (["--top-p", "0"], 2, "--top-p"), (["--top-p", "1.5"], 2, "--top-p"),
    (["--top-p", "nan"], 2, "'--top-p': must be a finite number, got nan"),
    (["--top-p", "-nan"], 2, "'--top-p': must be a finite number, got nan"),
    (["--top-p", "inf"], 2, "--top-p"), (["--top-p", "-0.1"], 2, "--top-p"),
    (["--random-seed", "-1"], 2, "--random-seed"), (["--random-seed", "x"], 2, "--random-seed"),
    (["--seed", "Zoë"], 1, "never saw: 'Z', 'ë'"),
    (["--seed", "\x00"], 1, "never saw: '\\x00'"),
    (["--fresh-state", "x"], 2, "unexpected extra argument"),
    (["--temprature", "1"], 2, "No such option"),
]


@pytest.mark.parametrize("args, code, fragment", SAMPLE_BAD, ids=[" ".join(a) for a, _, _ in
                                                                   SAMPLE_BAD])
def test_sample_flags(w, args, code, fragment):
    result = cli(["sample", "--checkpoint", w.ckpt, *args])
    assert_error(result, fragment, code)
    assert result.stdout == ""


SAMPLE_GOOD = [
    ["--n", "0"], ["--temperature", "0"], ["--top-k", "1000"], ["--top-p", "1"],
    ["--top-p", "1e-9"], ["--seed", "-"], ["--random-seed", str(2**70)], ["--fresh-state"],
    ["--temperature", "1e-30"], ["--temperature", "1e30"],
]


@pytest.mark.parametrize("args", SAMPLE_GOOD, ids=[" ".join(a) for a in SAMPLE_GOOD])
def test_sample_flags_at_their_limits_work(w, args):
    result = cli(["sample", "--checkpoint", w.ckpt, "--n", "20", *args], input="")
    assert_ok(result)
    assert result.stderr == "" and not result.stdout.endswith("\n\n")  # no tty: no added newline


TRAIN_BAD = [
    (["--steps", "0"], 2, "--steps"), (["--steps", "-1"], 2, "--steps"),
    (["--steps", "x"], 2, "--steps"), (["--seed", "-1"], 2, "--seed"),
    (["--resume", "/nonexistent.npz"], 1, "does not exist"),
    (["--set", "noequals"], 1, "--set expects key=value"),
    (["--set", "=5"], 1, "--set expects key=value"),
    (["--set", ".steps=1"], 1, "unknown key '.steps'"),
    (["--set", "train.=1"], 1, "unknown key 'train.'"),
    (["--set", "train.steps.x=1"], 1, "unknown key 'train.steps.x'"),
    (["--set", "TRAIN.steps=1"], 1, "unknown key 'TRAIN.steps'"),
    (["--set", "train=5"], 1, "unknown key 'train'"),
    (["--set", "train.steps=1.5"], 1, "train.steps must be int, got float"),
    (["--set", "train.steps=true"], 1, "train.steps must be int, got bool"),
    (["--set", "train.steps="], 1, "train.steps must be int, got null"),
    (["--set", "model.skip=1"], 1, "model.skip must be bool, got int"),
    (["--output", ""], 1, "train.output is empty"),
    (["--corpus", ""], 1, "data.corpus is empty"),
    (["--config", ""], 1, "is a directory"),
]


@pytest.mark.parametrize("args, code, fragment", TRAIN_BAD, ids=[" ".join(a) for a, _, _ in
                                                                 TRAIN_BAD])
def test_train_flags(w, tmp_path, args, code, fragment):
    out = tmp_path / "out.npz"
    base = ["train", "--config", w.cfg, "--output", out, "-q"]
    result = cli(base[:3] + args + base[3:] if args[0] != "--output" else base[:3] + args)
    assert_error(result, fragment, code)
    assert not out.exists()


EVAL_BAD = [
    (["--corpus", "/nonexistent.txt"], None, "does not exist"),
    (["--corpus", "/"], None, "is a directory"),
    (["--corpus", "/dev/zero"], None, "NUL byte at offset 0"),
    (["--corpus", "/dev/null"], None, "fewer than 2 characters"),
    (["--corpus", "-"], "", "fewer than 2 characters"),
    (["--corpus", "-"], "t", "fewer than 2 characters"),
    (["--corpus", "-"], "the king ~ of rome §", "2 character(s) the model never saw: '~', '§'"),
    (["--corpus", "-"], "ok\x00ok", "NUL byte"),
    (["--checkpoint", "/nonexistent.npz"], None, "does not exist"),
    (["--jsn"], None, "No such option"),
]


@pytest.mark.parametrize("args, stdin, fragment", EVAL_BAD,
                         ids=[" ".join(a) + f" <{s!r}" for a, s, _ in EVAL_BAD])
def test_eval_flags(w, args, stdin, fragment):
    base = ["eval"] + ([] if "--checkpoint" in args else ["--checkpoint", w.ckpt])
    result = cli(base + args, input=stdin)
    assert_error(result, fragment, 2 if "No such" in fragment else 1)
    assert result.stdout == ""


def test_eval_names_unknown_characters_from_every_chunk(w, monkeypatch):
    from rnngen import corpus
    monkeypatch.setattr(corpus, "CHUNK_BYTES", 4)
    result = cli(["eval", "--checkpoint", w.ckpt, "--corpus", "-"], input="the ~ king ^ of §")
    assert_error(result, "3 character(s) the model never saw: '~', '^', '§'")


# -- an output is never an input -------------------------------------------------------
def spellings(d, target):
    """Other names for target: a symlink, a hard link, a path through '..' and '.'."""
    link = d / "link"
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    hard = d / "hard"
    hard.unlink(missing_ok=True)
    os.link(target, hard)
    return {"itself": target, "symlink": link, "hard link": hard,
            "dotted": d / "." / ".." / d.name / target.name,
            "relative": os.path.relpath(target)}


@pytest.mark.parametrize("spelling", ["itself", "symlink", "hard link", "dotted", "relative"])
@pytest.mark.parametrize("which", ["corpus", "config file"])
def test_train_never_writes_over_its_inputs(w, tmp_path, spelling, which):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(w.text.read_bytes())
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(w.cfg.read_bytes())
    target = corpus if which == "corpus" else cfg
    before = {p: digest(p) for p in (corpus, cfg)}
    out = spellings(tmp_path, target)[spelling]
    result = cli(["train", "--config", cfg, "--corpus", corpus, "--output", out, "-q"])
    assert_error(result, f"is the {which}; writing there would replace it")
    assert {p: digest(p) for p in (corpus, cfg)} == before


@pytest.mark.parametrize("which", ["corpus", "config file"])
def test_the_best_checkpoint_never_lands_on_an_input(w, tmp_path, which):
    # output m.txt puts the best checkpoint at m.best.txt: make that the input
    victim = tmp_path / "m.best.txt"
    victim.write_bytes(w.text.read_bytes() if which == "corpus" else w.cfg.read_bytes())
    before = digest(victim)
    cfg = victim if which == "config file" else w.cfg
    corpus = victim if which == "corpus" else w.text
    result = cli(["train", "--config", cfg, "--corpus", corpus, "--output", tmp_path / "m.txt"])
    assert_error(result, f"the best checkpoint {tmp_path / 'm.best.txt'} is the {which}")
    assert digest(victim) == before


@pytest.mark.parametrize("spelling", ["itself", "symlink", "hard link", "dotted", "relative"])
def test_export_never_writes_over_its_input(w, tmp_path, spelling):
    src = tmp_path / "m.npz"
    src.write_bytes(w.ckpt.read_bytes())
    before = digest(src)
    out = spellings(tmp_path, src)[spelling]
    result = cli(["export", "--checkpoint", src, "--output", out])
    assert_error(result, "is the checkpoint being exported")
    assert digest(src) == before


def test_resuming_into_the_output_itself_is_what_resume_is_for(w, tmp_path):
    cfg = w.config("resumable", train={"steps": 2, "output": str(tmp_path / "r.npz")})
    assert_ok(cli(["train", "--config", cfg, "-q"]))
    result = cli(["train", "--config", cfg, "--steps", "4", "--resume", "-q"])
    assert_ok(result)
    assert checkpoint.load(tmp_path / "r.npz").step == 4
    result = cli(["train", "--config", cfg, "--steps", "6", "--resume", tmp_path / "r.npz", "-q"])
    assert_ok(result)
    assert checkpoint.load(tmp_path / "r.npz").step == 6


def test_a_run_that_diverges_ends_in_one_error_line(w, tmp_path):
    """The banner is printed once the run starts; the divergence is the last line."""
    out = tmp_path / "out.npz"
    result = cli(["train", "--config", w.cfg, "--output", out, "-q", "--set",
                  "train.optimizer=sgd", "--set", "train.learning_rate=1e30", "--set",
                  "train.clip_value=0"])
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: training diverged at step") and "lower" in last
