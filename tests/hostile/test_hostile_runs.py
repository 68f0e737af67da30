"""Nothing replaced without a word: a new run never takes over another run's output,
a resume never continues on another text, and the closing line names only what exists."""
import pytest

from world import assert_error, assert_ok, cli, digest, edit_meta, make_text, make_world
from rnngen import checkpoint
from rnngen.training import best_path


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "runs")


def trained(w, tmp_path, name="m.npz", *extra):
    out = tmp_path / name
    assert_ok(cli(["train", "--config", w.cfg, "--output", out, "-q", *extra]))
    return out


@pytest.mark.parametrize("other", ["another config", "another corpus", "the same config"])
def test_a_new_run_does_not_replace_a_run_at_its_output(w, tmp_path, other):
    out = trained(w, tmp_path)
    before = {p: digest(p) for p in (out, best_path(out))}
    args = ["train", "--config", w.cfg, "--output", out, "-q"]
    if other == "another config":
        args += ["--set", "model.cell=gru"]
    elif other == "another corpus":
        text = tmp_path / "mine.txt"
        text.write_text(make_text(3000, seed=9))
        args += ["--corpus", text]
    line = assert_error(cli(args), f"{out} already holds a run on {w.text} at step 2")
    assert "--resume" in line and "--output PATH" in line and "--overwrite" in line
    assert {p: digest(p) for p in before} == before


def test_a_leftover_best_checkpoint_or_a_foreign_file_is_not_replaced(w, tmp_path):
    out = trained(w, tmp_path)
    out.unlink()
    assert_error(cli(["train", "--config", w.cfg, "--output", out, "-q"]),
                 f"{best_path(out)} already holds a run on")
    foreign = tmp_path / "notes.npz"
    foreign.write_text("my notes")
    assert_error(cli(["train", "--config", w.cfg, "--output", foreign, "-q"]),
                 f"{foreign} already holds a file that is not a checkpoint")
    assert foreign.read_text() == "my notes"


def test_overwrite_and_resume_are_the_ways_on(w, tmp_path):
    out = trained(w, tmp_path)
    assert_ok(cli(["train", "--config", w.cfg, "--output", out, "-q", "--steps", "4",
                   "--resume"]))
    assert checkpoint.load(out).step == 4
    assert_ok(cli(["train", "--config", w.cfg, "--output", out, "-q", "--overwrite"]))
    assert checkpoint.load(out).step == 2


@pytest.mark.parametrize("change", ["lines reordered", "a word edited", "text added"])
def test_resuming_on_a_changed_corpus_is_refused(w, tmp_path, change):
    text = tmp_path / "c.txt"
    text.write_text(w.text.read_text())
    out = trained(w, tmp_path, "m.npz", "--corpus", text)
    lines = text.read_text().splitlines(keepends=True)
    if change == "lines reordered":  # the same characters, so the same vocabulary
        text.write_text("".join(lines[1:] + lines[:1]))
    elif change == "a word edited":
        text.write_text(text.read_text().replace("king", "kin", 1))
    else:
        text.write_text(text.read_text() + "the king\n")
    before = digest(out)
    line = assert_error(cli(["train", "--config", w.cfg, "--output", out, "--corpus", text,
                             "--steps", "4", "--resume", "-q"]),
                        "cannot resume: the corpus is not the text the checkpoint was trained on")
    assert "4,000 characters" in line and str(text) in line
    assert digest(out) == before


def test_the_closing_line_names_only_checkpoints_that_exist(w, tmp_path):
    first = trained(w, tmp_path)
    edit_meta(first, best_val=1e-9)  # a best no later validation can beat
    second = tmp_path / "m2.npz"
    result = cli(["train", "--config", w.cfg, "--output", second, "--steps", "4",
                  "--resume", first, "-q"])
    assert_ok(result)
    assert not best_path(second).exists()
    closing = result.stderr.splitlines()[-1]
    assert f"checkpoint {second};" in closing and "best.npz" not in closing


def test_the_recorded_corpus_is_found_from_any_directory(w, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "c.txt").write_text(w.text.read_text())
    monkeypatch.chdir(work)
    assert_ok(cli(["train", "--config", w.cfg, "--corpus", "c.txt", "--output", "m.npz", "-q"]))
    recorded = checkpoint.load(work / "m.npz").corpus
    assert recorded.name == str(work / "c.txt") and recorded.chars == 4000
    monkeypatch.chdir(tmp_path)  # elsewhere: eval and report find the text again
    assert_ok(cli(["eval", "--checkpoint", work / "m.npz"]))
    assert_ok(cli(["report", "--checkpoint", work / "m.npz", "--terminal"]))


WRITERS = {
    "report": lambda ckpt, out: ["report", "--checkpoint", ckpt, "--output", out],
    "report of a passage": lambda ckpt, out: ["report", "--checkpoint", ckpt, "--corpus", "-",
                                             "--output", out],
    "export": lambda ckpt, out: ["export", "--checkpoint", ckpt, "--output", out],
}


@pytest.mark.parametrize("command", WRITERS)
def test_no_writer_replaces_the_corpus_a_checkpoint_records(w, tmp_path, command):
    text = tmp_path / "c.txt"
    text.write_text(w.text.read_text())
    ckpt = trained(w, tmp_path, "m.npz", "--corpus", text)
    before = digest(text)
    assert_error(cli(WRITERS[command](ckpt, text), input="the king"),
                 "is the file the report reads (the corpus the checkpoint records)"
                 if command.startswith("report") else "is the corpus the checkpoint records")
    assert digest(text) == before
