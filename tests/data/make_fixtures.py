"""Make the format-version-2 fixture checkpoints (run once, with the rnngen that wrote
version 2; the files are committed, so later versions are tested against them).

    python tests/data/make_fixtures.py
"""
import sys
from pathlib import Path

from click.testing import CliRunner

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from conftest import make_text, write_config  # noqa: E402

from rnngen.cli import main  # noqa: E402

# cell -> model settings: each cell, with skips and two layers where they change the engine
MODELS = {"rnn": {"num_layers": 2, "skip": True}, "lstm": {"num_layers": 2},
          "gru": {"num_layers": 1}}


def make(tmp):
    corpus = tmp / "corpus.txt"
    corpus.write_text(make_text(4000, seed=1), encoding="utf-8")
    for cell, model in MODELS.items():
        out = HERE / f"v2_{cell}.npz"
        cfg = write_config(tmp, corpus, name=f"{cell}.yaml",
                           model=dict(model, cell=cell, hidden_size=12),
                           train={"steps": 30, "output": str(out), "eval_every": 15})
        result = CliRunner().invoke(main, ["train", "--config", str(cfg), "-q"])
        assert result.exit_code == 0, result.output
        (HERE / f"v2_{cell}.best.npz").unlink(missing_ok=True)
        for lock in HERE.glob(".*.lock"):
            lock.unlink()


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        make(Path(tmp))
