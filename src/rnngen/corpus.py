"""Corpora: reading UTF-8 text into compact ids, vocabularies, named downloads.

A vocabulary is the text's set of Unicode code points in code-point order, so the
same text always gives the same ids. Ids are stored in the narrowest unsigned
dtype that holds the vocabulary (uint8 for tinyshakespeare), and a corpus is read
in chunks, so memory stays near one byte per character for large files.
"""
import codecs
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CorpusError, VocabularyError
from .resources import corpora_dir  # where named corpora are kept

CHUNK_BYTES = 1 << 22

# Named corpora: where to download them and the sha256 of the expected bytes.
NAMED = {
    "tinyshakespeare": (
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
}


class Vocabulary:
    """Characters <-> ids, in code-point order."""

    def __init__(self, chars):
        self.chars = "".join(sorted(set(chars)))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.dtype = np.min_scalar_type(max(len(self.chars) - 1, 0))
        self._table = None

    def __len__(self):
        return len(self.chars)

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and self.chars == other.chars

    def unknown(self, text):
        """The characters of text missing from the vocabulary, in order of first use."""
        return [c for c in dict.fromkeys(text) if c not in self.index]

    def drop_unknown(self, text):
        """(text less the characters missing from the vocabulary, how many were dropped)."""
        missing = self.unknown(text)
        kept = text.translate(dict.fromkeys(map(ord, missing))) if missing else text
        return kept, len(text) - len(kept)

    def encode(self, text, what="text"):
        """text -> ids (compact dtype); VocabularyError naming unknown characters."""
        missing = self.unknown(text)
        if missing:
            shown = ", ".join(repr(c) for c in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise VocabularyError(
                f"{what} has {len(missing)} character(s) the model never saw: {shown}{more}; "
                "remove them or train on a corpus that contains them")
        return self._encode_known(text)

    def _encode_known(self, text):
        if self._table is None:  # code point -> id
            self._table = np.zeros(max(map(ord, self.chars), default=0) + 1, dtype=self.dtype)
            self._table[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        return self._table[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)


@dataclass
class Corpus:
    """A whole text as ids, its vocabulary, and where it came from."""

    ids: np.ndarray
    vocab: Vocabulary
    source: str
    sha256: str

    def split(self, val_fraction):
        """(train_ids, val_ids): the last val_fraction of the text is validation."""
        cut = int(len(self.ids) * (1 - val_fraction))  # as nanoGPT: int(0.9 * n)
        return self.ids[:cut], self.ids[cut:]


def _chunks(path):
    """Yield the decoded text of a UTF-8 file, chunk by chunk."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with open(path, "rb") as f:
        while True:
            data = f.read(CHUNK_BYTES)
            final = not data
            if b"\x00" in data:
                at = offset + data.index(b"\x00")
                raise CorpusError(
                    f"{path} looks like a binary file (NUL byte at offset {at}); "
                    "give a UTF-8 text file as the corpus")
            pending = len(decoder.getstate()[0])  # bytes held back from the last chunk
            try:
                text = decoder.decode(data, final=final)
            except UnicodeDecodeError as e:
                at = offset - pending + e.start
                raise CorpusError(
                    f"{path} is not valid UTF-8 (bad byte at offset {max(at, 0)}); "
                    "convert it to UTF-8, e.g. with iconv") from None
            yield text
            offset += len(data)
            if final:
                return


def _check_file(path, origin="data.corpus in the config"):
    # origin: where the path came from (a config key or a flag), for the message
    if not path.exists():
        raise CorpusError(f"corpus file {path} does not exist; check {origin}")
    if path.is_dir():
        raise CorpusError(f"corpus {path} is a directory; name a UTF-8 text file")


def read_corpus(path, origin="data.corpus in the config"):
    """Read a UTF-8 file into a Corpus, in two streaming passes (vocabulary, then ids)."""
    path = Path(path)
    _check_file(path, origin)
    try:
        chars, total = set(), 0
        for text in _chunks(path):
            chars.update(text)
            total += len(text)
        if total == 0:
            raise CorpusError(f"corpus {path} is empty; give it some text")
        vocab = Vocabulary(chars)
        ids = np.empty(total, dtype=vocab.dtype)
        pos = 0
        for text in _chunks(path):
            ids[pos:pos + len(text)] = vocab._encode_known(text)
            pos += len(text)
        digest = sha256_file(path)
    except OSError as e:
        raise CorpusError(f"cannot read corpus {path}: {e.strerror or e}") from None
    return Corpus(ids, vocab, str(path), digest)


def read_text(path, origin="data.corpus in the config"):
    """The whole text of a UTF-8 file, with the same checks read_corpus makes."""
    path = Path(path)
    _check_file(path, origin)
    try:
        return "".join(_chunks(path))
    except OSError as e:
        raise CorpusError(f"cannot read {path}: {e.strerror or e}") from None


def text_corpus(text, source="<text>"):
    """A Corpus from a string already in memory (stdin, tests)."""
    if not text:
        raise CorpusError(f"corpus {source} is empty; give it some text")
    vocab = Vocabulary(text)
    data = text.encode("utf-8")
    return Corpus(vocab._encode_known(text), vocab, source, hashlib.sha256(data).hexdigest())


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(name_or_path):
    """The local path of a corpus named in a config: a file path, or a NAMED corpus.

    A named corpus is looked for in corpora_dir(); when absent it is downloaded,
    checked against its sha256 and kept there.
    """
    if name_or_path not in NAMED:
        return Path(name_or_path)
    url, sha = NAMED[name_or_path]
    target = corpora_dir() / f"{name_or_path}.txt"
    if target.exists():
        if sha256_file(target) != sha:
            raise CorpusError(
                f"{target} does not match the published {name_or_path} (sha256 differs); "
                "delete it so rnngen can download it again")
        return target
    _download(url, sha, target, name_or_path)
    return target


def _download(url, sha, target, name):
    """Fetch url into target atomically (temp file in the same folder, fsync, rename).

    On any failure nothing is left behind: no partial file, and no folder this call made.
    """
    by_hand = (f"download it by hand and save it as {target.resolve()} (or put it in the "
               "folder named by $RNNGEN_CORPORA), or set data.corpus to a local file")
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise CorpusError(f"could not download {name} from {url} ({reason}); {by_hand}") from None
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        raise CorpusError(f"the download of {name} from {url} has sha256 {got}, expected {sha}; "
                          f"try again later, or {by_hand}")
    made = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as e:
        raise CorpusError(f"cannot save {name} in {target.parent}: {e.strerror or e}; "
                          f"set RNNGEN_CORPORA to a writable folder, or {by_hand}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if tmp is not None or not target.exists():
            for folder in made:  # innermost first; only the empty ones this call created
                try:
                    folder.rmdir()
                except OSError:
                    break


def load_corpus(name_or_path, origin="data.corpus in the config"):
    """Resolve and read a corpus named in a config (or by the flag ``origin`` names)."""
    return read_corpus(resolve(name_or_path), origin)
