"""Hostile corpora: bad bytes, devices, and inputs that can be read only once."""
import hashlib
import os
import threading

import numpy as np
import pytest

from world import assert_error, assert_ok, cli, digest, make_text, make_world, run
from rnngen import checkpoint, corpus, sizing

TEXT = make_text(4000)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "corpus")


def fifo(path, data):
    """A FIFO that a thread fills with data once, then closes: readable exactly once."""
    os.mkfifo(path)

    def write():
        with open(path, "wb") as f:
            f.write(data)

    threading.Thread(target=write, daemon=True).start()
    return path


def train_on(w, tmp_path, source, *extra):
    out = tmp_path / "out.npz"
    return cli(["train", "--config", w.cfg, "--corpus", source, "--output", out, "-q", *extra]), out


# -- bad bytes: one line naming the problem, no checkpoint ------------------------------
BAD = [
    ("empty", b"", "is empty; give it some text"),
    ("only NUL", b"\x00" * 10, "NUL byte at offset 0"),
    ("NUL after text", TEXT.encode() + b"\x00", "NUL byte at offset 4000"),
    ("utf-16 with BOM", "\ufeffhello".encode("utf-16-le"), "NUL byte at offset 3"),
    ("utf-16 without BOM", "hello".encode("utf-16-le"), "NUL byte at offset 1"),
    ("latin-1 at start", b"\xe9" + TEXT.encode(), "bad byte at offset 0"),
    ("latin-1 at 1", b"a\xe9" + TEXT.encode(), "bad byte at offset 1"),
    ("latin-1 at end", TEXT.encode() + b"\xe9", "bad byte at offset 4000"),
    ("latin-1 in middle", TEXT[:2000].encode() + b"caf\xe9" + TEXT[2000:].encode(),
     "bad byte at offset 2003"),
    ("truncated 3-byte char", TEXT.encode() + b"\xe2\x9c", "bad byte at offset 4000"),
    ("overlong slash", b"ab\xc0\xaf" + TEXT.encode(), "bad byte at offset 2"),
    ("encoded surrogate", b"abc\xed\xa0\x80" + TEXT.encode(), "bad byte at offset 3"),
    ("beyond U+10FFFF", b"\xf4\x90\x80\x80" + TEXT.encode(), "bad byte at offset 0"),
    ("lone continuation", TEXT[:10].encode() + b"\x80" + TEXT.encode(), "bad byte at offset 10"),
    ("shorter than a batch", b"tiny text", "fewer than one batch needs"),
]


