"""Corpus reading, vocabulary, splits and named-corpus resolution."""
import hashlib

import numpy as np
import pytest

from rnngen import corpus
from rnngen.errors import CorpusError, VocabularyError


def test_vocabulary_is_sorted_code_points_with_compact_ids():
    vocab = corpus.Vocabulary("hello, wörld")
    assert vocab.chars == "".join(sorted(set("hello, wörld")))
    ids = vocab.encode("hello")
    assert ids.dtype == np.uint8
    assert vocab.decode(ids) == "hello"
    big = corpus.Vocabulary("".join(chr(0x4E00 + i) for i in range(300)))
    assert big.dtype == np.uint16


def test_encode_names_unknown_characters():
    vocab = corpus.Vocabulary("abc")
    with pytest.raises(VocabularyError, match=r"2 character\(s\).*'x', 'é'"):
        vocab.encode("abxcé")


def test_read_corpus_streams_in_chunks_and_matches_in_memory(tmp_path, monkeypatch):
    text = "Ünïcode text\n" * 500 + "end ✓"
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(corpus, "CHUNK_BYTES", 97)  # chunks split multi-byte characters
    got = corpus.read_corpus(path)
    ref = corpus.text_corpus(text)
    assert got.vocab == ref.vocab
    np.testing.assert_array_equal(got.ids, ref.ids)
    assert got.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert corpus.read_text(path) == text


def test_split_is_last_fraction_as_nanogpt():
    c = corpus.text_corpus("abcdefghij" * 10)
    train, val = c.split(0.1)
    assert len(train) == 90 and len(val) == 10
    np.testing.assert_array_equal(val, c.ids[90:])


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"good text \xff\xfe more", "not valid UTF-8 \\(bad byte at offset 10\\)"),
    (b"text\x00\x01\x02binary", "looks like a binary file"),
])
def test_bad_corpus_files(tmp_path, content, message):
    path = tmp_path / "c.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        corpus.read_corpus(path)


def test_missing_and_directory_corpus(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        corpus.read_corpus(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match="is a directory"):
        corpus.read_corpus(tmp_path)


def test_named_corpus_found_locally_is_verified(tmp_path, monkeypatch, shakespeare):
    monkeypatch.setenv("RNNGEN_CORPORA", str(shakespeare.parent))
    assert corpus.resolve("tinyshakespeare") == shakespeare.parent / "tinyshakespeare.txt"
    bad = tmp_path / "tinyshakespeare.txt"
    bad.write_text("not the real thing")
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path))
    with pytest.raises(CorpusError, match="18 bytes, the published tinyshakespeare 1,115,394"):
        corpus.resolve("tinyshakespeare")
    bad.write_text("x" * 1_115_394)
    with pytest.raises(CorpusError, match="sha256 differs"):
        corpus.resolve("tinyshakespeare")


def test_named_corpus_offline_says_where_to_put_it(tmp_path, monkeypatch):
    import urllib.error

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path / "corp"))
    monkeypatch.setattr(corpus.urllib.request, "urlopen", offline)
    with pytest.raises(CorpusError) as err:
        corpus.resolve("tinyshakespeare")
    assert "could not download tinyshakespeare" in str(err.value)
    assert str((tmp_path / "corp" / "tinyshakespeare.txt").resolve()) in str(err.value)


def test_named_corpus_download_is_checked_and_kept(tmp_path, monkeypatch):
    data = b"downloaded text\n"

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self, n=-1):
            return data[:n] if n >= 0 else data

    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path))
    monkeypatch.setattr(corpus.urllib.request, "urlopen", lambda *a, **k: Response())
    monkeypatch.setitem(corpus.NAMED, "small", ("http://example.invalid/small.txt",
                                                hashlib.sha256(data).hexdigest()))
    assert corpus.resolve("small").read_bytes() == data
    monkeypatch.setitem(corpus.NAMED, "tampered", ("http://example.invalid/t.txt", "0" * 64))
    with pytest.raises(CorpusError, match="expected 0000"):
        corpus.resolve("tampered")
    assert not (tmp_path / "tampered.txt").exists()
    # a server sending more than the published size is cut off at one byte past it
    monkeypatch.setitem(corpus.NAMED, "longer", ("http://example.invalid/l.txt",
                                                 hashlib.sha256(data).hexdigest(), len(data) - 1))
    with pytest.raises(CorpusError, match=f"larger than the {len(data) - 1:,} bytes expected"):
        corpus.resolve("longer")
    assert not (tmp_path / "longer.txt").exists()


@pytest.mark.parametrize("size, dtype", [(1, np.uint8), (256, np.uint8), (257, np.uint16),
                                         (65536, np.uint16), (65537, np.uint32)])
def test_ids_take_the_narrowest_dtype_at_its_boundary(size, dtype):
    # code points from U+0100 up, skipping the surrogates
    chars = "".join(chr(0x100 + i + (0x800 if 0x100 + i >= 0xD800 else 0)) for i in range(size))
    vocab = corpus.Vocabulary(chars)
    assert vocab.dtype == dtype
    assert vocab.decode(vocab.encode(chars[-3:])) == chars[-3:]


def test_vocabularies_compare_by_their_characters():
    assert corpus.Vocabulary("ab") == corpus.Vocabulary("ba")
    assert corpus.Vocabulary("ab") != corpus.Vocabulary("abc")
    assert corpus.Vocabulary("ab") != "ab"


def test_unknown_characters_are_listed_up_to_ten():
    vocab = corpus.Vocabulary("a")
    with pytest.raises(VocabularyError) as e:
        vocab.encode("a" + "bcdefghijklm")
    message = str(e.value)
    assert "12 character(s)" in message and "'k', 'l' and 2 more" not in message
    assert "'k' and 2 more" in message and "'l'" not in message
