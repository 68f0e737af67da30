"""The committed default checkpoint: loads, has tinyshakespeare's vocabulary, predicts well."""
import numpy as np

from conftest import ROOT
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
    score = evaluation.score(ckpt.params, val[:20_001])  # a 20,000-character slice
    assert score.chars == 20_000
    assert score.nats < 1.6, score.nats
