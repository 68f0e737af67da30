"""run.prepare: the one entry that prepares a training run, for `rnngen train` and for
Python callers alike (the README's example, a sweep): the same sizing, output checks,
locks and resume."""
import re

import pytest

from conftest import ROOT, write_config
from rnngen import checkpoint, config, resources, run
from rnngen.errors import CheckpointError, ConfigError


@pytest.fixture
def cfg(tmp_path, text_file):
    """A small config object, as a notebook or a sweep builds one."""
    return config.load(write_config(tmp_path, text_file))


def test_the_readme_example_enters_run_prepare():
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text("utf-8"), re.S)
    assert any("run.prepare(" in b for b in blocks)
    assert not any("session" in b or "build_trainer" in b for b in blocks)


def test_the_python_path_trains_as_the_readme_shows(cfg, tmp_path):
    with run.prepare(cfg, {"train.learning_rate": 0.003}) as r:
        points = [(s.step, s.val_loss) for s in r.validations()]
    assert [step for step, _ in points] == [10, 20]
    ckpt = checkpoint.load(tmp_path / "model.npz")
    assert ckpt.step == 20 and ckpt.settings("train")["learning_rate"] == 0.003
    assert ckpt.history[-1]["val_loss"] == points[-1][1]
    assert cfg.train.learning_rate == 0.01  # the caller's config is not changed


def test_a_second_python_run_on_the_same_output_is_refused(cfg):
    with run.prepare(cfg):
        with pytest.raises(CheckpointError, match="being written by another rnngen run"):
            with run.prepare(cfg, {"train.steps": 3}):
                pass
    with run.prepare(cfg, {"train.steps": 1}) as r:  # released when the block ends
        list(r.steps())


def test_the_best_checkpoint_is_locked_too(cfg, tmp_path):
    with run.prepare(cfg):
        other = {"train.output": str(tmp_path / "model.best.npz")}
        with pytest.raises(CheckpointError, match="being written by another rnngen run"):
            with run.prepare(cfg, other):
                pass


def test_the_python_path_is_sized_before_anything_is_read(cfg, tmp_path):
    huge = {"model.num_layers": 100_000_000, "data.corpus": str(tmp_path / "missing.txt")}
    with pytest.raises(ConfigError, match="model.num_layers = 100000000 needs about"):
        with run.prepare(cfg, huge):
            pass
    assert not (tmp_path / "model.npz").exists()


@pytest.mark.parametrize("target", ["shipped", "corpus", "config"])
def test_an_output_may_not_be_an_input_or_what_rnngen_ships(tmp_path, text_file, target):
    path = write_config(tmp_path, text_file)
    out = {"shipped": resources.shipped_model(), "corpus": text_file, "config": path}[target]
    before = out.read_bytes()
    with pytest.raises(CheckpointError, match="rnngen ships|is the corpus|is the config"):
        with run.prepare(path, {"train.output": str(out)}):
            pass
    assert out.read_bytes() == before


def test_stop_ends_a_run_cleanly_and_resume_continues_it(cfg, tmp_path):
    """What an Optuna pruner does between evaluations: stop after a validation; the
    run writes its checkpoint and the generator ends."""
    with run.prepare(cfg, {"train.eval_every": 5}) as r:
        for stats in r.validations():
            r.stop("pruned")
    assert r.stop_reason == "pruned" and not r.finished
    assert checkpoint.load(tmp_path / "model.npz").step == 5
    with run.prepare(cfg, {"train.eval_every": 5}, resume=True) as again:
        assert again.resumed_from.step == 5 and again.trainer.step == 5
        assert [s.step for s in again.steps()][-1] == 20


def test_notes_reach_the_caller(cfg, monkeypatch):
    from rnngen import threads

    monkeypatch.setattr(threads, "set_thread_count", lambda n: False)
    seen = []
    with run.prepare(cfg, threads=2, notify=seen.append) as r:
        assert r.notes == seen and "--threads has no effect" in seen[0]


def test_a_named_corpus_is_checked_as_an_input_before_it_is_fetched(tmp_path, monkeypatch):
    """The output is compared with the corpus's place in the cache before any download."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNNGEN_CORPORA", str(cache))
    target = cache / "tinyshakespeare.txt"
    cfg = config.from_dict({"train": {"output": str(target)}})
    with pytest.raises(CheckpointError, match="is the corpus"):
        with run.prepare(cfg):
            pass
    assert not target.exists()
