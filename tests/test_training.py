"""The training loop: learning, batching, checkpoints, resume equality, divergence."""
import math

import numpy as np
import pytest

from conftest import sample_text
from rnngen import checkpoint, config, corpus
from rnngen.run import build_trainer
from rnngen.errors import CheckpointError, CorpusError, TrainingDiverged
from rnngen.training import Batches, best_path


def small_config(tmp_path, **train):
    cfg = config.Config()
    cfg.model.hidden_size = 16
    t = cfg.train
    t.steps, t.batch_size, t.seq_length, t.learning_rate = 40, 4, 12, 0.01
    t.eval_every, t.output, t.seed = 10, str(tmp_path / "m.npz"), 5
    for k, v in train.items():
        setattr(t, k, v)
    return config.apply_overrides(cfg, [])


def run(trainer):
    return list(trainer.run())


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_hello_learns_the_classic_example(tmp_path, cell):
    cfg = small_config(tmp_path, steps=300, seq_length=10)
    cfg.model.cell = cell
    trainer = build_trainer(cfg, corpus.text_corpus("hello" * 300))
    stats = run(trainer)
    assert stats[-1].loss < 0.1
    ckpt = trainer.checkpoint()
    for seed, expect in (("hel", "l"), ("hell", "o"), ("h", "e"), ("he", "l")):
        out = sample_text(ckpt, seed, 1, 0, temperature=0, fresh_state=True)
        assert out == seed + expect, (seed, out)


def test_loss_falls_and_validation_is_recorded(tmp_path):
    from conftest import make_text
    trainer = build_trainer(small_config(tmp_path, steps=60), corpus.text_corpus(make_text()))
    stats = run(trainer)
    assert stats[0].loss == pytest.approx(math.log(len(trainer.corpus.vocab)), abs=0.15)
    vals = [s.val_loss for s in stats if s.val_loss is not None]
    assert len(vals) == 6 and vals[-1] < vals[0] - 0.5
    assert [h["step"] for h in trainer.history] == [10, 20, 30, 40, 50, 60]
    assert checkpoint.load(tmp_path / "m.npz").step == 60
    best = checkpoint.load(best_path(tmp_path / "m.npz"))
    assert best.best_val == pytest.approx(min(vals))


def test_batches_cover_streams_and_carry_positions():
    ids = np.arange(101, dtype=np.int64)
    b = Batches(ids, batch_size=2, seq_length=10)  # streams of 50
    rng = np.random.default_rng(0)
    x, y, new = b.next(rng)
    assert new and x.shape == (10, 2)
    np.testing.assert_array_equal(y, x + 1)  # targets are the next characters
    assert x[0, 1] - x[0, 0] == 50  # the second stream starts half way
    x2, _, new2 = b.next(rng)
    assert not new2 and x2[0, 0] == x[-1, 0] + 1  # the next batch continues each stream
    seen = 2
    while not b.next(rng)[2]:
        seen += 1
    assert seen in (4, 5) and b.epoch == 1


def test_corpus_shorter_than_a_batch(tmp_path):
    with pytest.raises(CorpusError, match="fewer than one batch needs"):
        build_trainer(small_config(tmp_path, batch_size=64, seq_length=100),
                corpus.text_corpus("short text " * 10))


@pytest.mark.parametrize("dropout, layers, skip", [(0.0, 1, False), (0.2, 1, False),
                                                   (0.2, 2, True)])
def test_resume_reaches_the_same_weights(tmp_path, dropout, layers, skip):
    from conftest import make_text
    text = corpus.text_corpus(make_text())
    cfgs = []
    for run_dir in ("a", "b"):
        cfg = small_config(tmp_path / run_dir, steps=30)
        cfg.model.dropout, cfg.model.num_layers, cfg.model.skip = dropout, layers, skip
        cfgs.append(cfg)
    cfg, cfg_b = cfgs
    straight = build_trainer(cfg, text)
    run(straight)
    assert ("Wsy0" in straight.params) == skip

    first = build_trainer(cfg_b, text)
    for stats in first.run():
        if stats.step == 13:  # not a validation step
            first.request_stop("test")
    assert first.step == 13
    resumed = build_trainer(cfg_b, text, resume=checkpoint.load(cfg_b.train.output))
    assert resumed.step == 13
    run(resumed)
    for name, w in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], w, err_msg=name)
    for name, slots in straight.opt.items():
        np.testing.assert_array_equal(resumed.opt[name]["m"], slots["m"])
    np.testing.assert_array_equal(resumed.state, straight.state)
    def losses(history):
        return [(h["step"], h["train_loss"], h["val_loss"]) for h in history]

    assert losses(resumed.history) == losses(straight.history)
    cfg_b.model.skip = not skip
    if layers > 1:  # skips change the model
        with pytest.raises(CheckpointError, match="model.skip"):
            build_trainer(cfg_b, text, resume=checkpoint.load(cfg_b.train.output))
    else:  # one layer has nothing to skip
        assert build_trainer(cfg_b, text, resume=checkpoint.load(cfg_b.train.output)).step == 30


