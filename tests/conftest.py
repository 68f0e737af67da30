"""Shared fixtures: small corpora the tests make, configs, and the shared benchmark corpus."""
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_CORPUS = ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt"


def make_text(n_chars=6000, seed=0):
    """A small pseudo-English corpus with learnable structure (words, lines, names)."""
    rng = np.random.default_rng(seed)
    words = ["the", "king", "and", "queen", "of", "rome", "shall", "speak", "to", "thee",
             "my", "lord", "what", "is", "love", "but", "a", "word", "sweet", "night"]
    out, size = [], 0
    while size < n_chars:
        speaker = rng.choice(["ROMEO", "JULIET", "KING"])
        line = " ".join(rng.choice(words, size=rng.integers(3, 9)))
        piece = f"{speaker}:\n{line.capitalize()}.\n\n"
        out.append(piece)
        size += len(piece)
    return "".join(out)[:n_chars]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


def write_config(tmp_path, corpus, name="cfg.yaml", **sections):
    """A small, fast config file; sections override {'model': {...}, 'train': {...}}."""
    cfg = {
        "data": {"corpus": str(corpus), "val_fraction": 0.1},
        "model": {"hidden_size": 16, "num_layers": 1},
        "train": {"steps": 20, "batch_size": 4, "seq_length": 16, "learning_rate": 0.01,
                  "eval_every": 10, "output": str(tmp_path / "model.npz"), "seed": 3},
    }
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


@pytest.fixture
def shakespeare():
    if not SHARED_CORPUS.exists():
        pytest.skip(f"tinyshakespeare not found at {SHARED_CORPUS} (the shared corpora folder "
                    "beside the checkout); skipping tests that need it")
    return SHARED_CORPUS


def edit_meta(path, **changes):
    """Rewrite a checkpoint's metadata entry with some keys changed (for bad-file tests)."""
    import json

    with np.load(path) as npz:
        arrays = dict(npz)
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    arrays["meta"] = np.array(json.dumps(meta, default=str))
    np.savez(path, **arrays)
