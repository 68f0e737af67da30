"""The committed default checkpoint: loads, has tinyshakespeare's vocabulary, predicts well."""
import numpy as np
import pytest

from conftest import ROOT, sample_text
from rnngen import checkpoint, corpus, evaluation

SHIPPED = ROOT / "checkpoints" / "shakespeare.npz"


def test_shipped_checkpoint_loads_with_the_65_symbol_vocabulary():
    ckpt = checkpoint.load(SHIPPED)
    assert len(ckpt.vocab_chars) == 65
    assert all(p.dtype == np.float32 for p in ckpt.params.values())
    assert SHIPPED.stat().st_size < 8 * 2**20  # small enough to ship


def test_shipped_checkpoint_scores_validation_text_below_1_6_nats(shakespeare):
    ckpt = checkpoint.load(SHIPPED)
    text = corpus.read_corpus(shakespeare)
    assert text.vocab.chars == ckpt.vocab_chars
    val = text.split(0.1)[1]
    score = evaluation.score(ckpt.spec, ckpt.params, val[:20_001])  # a 20,000-character slice
    assert score.chars == 20_000
    assert score.nats < 1.6, score.nats


# What rnngen 0.1.0 (format version 1, before the cell interface) sampled from the shipped
# checkpoint with --seed "ROMEO:" --n 120 --random-seed 3: the new engine must read the old
# format and sample exactly the same text.
BEFORE_CELLS = {
    0: "ROMEO:\nAnd then I will not see the sea to the sea\nThat we have seen the seas of the "
       "seas,\nAnd therefore they shall be the sea ",
    0.7: "ROMEO:\nAre you to the story is no man that breathe\nThat he could robal to "
         "determine,\nMy good friends, to this mind that hath n",
}


@pytest.mark.parametrize("temperature", sorted(BEFORE_CELLS))
def test_version_1_checkpoint_samples_as_before_the_cell_interface(temperature):
    ckpt = checkpoint.load(SHIPPED)
    assert ckpt.version == 1 and ckpt.spec.cell == "rnn"
    text = sample_text(ckpt, "ROMEO:", 120, 3, temperature=temperature)
    assert text == BEFORE_CELLS[temperature]
