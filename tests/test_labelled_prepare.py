"""Preparing labelled data for training: the stratified split, encoding with the unknown
symbol, and length-bucketed batches (every example once an epoch, little padding,
exact resume)."""
import numpy as np
import pytest

from rnngen.errors import CorpusError, OptionError
from rnngen.labelled import read_labelled
from rnngen.labelled.batches import (PAD, LengthBatches, check_fits, gather, in_order,
                                     padding_fraction, plan)
from rnngen.labelled.encode import UNKNOWN, build_vocabulary, encode
from rnngen.labelled.split import align, class_counts, stratified_split


# --- the split ---------------------------------------------------------------------------

def test_split_is_stratified_deterministic_and_keeps_every_class_in_train():
    labels = np.repeat([0, 1, 2, 3], [100, 30, 2, 1])  # 2 and 1 examples: none to spare
    train, val = stratified_split(labels, 0.1, seed=7)
    assert np.bincount(labels[val], minlength=4).tolist() == [10, 3, 0, 0]
    assert np.bincount(labels[train], minlength=4).tolist() == [90, 27, 2, 1]
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(labels)))
    again = stratified_split(labels, 0.1, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip((train, val), again))
    other = stratified_split(labels, 0.1, seed=8)
    assert not np.array_equal(val, other[1])


def test_split_never_empties_a_class_of_training_examples():
    labels = np.repeat([0, 1], [2, 3])
    train, val = stratified_split(labels, 0.9, seed=0)
    assert np.bincount(labels[train]).tolist() == [1, 1]


def test_split_with_no_validation_example_is_an_error():
    with pytest.raises(CorpusError, match=r"leave no validation example; raise "
                                          r"data.val_fraction"):
        stratified_split(np.array([0, 0, 1, 1]), 0.1, seed=0)
    with pytest.raises(OptionError, match=r"must be in \(0, 1\)"):
        stratified_split(np.array([0, 1]), 1.0, seed=0)


def test_validation_file_is_aligned_to_the_training_classes(tmp_path):
    train = read_labelled(_file(tmp_path, "t.tsv", "a\tx\nb\ty\nc\tz\n"))
    val = read_labelled(_file(tmp_path, "v.tsv", "d\tz\ne\tx\n"))
    got = align(val, train.classes)
    assert got.classes == ("x", "y", "z") and got.labels.tolist() == [2, 0]
    bad = read_labelled(_file(tmp_path, "w.tsv", "d\tx\ne\tq\n"))
    with pytest.raises(CorpusError, match=r"w.tsv:2: class 'q' is not among the training "
                                          r"classes \(x, y, z\)"):
        align(bad, train.classes)


def test_class_counts_one_aligned_line_per_class():
    lines = class_counts(("English", "Polish"), np.array([0, 0, 1] + [1] * 1200),
                         np.array([1, 0]))
    assert lines == ["English  train     2  val     1",
                     "Polish   train 1,201  val     1"]


def _file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- encoding ----------------------------------------------------------------------------

def test_vocabulary_keeps_characters_seen_min_count_times_and_the_unknown_symbol():
    vocab = build_vocabulary(["abca", "bd"], min_count=2)
    assert vocab.chars == "ab" + UNKNOWN
    assert build_vocabulary(["abca", "bd"], min_count=1).chars == "abcd" + UNKNOWN
    with pytest.raises(OptionError, match="min_count must be >= 1"):
        build_vocabulary(["a"], min_count=0)


def test_encode_reads_unseen_characters_as_unknown_and_counts_them():
    vocab = build_vocabulary(["hello", "world"], min_count=1)
    data = encode(vocab, ["hello", "wörld!", UNKNOWN], [1, 0, 1])
    assert data.lengths.tolist() == [5, 6, 1]
    assert vocab.decode(data.sequence(0)) == "hello"
    assert vocab.decode(data.sequence(1)) == "w" + UNKNOWN + "rld" + UNKNOWN
    assert data.unknown == 2  # U+FFFD in the text is the symbol itself, not unseen
    assert data.labels.tolist() == [1, 0, 1] and data.ids.dtype == vocab.dtype
    assert len(data) == 3 and encode(vocab, ["hi"]).labels is None
    # code points past the vocabulary's largest, and below its smallest
    assert vocab.decode(encode(vocab, ["\U0001F600 h"]).ids) == UNKNOWN * 2 + "h"


def test_encode_refuses_a_vocabulary_without_the_unknown_symbol():
    from rnngen.corpus import Vocabulary
    with pytest.raises(OptionError, match="no unknown symbol"):
        encode(Vocabulary("abc"), ["abc"], [0])


# --- batches -----------------------------------------------------------------------------

def _skewed(n=3000, seed=0):
    """Labelled ids with a long-tailed length distribution (most short, a few long)."""
    rng = np.random.default_rng(seed)
    lengths = np.minimum(rng.geometric(0.04, size=n), 400)
    texts = ["".join(rng.choice(list("abcdef"), size=k)) for k in lengths]
    return encode(build_vocabulary(texts, 1), texts, rng.integers(0, 3, size=n))


