"""Where things live: shipped configs and model, users' runs, the corpus cache."""
import hashlib
import os
import urllib.error
from pathlib import Path

import pytest

from conftest import ROOT
from rnngen import config, corpus, resources
from rnngen.errors import CheckpointError, ConfigError, CorpusError


def test_the_shipped_files_are_the_ones_in_configs_and_checkpoints():
    # one home: the package data is the top-level folders, not copies of them
    # (an editable install; tests/test_wheel.py checks a built wheel)
    assert resources.configs_dir().resolve() == (ROOT / "configs").resolve()
    assert resources.shipped_model().resolve() == (ROOT / "checkpoints" / "shakespeare.npz").resolve()
    assert set(resources.shipped_configs()) == {"shakespeare", "shakespeare-gru", "shakespeare-lstm",
                                                "tiny", "names"}
    path, description = resources.shipped_configs()["tiny"]
    assert description == path.read_text().splitlines()[0].lstrip("# ")


def test_a_config_name_finds_the_shipped_file_and_an_existing_path_wins(tmp_path, monkeypatch):
    shipped = resources.configs_dir() / "tiny.yaml"
    assert resources.find_config("tiny") == shipped
    assert resources.find_config("tiny.yaml") == shipped
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text("train:\n  steps: 7\n")
    assert resources.find_config("tiny.yaml") == Path("tiny.yaml")  # the user's file
    with pytest.raises(ConfigError, match="one of: names, shakespeare, shakespeare-gru, shakespeare-lstm, tiny"):
        resources.find_config("tiyn")
    with pytest.raises(ConfigError, match="not a shipped config"):
        resources.find_config("elsewhere/tiny.yaml")  # a path, not a name


def test_a_run_goes_to_runs_named_for_its_config(tmp_path):
    assert config.load(resources.find_config("shakespeare")).train.output == str(
        Path("runs") / "shakespeare.npz")
    own = tmp_path / "mine.yaml"
    own.write_text("train:\n  steps: 3\n")
    assert config.load(own).train.output == str(Path("runs") / "mine.npz")
    assert config.load(own, [("train.output", "x.npz")]).train.output == "x.npz"
    own.write_text("train:\n  output: y.npz\n")
    assert config.load(own).train.output == "y.npz"


def test_training_output_may_not_be_the_shipped_model_or_inside_the_package(tmp_path):
    with pytest.raises(CheckpointError, match="the model rnngen ships"):
        resources.check_output_allowed(resources.shipped_model())
    inside = Path(str(resources.configs_dir())) / "run.npz"
    with pytest.raises(CheckpointError, match="inside the installed rnngen package"):
        resources.check_output_allowed(inside, "--output")
    package = Path(resources.__file__).parent
    with pytest.raises(CheckpointError, match=r"\(--output\)"):
        resources.check_output_allowed(package / "engine" / "x.npz", "--output")
    resources.check_output_allowed(tmp_path / "runs" / "x.npz")  # anywhere else is fine


@pytest.mark.parametrize("platform, env, expected", [
    ("linux", {}, "HOME/.cache/rnngen/corpora"),
    ("linux", {"XDG_CACHE_HOME": "XDG"}, "XDG/rnngen/corpora"),
    ("darwin", {}, "HOME/Library/Caches/rnngen/corpora"),
    ("win32", {"LOCALAPPDATA": "LAD"}, "LAD/rnngen/Cache/corpora"),
    ("linux", {"RNNGEN_CORPORA": "MINE"}, "MINE"),
])
def test_the_corpus_cache_is_per_user_and_per_platform(monkeypatch, tmp_path, platform, env,
                                                       expected):
    for key in ("RNNGEN_CORPORA", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, str(tmp_path / value))
    monkeypatch.setattr(resources.sys, "platform", platform)
    want = tmp_path / expected.replace("HOME/", "")
    assert resources.corpora_dir() == want


class _Response:
    def __init__(self, data):
        self.data = data

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def read(self):
        return self.data


def test_a_failed_download_leaves_no_file_and_no_new_folder(tmp_path, monkeypatch):
    cache = tmp_path / "a" / "b" / "corpora"
    monkeypatch.setenv("RNNGEN_CORPORA", str(cache))

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(corpus.urllib.request, "urlopen", offline)
    with pytest.raises(CorpusError) as err:
        corpus.resolve("tinyshakespeare")
    assert str(cache / "tinyshakespeare.txt") in str(err.value) and "RNNGEN_CORPORA" in str(err.value)
    assert list(tmp_path.iterdir()) == []

    # the write fails half-way (a full disk, say): no partial file, no folders left
    data = b"some text\n"
    monkeypatch.setitem(corpus.NAMED, "small", ("http://example.invalid/s.txt",
                                                hashlib.sha256(data).hexdigest()))
    monkeypatch.setattr(corpus.urllib.request, "urlopen", lambda *a, **k: _Response(data))
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(corpus.os, "fsync", full_disk)
    with pytest.raises(CorpusError, match="No space left"):
        corpus.resolve("small")
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(corpus.os, "fsync", real_fsync)
    assert corpus.resolve("small").read_bytes() == data  # and it works once the disk has room
    assert [p.name for p in cache.iterdir()] == ["small.txt"]  # no temp file beside it
