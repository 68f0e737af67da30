"""Shared fixtures: small corpora the tests make, configs, and the shared benchmark corpus."""
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_CORPUS = ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt"


def _find_tinyshakespeare():
    """(path, where) of a good copy of tinyshakespeare, or (None, places looked): the
    rnngen corpus cache, corpora/ in the checkout, or the shared folder beside it."""
    from rnngen import corpus, resources

    sha = corpus.NAMED["tinyshakespeare"][1]
    places = [(resources.corpora_dir() / "tinyshakespeare.txt", "the rnngen corpus cache"),
              (ROOT / "corpora" / "tinyshakespeare.txt", "corpora/ in the checkout"),
              (SHARED_CORPUS, "the shared corpora folder beside the checkout")]
    for path, where in places:
        if path.is_file() and corpus.sha256_file(path) == sha:
            return path, where
    return None, ", ".join(str(path) for path, _ in places)


# looked up once, before any test points RNNGEN_CORPORA elsewhere
TINYSHAKESPEARE, TINYSHAKESPEARE_WHERE = _find_tinyshakespeare()


def pytest_report_header(config):
    if TINYSHAKESPEARE is None:
        return (f"tinyshakespeare: not found (looked in {TINYSHAKESPEARE_WHERE}); "
                "tests that need it are skipped")
    return f"tinyshakespeare: {TINYSHAKESPEARE} ({TINYSHAKESPEARE_WHERE})"


@pytest.fixture(scope="session")
def _empty_corpora(tmp_path_factory):
    return tmp_path_factory.mktemp("corpora")


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch, _empty_corpora):
    """Every test gets an empty corpus cache, so nothing is downloaded or written to the
    user's cache; tests that need tinyshakespeare point RNNGEN_CORPORA at a copy."""
    monkeypatch.setenv("RNNGEN_CORPORA", str(_empty_corpora))


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
    if TINYSHAKESPEARE is None:
        pytest.skip(f"tinyshakespeare not found (looked in {TINYSHAKESPEARE_WHERE}); "
                    "skipping tests that need it")
    return TINYSHAKESPEARE


@pytest.fixture
def shakespeare_corpora(tmp_path, shakespeare, monkeypatch):
    """A corpus cache holding (a link to) tinyshakespeare, set as RNNGEN_CORPORA."""
    folder = tmp_path / "corpora"
    folder.mkdir()
    (folder / "tinyshakespeare.txt").symlink_to(shakespeare)
    monkeypatch.setenv("RNNGEN_CORPORA", str(folder))
    return folder


def edit_meta(path, **changes):
    """Rewrite a checkpoint's metadata entry with some keys changed (for bad-file tests)."""
    import json

    with np.load(path) as npz:
        arrays = dict(npz)
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    arrays["meta"] = np.array(json.dumps(meta, default=str))
    np.savez(path, **arrays)


@pytest.fixture
def runner():
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture
def trained(tmp_path, text_file, runner):
    """A tiny model trained through the CLI: (checkpoint path, config path)."""
    from rnngen.cli import main

    cfg = write_config(tmp_path, text_file)
    result = runner.invoke(main, ["train", "--config", str(cfg), "-q"])
    assert result.exit_code == 0, result.output
    return tmp_path / "model.npz", cfg


def sample_text(ckpt, seed, n, random_seed, device=None, **options):
    """The seed and n characters sampled from a Checkpoint, as `rnngen sample` streams them."""
    from rnngen import decoding
    from rnngen.device import CPU

    model = decoding.Model.from_checkpoint(ckpt, device or CPU)
    return "".join(decoding.stream(model, seed, decoding.Decoding(n, random_seed=random_seed,
                                                                  **options)))