@pytest.mark.parametrize("how", ["file", "fifo"])
@pytest.mark.parametrize("name, data, fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_corpus_bytes(w, tmp_path, how, name, data, fragment):
    path = tmp_path / "c.txt"
    if how == "file":
        path.write_bytes(data)
    else:
        fifo(path, data)
    result, out = train_on(w, tmp_path, path)
    assert_error(result, fragment)
    assert not out.exists()
    if how == "file":
        assert path.read_bytes() == data


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 97])
def test_bad_byte_offset_is_exact_across_chunk_edges(w, tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(corpus, "CHUNK_BYTES", chunk)
    path = tmp_path / "c.txt"
    path.write_bytes("ünï ✓ ok".encode() * 20 + b"\xff" + b"x" * 50)
    result, out = train_on(w, tmp_path, path)
    assert_error(result, f"bad byte at offset {len('ünï ✓ ok'.encode()) * 20}")


@pytest.mark.parametrize("device, fragments", [
    ("/dev/null", ["is empty"]),
    ("/dev/zero", ["NUL byte at offset 0"]),
    ("/dev/urandom", ["NUL byte at offset", "is not valid UTF-8"]),
])
def test_devices_as_corpus(w, tmp_path, device, fragments):
    result, out = train_on(w, tmp_path, device)
    line = assert_error(result, "Error: ")
    assert any(f in line for f in fragments), line
    assert not out.exists()


@pytest.mark.parametrize("name, fragment", [
    ("missing.txt", "does not exist"),
    (".", "is a directory"),
])
def test_paths_that_are_not_files(w, tmp_path, name, fragment):
    result, out = train_on(w, tmp_path, tmp_path / name)
    assert_error(result, fragment)


def test_endless_stream_is_stopped_before_memory_runs_out(w, tmp_path, monkeypatch):
    monkeypatch.setattr(sizing, "available_bytes", lambda: 2000)
    monkeypatch.setattr(sizing, "check_training", lambda *a: 0)  # only the stream's limit
    result, out = train_on(w, tmp_path, fifo(tmp_path / "c.txt", TEXT.encode()))
    assert_error(result, "stream longer than half the available memory")
    assert not out.exists()


def test_validation_split_too_short(w, tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT)
    result, out = train_on(w, tmp_path, path, "--set", "data.val_fraction=0.0002")
    # the banner is printed first, then the error: stderr ends with it
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("Error: the validation split")


# -- good text, read exactly once, whatever it arrives through --------------------------
GOOD = {
    "ascii": TEXT,
    "crlf": TEXT.replace("\n", "\r\n"),
    "utf-8 BOM": "\ufeff" + TEXT,
    "astral": TEXT.replace("e", "😀"),
    "256 symbols": "".join(chr(0x100 + i % 256) for i in range(3000)),
    "257 symbols": "".join(chr(0x100 + i % 257) for i in range(3000)),
    "cjk 600 symbols": "".join(chr(0x4E00 + (i * 7) % 600) for i in range(4000)),
    "one symbol": "a" * 3000,
    "mixed widths": ("aé✓😀" * 800),
}


def expected(text):
    data = text.encode("utf-8")
    return {"sha256": hashlib.sha256(data).hexdigest(), "chars": len(text),
            "vocab": "".join(sorted(set(text)))}


def recorded(out):
    ckpt = checkpoint.load(out)
    return {"sha256": ckpt.corpus.sha256, "chars": ckpt.corpus.chars,
            "vocab": ckpt.vocab_chars}


@pytest.mark.parametrize("how", ["file", "fifo"])
@pytest.mark.parametrize("name", GOOD)
def test_good_text_trains_and_is_recorded_exactly(w, tmp_path, how, name):
    text = GOOD[name]
    path = tmp_path / "c.txt"
    if how == "file":
        path.write_text(text, encoding="utf-8")
    else:
        fifo(path, text.encode("utf-8"))
    result, out = train_on(w, tmp_path, path)
    assert_ok(result)
    assert recorded(out) == expected(text)


@pytest.mark.parametrize("name", ["ascii", "mixed widths", "257 symbols"])
@pytest.mark.parametrize("chunk", [1, 3, 4096])
def test_one_pass_ids_match_the_text(tmp_path, monkeypatch, name, chunk):
    monkeypatch.setattr(corpus, "CHUNK_BYTES", chunk)
    text = GOOD[name]
    got = corpus.read_corpus(fifo(tmp_path / "c.txt", text.encode()))
    ref = corpus.text_corpus(text)
    assert got.vocab == ref.vocab and got.ids.dtype == ref.ids.dtype
    np.testing.assert_array_equal(got.ids, ref.ids)
    assert got.sha256 == ref.sha256


@pytest.mark.parametrize("shell", [
    "cat {text} | {rnngen} train --config {cfg} --corpus /dev/stdin --output {out} -q",
    "{rnngen} train --config {cfg} --corpus <(cat {text}) --output {out} -q",
    "{rnngen} train --config {cfg} --corpus /dev/stdin --output {out} -q < {text}",
])
def test_stdin_and_process_substitution_are_read_once(w, tmp_path, shell):
    import shlex
    import subprocess
    import sys

    out = tmp_path / "out.npz"
    rnngen = f"{shlex.quote(sys.executable)} -m rnngen"
    cmd = shell.format(text=w.text, rnngen=rnngen, cfg=w.cfg, out=out)
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120,
                          env=run.__globals__["ENV"])
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert recorded(out) == expected(w.text.read_text())


def test_empty_stdin_is_an_empty_corpus(w, tmp_path):
    out = tmp_path / "out.npz"
    done = run(["train", "--config", w.cfg, "--corpus", "/dev/stdin", "--output", out, "-q"],
               input=b"")
    assert_error(done, "is empty")
    assert not out.exists()


def test_reading_a_regular_file_costs_about_one_byte_a_character(tmp_path, monkeypatch):
    import tracemalloc

    monkeypatch.setattr(corpus, "CHUNK_BYTES", 1 << 16)
    path = tmp_path / "big.txt"
    path.write_text(make_text(2_000_000), encoding="utf-8")
    tracemalloc.start()
    try:
        got = corpus.read_corpus(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(got.ids) == 2_000_000
    assert peak < 1.25 * 2_000_000 + 2_000_000, peak  # the ids, plus a few chunks' worth


def test_the_corpus_is_never_written(w, tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT)
    before = digest(path)
    result, out = train_on(w, tmp_path, path)
    assert_ok(result)
    assert digest(path) == before and out.exists()