def test_each_epoch_uses_every_example_once_within_the_bounds():
    data = _skewed()
    batches = LengthBatches(data, batch_size=32, max_chars=2000)
    rng = np.random.default_rng(1)
    for epoch in range(3):
        seen = []
        while True:
            batch, new = batches.next(rng)
            if new and seen:
                break
            seen.append(batch.index)
            n, t = batch.ids.shape
            assert n <= 32 and n * t <= 2000 and t == batch.lengths.max()
        seen = np.concatenate(seen)
        assert sorted(seen.tolist()) == list(range(len(data))), epoch
        assert batches.position()["epoch"] == epoch + 1  # counted as the next one began
        # the batch that ended the loop began the next epoch: put it back
        batches.restore({**batches.position(), "index": 0})


def test_gather_pads_each_row_after_its_length():
    data = _skewed(50)
    index = np.array([3, 10, 7])
    batch = gather(data, index)
    for row, i in enumerate(index):
        n = data.lengths[i]
        np.testing.assert_array_equal(batch.ids[row, :n], data.sequence(i))
        assert (batch.ids[row, n:] == PAD).all()
    assert batch.labels.tolist() == data.labels[index].tolist()


def test_padding_is_small_on_a_skewed_length_distribution():
    data = _skewed(8000)  # more than two pools of 100 batches
    rng = np.random.default_rng(2)
    bucketed = padding_fraction(data.lengths, plan(data.lengths, 32, 4000, rng))
    order = rng.permutation(len(data))  # the same bounds, lengths left mixed
    random = padding_fraction(data.lengths, [order[i:i + 32] for i in range(0, len(data), 32)])
    assert bucketed < 0.05 and random > 0.5
    assert padding_fraction(data.lengths, plan(data.lengths, 32, 4000)) < bucketed + 1e-9


def test_batches_differ_between_epochs_and_orders_are_shuffled():
    data = _skewed(500)
    batches = LengthBatches(data, 16, 10_000)
    rng = np.random.default_rng(3)
    first = [batches.next(rng)[0].index]
    first += [batches.next(rng)[0].index for _ in range(len(batches.batches) - 1)]
    second = [batches.next(rng)[0].index for _ in range(len(first))]
    assert not all(np.array_equal(a, b) for a, b in zip(first, second))
    lengths = [int(data.lengths[b].max()) for b in first]
    assert lengths != sorted(lengths)  # batches are not served shortest first


@pytest.mark.parametrize("stop", [5, 0, "epoch end"])
def test_resume_from_a_saved_position_is_exact(stop):
    data = _skewed(400)
    a, rng_a = LengthBatches(data, 16, 3000), np.random.default_rng(4)
    a.next(rng_a)
    steps = len(a.batches) if stop == "epoch end" else stop
    for _ in range(steps - 1 if steps else 0):
        a.next(rng_a)
    if stop == 0:
        a = LengthBatches(data, 16, 3000)  # nothing drawn yet
        rng_a = np.random.default_rng(4)
    saved, rng_state = a.position(), rng_a.bit_generator.state  # what a checkpoint holds
    expected = [a.next(rng_a)[0] for _ in range(60)]  # runs into a later epoch

    b, rng_b = LengthBatches(data, 16, 3000), np.random.default_rng(99)
    rng_b.bit_generator.state = rng_state
    b.restore(saved)
    got = [b.next(rng_b)[0] for _ in range(60)]
    for x, y in zip(expected, got):
        np.testing.assert_array_equal(x.index, y.index)
        np.testing.assert_array_equal(x.ids, y.ids)
    assert a.position() == b.position()


def test_restore_refuses_positions_that_do_not_fit():
    data = _skewed(100)
    batches = LengthBatches(data, 16, 3000)
    with pytest.raises(ValueError, match="outside these data's batches"):
        batches.restore({"epoch": 0, "seed": 5, "index": 10_000})
    with pytest.raises(ValueError, match="not a labelled-batch position"):
        batches.restore({"epoch": 0, "offset": 3, "index": 2})
    with pytest.raises(ValueError, match="not a labelled-batch position"):
        batches.restore({"epoch": 0, "seed": -1, "index": 2})


def test_a_text_longer_than_a_batch_may_hold_is_refused_up_front():
    with pytest.raises(OptionError, match=r"a text of 12 characters is longer than the 10"):
        check_fits(np.array([3, 12]), 10)
    data = encode(build_vocabulary(["abc"], 1), ["a" * 12, "b"], [0, 1])
    with pytest.raises(OptionError, match="longer than the 10"):
        LengthBatches(data, 4, 10)


def test_in_order_covers_every_example_sorted_by_length():
    data = _skewed(300)
    batches = list(in_order(data, 8, 1000))
    index = np.concatenate([b.index for b in batches])
    assert sorted(index.tolist()) == list(range(len(data)))
    assert (np.diff(data.lengths[index]) >= 0).all()
