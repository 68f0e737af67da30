"""Fine-tuning (`rnngen train --init-from CKPT`, run.prepare(init_from=...)): a new run
whose weights start from a checkpoint's, the vocabulary mapped row by row, everything
else fresh; exact resume of such a run; every refusal one line."""
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import make_text, write_config
from test_classify_cli import markers, write_config as classifier_config, write_tsv
from rnngen import checkpoint, finetune, run
from rnngen.cli import main
from rnngen.engine.spec import ClassifierSpec, ModelSpec


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def one_line(result, code, *words):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: "), result.output
    if code == 1:
        assert len(result.output.strip().splitlines()) == 1, result.output
    for word in words:
        assert word in line, line
    return line


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A trained LSTM on text A, a text B with characters A lacks, and the config."""
    tmp = tmp_path_factory.mktemp("finetune")
    a, b = tmp / "a.txt", tmp / "b.txt"
    a.write_text(make_text(6000), encoding="utf-8")
    b.write_text(make_text(6000, seed=2) + "\nXYZ!? 7", encoding="utf-8")
    cfg = write_config(tmp, a, model={"cell": "lstm", "hidden_size": 16},
                       train={"steps": 30, "eval_every": 10})
    ok(cli("train", "--config", cfg, "--output", tmp / "a.npz", "-q"))
    return tmp, cfg, tmp / "a.npz", b


def prepared(cfg, out, corpus=None, **kw):
    overrides = {"train.output": str(out), **({"data.corpus": str(corpus)} if corpus else {})}
    return run.prepare(cfg, overrides, **kw)


def test_a_fine_tuned_run_starts_at_the_checkpoints_weights(world, tmp_path):
    tmp, cfg, a, _ = world
    ckpt = checkpoint.load(a)
    with prepared(cfg, tmp_path / "f.npz", init_from=a) as r:
        start = r.trainer.task.validate(r.trainer.params)["val_loss"]
    # the checkpoint's own loss on that text (its last validation), not a fresh ln V
    assert start == pytest.approx(ckpt.history[-1]["val_loss"], rel=1e-6)
    assert start < math.log(len(ckpt.vocab_chars)) - 0.3
    with prepared(cfg, tmp_path / "g.npz") as fresh:
        assert fresh.trainer.task.validate(fresh.trainer.params)["val_loss"] == pytest.approx(
            math.log(len(ckpt.vocab_chars)), abs=0.05)


def test_rows_of_known_characters_are_copied_and_new_ones_are_fresh(world, tmp_path):
    tmp, cfg, a, b = world
    old = checkpoint.load(a)
    notes = []
    with prepared(cfg, tmp_path / "f.npz", corpus=b, init_from=a, notify=notes.append) as r:
        tuned, vocab = r.trainer.params, r.trainer.corpus.vocab.chars
    with prepared(cfg, tmp_path / "g.npz", corpus=b) as r:
        fresh = r.trainer.params
    new = [c for c in vocab if c not in old.vocab_chars]
    assert set(new) == {"X", "Y", "Z", "!", "?", "7"} - set(old.vocab_chars) and new
    assert any(f"{len(new)} characters it never saw" in n and repr("".join(new)) in n
               for n in notes), notes
    for i, c in enumerate(vocab):
        params, j = (old.params, old.vocab_chars.index(c)) if c in old.vocab_chars else (fresh, i)
        np.testing.assert_array_equal(tuned["Wxh0"][i], params["Wxh0"][j])
        np.testing.assert_array_equal(tuned["Why"][:, i], params["Why"][:, j])
        np.testing.assert_array_equal(tuned["by"][i], params["by"][j])
    for name in ("Whh0", "bh0"):  # not vocabulary-sized: copied whole
        np.testing.assert_array_equal(tuned[name], old.params[name])


def test_only_the_weights_come_over(world, tmp_path):
    tmp, cfg, a, _ = world
    with prepared(cfg, tmp_path / "f.npz", init_from=a) as r:
        t = r.trainer
        assert t.step == 0 and t.history == [] and math.isinf(t.best_val)
        assert t.task.position() == {"epoch": 0, "offset": 0, "index": None}
        assert not any(isinstance(v, np.ndarray) for slots in t.opt.values()
                       for v in slots.values())  # no Adam moments yet
        tuned_rng = t.rng.bit_generator.state
    with prepared(cfg, tmp_path / "g.npz") as fresh:  # the rng as a new run leaves it
        assert tuned_rng == fresh.trainer.rng.bit_generator.state


def test_a_fine_tuning_run_resumes_exactly_and_records_its_start(world, tmp_path):
    tmp, cfg, a, b = world
    whole, part = tmp_path / "whole.npz", tmp_path / "part.npz"
    base = ["train", "--config", cfg, "--corpus", b, "-q"]
    ok(cli(*base, "--output", whole, "--init-from", a, "--steps", 20))
    ok(cli(*base, "--output", part, "--init-from", a, "--steps", 10))
    ok(cli(*base, "--output", part, "--resume", "--steps", 20))
    one, two = checkpoint.load(whole), checkpoint.load(part)
    for name in one.params:
        np.testing.assert_array_equal(one.params[name], two.params[name])
    sha = __import__("hashlib").sha256(a.read_bytes()).hexdigest()
    assert two.init_from == {"path": str(a), "sha256": sha, "step": 30} == one.init_from
    shown = json.loads(ok(cli("info", part, "--json")).output)
    assert shown["init_from"] == two.init_from
    assert f"started from  {a} (step 30, sha256 {sha[:12]}...)" in ok(cli("info", part)).output


@pytest.mark.parametrize("case", ["resume too", "another size", "another cell", "output is it",
                                  "not a checkpoint", "another run at the output"])
def test_refusals_are_one_line(world, tmp_path, case):
    tmp, cfg, a, _ = world
    out = tmp_path / "f.npz"
    args = ["train", "--config", cfg, "--output", out, "-q", "--init-from", a]
    code, words = 1, ()
    if case == "resume too":
        args, code, words = args + ["--resume"], 2, ("--init-from", "--resume")
    elif case == "another size":
        args, words = args + ["--set", "model.hidden_size=8"], (
            "model.hidden_size = 16", "says 8")
    elif case == "another cell":
        args, words = args + ["--set", "model.cell=gru"], ("model.cell = lstm", "says gru")
    elif case == "output is it":
        args[args.index(out)] = a
        args += ["--overwrite"]
        words = ("is the checkpoint to start from",)
    elif case == "not a checkpoint":
        junk = tmp_path / "junk.npz"
        junk.write_text("nope")
        args[-1], words = junk, ("not an .npz archive",)
    else:
        ok(cli("train", "--config", cfg, "--output", out, "-q", "--steps", 10))
        words = ("already holds a run", "--overwrite")
    before = a.read_bytes()
    one_line(cli(*args), code, *words)
    assert a.read_bytes() == before
    if case not in ("another run at the output",):
        assert not out.exists()


def test_a_classifier_starts_only_from_a_classifier_of_the_same_classes(world, tmp_path):
    _, _, chars, _ = world
    data = write_tsv(tmp_path / "m.tsv", markers(200))
    cfg = classifier_config(tmp_path, data, train={"steps": 4, "eval_every": 2})
    ok(cli("train", "--config", cfg, "-q"))
    first = tmp_path / "c.npz"
    ok(cli("train", "--config", cfg, "-q", "--output", tmp_path / "d.npz", "--init-from", first))
    assert checkpoint.load(tmp_path / "d.npz").init_from["step"] == 4
    one_line(cli("train", "--config", cfg, "-q", "--output", tmp_path / "e.npz", "--init-from",
                 chars), 1, "it is a character model", "trains a classifier")
    other = write_tsv(tmp_path / "o.tsv", [(t, "z" + c) for t, c in markers(200)])
    one_line(cli("train", "--config", cfg, "-q", "--output", tmp_path / "e.npz", "--corpus",
                 other, "--init-from", first), 1, "its classes (xfirst, yfirst)",
             "zxfirst, zyfirst")


@pytest.mark.parametrize("spec, axes", [
    (ModelSpec(7, 4, 2, "gru", skip=True), {"Wxh0": (0,), "Wsy0": (1,), "Why": (1,),
                                            "by": (0,)}),
    (ClassifierSpec(7, 4, 1, "lstm", output_size=3, bidirectional=True),
     {"Wxh0": (0,), "rev_Wxh0": (0,)}),
])
def test_the_vocabulary_axes_are_the_engines(spec, axes):
    assert finetune.vocab_axes(spec) == axes
