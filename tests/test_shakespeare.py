"""End to end on the benchmark corpus (read from ../shared/corpora, never committed)."""
import json

from click.testing import CliRunner

from conftest import ROOT
from rnngen.cli import main

BIGRAM_BASELINE = 2.48  # nats/char of a bigram model on tinyshakespeare's validation split


def test_tiny_config_beats_the_bigram_baseline(tmp_path, shakespeare, monkeypatch):
    monkeypatch.setenv("RNNGEN_CORPORA", str(shakespeare.parent))
    runner = CliRunner()
    out = tmp_path / "tiny.npz"
    result = runner.invoke(main, ["train", "--config", str(ROOT / "configs" / "tiny.yaml"),
                                  "--output", str(out), "-q"])
    assert result.exit_code == 0, result.output
    scored = runner.invoke(main, ["eval", "--checkpoint", str(out), "--json"])
    assert scored.exit_code == 0, scored.output
    val = json.loads(scored.stdout)
    assert val["chars"] == 111_539  # the last 10% (111,540 characters), less the first
    assert val["nats_per_char"] < BIGRAM_BASELINE - 0.3, val