@pytest.mark.parametrize("cell, optimizer, extra", [
    ("rnn", "sgd", {"momentum": 0.9}), ("rnn", "adagrad", {}), ("rnn", "rmsprop", {}),
    ("lstm", "adam", {}), ("gru", "adam", {}), ("lstm", "rmsprop", {}), ("gru", "sgd", {"momentum": 0.5}),
])
def test_resume_is_exact_for_every_cell_and_optimizer(tmp_path, cell, optimizer, extra):
    """N steps straight == N/2 steps, a checkpoint, a resume and N/2 more: weights, every
    slot of the optimizer's state, the carried state (h, and c for the LSTM), losses."""
    from conftest import make_text
    text = corpus.text_corpus(make_text())
    cfgs = []
    for run_dir in ("a", "b"):
        cfg = small_config(tmp_path / run_dir, steps=24, optimizer=optimizer, **extra)
        cfg.model.cell, cfg.model.num_layers, cfg.model.dropout = cell, 2, 0.1
        cfgs.append(cfg)
    straight = build_trainer(cfgs[0], text)
    run(straight)
    first = build_trainer(cfgs[1], text)
    for stats in first.run():
        if stats.step == 11:
            first.request_stop("test")
    resumed = build_trainer(cfgs[1], text, resume=checkpoint.load(cfgs[1].train.output))
    assert resumed.step == 11
    run(resumed)
    slots = straight.update.state
    assert slots  # every rule keeps some state
    for name, w in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], w, err_msg=name)
        for slot in slots:
            np.testing.assert_array_equal(resumed.opt[name][slot], straight.opt[name][slot],
                                          err_msg=f"{name}/{slot}")
    np.testing.assert_array_equal(resumed.state, straight.state)
    assert [h["val_loss"] for h in resumed.history] == [h["val_loss"] for h in straight.history]


def test_divergence_stops_before_touching_the_weights(tmp_path):
    from conftest import make_text
    trainer = build_trainer(small_config(tmp_path, steps=25), corpus.text_corpus(make_text()))
    stats = trainer.run()
    for _ in range(21):
        next(stats)
    good = {k: v.copy() for k, v in trainer.params.items()}
    trainer.params["Why"][0, 0] = np.nan  # poison the next forward pass
    with pytest.raises(TrainingDiverged, match="lower train.learning_rate"):
        next(stats)
    assert np.isnan(trainer.params["Why"][0, 0])  # the poisoned entry itself
    for k in good:
        if k != "Why":
            np.testing.assert_array_equal(trainer.params[k], good[k])
    assert checkpoint.load(tmp_path / "m.npz").step == 20  # last good one kept


@pytest.mark.parametrize("groups", [2, 3])
def test_streams_split_across_threads_train_as_one_batch(tmp_path, groups):
    """Trainer.workers > 1 runs groups of streams on threads (see threads.py); the
    weights, hidden state and losses must match the one-piece batch but for rounding."""
    from conftest import make_text
    from rnngen import threads
    text = corpus.text_corpus(make_text())
    trainers = []
    for workers in (threads.Workers(1), threads.Workers(groups)):
        cfg = small_config(tmp_path / str(workers.groups), steps=12, batch_size=7)
        cfg.model.num_layers, cfg.model.dropout, cfg.model.weight_drop = 2, 0.2, 0.1
        trainer = build_trainer(cfg, text, dtype=np.float64)
        trainer.workers = workers
        run(trainer)
        trainers.append(trainer)
    one, split = trainers
    for name, w in one.params.items():
        np.testing.assert_allclose(split.params[name], w, rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(split.state, one.state, rtol=1e-9, atol=1e-12)
    for a, b in zip(one.history, split.history):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-9)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-9)


def test_resume_with_another_batch_shape_starts_a_fresh_epoch_with_zero_state(tmp_path):
    from conftest import make_text
    text = corpus.text_corpus(make_text())
    first = build_trainer(small_config(tmp_path, steps=12), text)
    run(first)
    ckpt = checkpoint.load(tmp_path / "m.npz")
    cfg = small_config(tmp_path, steps=20, batch_size=6, seq_length=9)
    resumed = build_trainer(cfg, text, resume=ckpt)
    assert resumed.step == 12
    for name, w in ckpt.params.items():  # the weights and optimizer carry over
        np.testing.assert_array_equal(resumed.params[name], w)
        np.testing.assert_array_equal(resumed.opt[name]["m"], ckpt.optimizer_state[name]["m"])
    assert resumed.state.shape == (1, 6, 16) and not resumed.state.any()
    assert resumed.batches.index is None  # the data starts a fresh epoch
    stats = run(resumed)
    assert stats[-1].step == 20 and math.isfinite(stats[-1].loss)


def test_batches_targets_are_the_next_characters_up_to_the_last_one():
    """Every stream has (len - 1) // N characters with a next one to predict: for a
    length that N divides, a batch at the end of the last stream still has its
    targets, and a text of exactly one batch (offset 0) is cut without error."""
    rng = np.random.default_rng(0)
    ids = np.arange(4 * 10)  # 40 = N * 10: the last character has no next one
    batches = Batches(ids, 4, 3)
    assert batches.stream_len == 9
    for _ in range(40):
        inputs, targets, _ = batches.next(rng)
        np.testing.assert_array_equal(targets, inputs + 1)
    one = Batches(np.arange(4 * 3 + 1), 4, 3)
    for _ in range(3):
        inputs, targets, _ = one.next(rng)
        np.testing.assert_array_equal(inputs[0], [0, 3, 6, 9])


def test_an_epoch_uses_every_batch_that_fits_its_offset():
    """(stream_len - offset) // T batches an epoch: the last one may end exactly at the
    stream's end."""
    rng = np.random.default_rng(1)
    batches = Batches(np.arange(4 * 10), 4, 3)  # streams of 9
    epochs = []  # (offset, batches) per epoch
    for _ in range(60):
        _, _, new_epoch = batches.next(rng)
        if new_epoch:
            epochs.append([batches.offset, 0])
        epochs[-1][1] += 1
    assert {offset for offset, _ in epochs[:-1]} == {0, 1, 2}
    for offset, count in epochs[:-1]:
        assert count == (9 - offset) // 3
