"""Sizes bounded before allocation: a run that cannot fit is refused naming the key."""
import tracemalloc

import numpy as np
import pytest

from world import assert_error, assert_ok, cli, make_world
from rnngen import config, evaluation, sizing
from rnngen.engine import model
from rnngen.engine.spec import ModelSpec


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "resources")


HUGE = [
    ("model.num_layers", 10**8), ("model.num_layers", 10**30), ("model.hidden_size", 10**7),
    ("model.hidden_size", 10**30), ("train.batch_size", 10**9), ("train.seq_length", 10**9),
    ("train.batch_size", 10**30),
]


@pytest.mark.parametrize("key, value", HUGE, ids=[f"{k}={v:.0e}" for k, v in HUGE])
def test_a_run_that_cannot_fit_is_refused_naming_the_key(w, tmp_path, key, value):
    out = tmp_path / "m.npz"
    result = cli(["train", "--config", w.cfg, "--output", out, "--set", f"{key}={value}"])
    line = assert_error(result, f"{key} = {value} needs about")
    assert line.endswith(f"lower {key}") and not out.exists()


@pytest.mark.parametrize("key", ["model.hidden_size", "model.num_layers", "train.batch_size",
                                 "train.seq_length"])
def test_the_key_blamed_is_the_one_raised(w, tmp_path, monkeypatch, key):
    monkeypatch.setattr(sizing, "available_bytes", lambda: 50 << 20)
    value = {"model.hidden_size": 4096, "model.num_layers": 400, "train.batch_size": 100000,
             "train.seq_length": 100000}[key]
    result = cli(["train", "--config", w.cfg, "--output", tmp_path / "m.npz",
                  "--set", f"{key}={value}"])
    line = assert_error(result, f"{key} = {value} needs about")
    assert "more than the 50.0 MiB available" in line


def test_a_run_that_fits_is_not_refused(w, tmp_path, monkeypatch):
    need = sizing.training_bytes(config.load(w.cfg), 43)
    monkeypatch.setattr(sizing, "available_bytes",
                        lambda: sum(b for b, _ in need.values()))
    assert_ok(cli(["train", "--config", w.cfg, "--output", tmp_path / "m.npz", "-q"]))
    monkeypatch.setattr(sizing, "available_bytes",
                        lambda: sum(b for b, _ in need.values()) - 1)
    assert_error(cli(["train", "--config", w.cfg, "--output", tmp_path / "n.npz", "-q"]),
                 "needs about")


@pytest.mark.parametrize("layers", [1, 2, 3, 7])
@pytest.mark.parametrize("skip", [False, True])
def test_parameter_count_extends_exactly(layers, skip):
    want = ModelSpec(65, 32, layers, "rnn", skip).param_count()
    assert sizing.parameter_count(65, 32, layers, skip) == want


@pytest.mark.parametrize("optimizer, slots", [("adam", 3), ("sgd", 1), ("rmsprop", 1),
                                              ("adagrad", 1)])
def test_the_estimate_follows_its_formula(optimizer, slots):
    cfg = config.from_dict({"model": {"hidden_size": 64, "num_layers": 2},
                            "train": {"batch_size": 8, "seq_length": 10,
                                      "optimizer": optimizer}})
    got = sizing.training_bytes(cfg, 50)
    P = sizing.parameter_count(50, 64, 2, False)
    assert got["weights"][0] == 4 * P * (2 + slots)
    assert got["activations"][0] == 4 * 6 * 10 * 8 * 64 * 2
    assert got["logits"][0] == 4 * 3 * 10 * 8 * 50
    assert got["validation"][0] == 4 * 3 * 256 * 64 * (64 * 2 + 50)


def test_available_memory_is_read_and_positive():
    assert 0 < sizing.available_bytes() < 1 << 60


def peak_of_scoring(params, n):
    ids = np.random.default_rng(0).integers(0, params["by"].shape[0], n).astype(np.uint8)
    tracemalloc.start()
    try:
        evaluation.score(ModelSpec(40, 16, 1), params, ids)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_scoring_memory_stays_flat_as_the_text_grows():
    params = model.init_params(ModelSpec(40, 16, 1), np.random.default_rng(0))
    small, big = peak_of_scoring(params, 50_000), peak_of_scoring(params, 500_000)
    # the ids themselves are the caller's; scoring adds windows, not per-character arrays
    assert big - small < 100_000, (small, big)


def test_sizes_are_checked_before_the_corpus_is_read(w, tmp_path):
    # the corpus does not exist: a run sized first says so about its size, not the corpus
    result = cli(["train", "--config", w.cfg, "--output", tmp_path / "m.npz",
                  "--corpus", tmp_path / "missing.txt", "--set", "model.num_layers=100000000"])
    assert_error(result, "model.num_layers = 100000000 needs about")
