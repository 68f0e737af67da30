"""Corpora: reading UTF-8 text into compact ids, vocabularies, named downloads.

A vocabulary is the text's set of Unicode code points in code-point order, so the
same text always gives the same ids. Ids are stored in the narrowest unsigned
dtype that holds the vocabulary (uint8 for tinyshakespeare), and a corpus is read
in chunks, so memory stays near one byte per character for large files.
"""
import codecs
import hashlib
import os
import stat
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import atomic
from .errors import CorpusError, VocabularyError
from .resources import corpora_dir  # where named corpora are kept

CHUNK_BYTES = 1 << 22

# Named corpora: where to download them, the sha256 of the expected bytes and their
# size (for fetch: a partial copy is told apart, and a download is bounded).
NAMED = {
    "tinyshakespeare": (
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        1_115_394,
    ),
}
MAX_DOWNLOAD_BYTES = 1 << 30  # a download of no declared size stops here


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
            raise self._unknown_error(missing, what)
        return self._encode_known(text)

    @staticmethod
    def _unknown_error(missing, what):
        shown = ", ".join(repr(c) for c in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        return VocabularyError(
            f"{what} has {len(missing)} character(s) the model never saw: {shown}{more}; "
            "remove them or train on a corpus that contains them")

    def unknown_code_points(self, cps):
        """The code points in cps (uint32) missing from the vocabulary, in order of first use."""
        if self._table is None:
            self._encode_known("")
        known = np.zeros(len(self._table), dtype=bool)
        known[[ord(c) for c in self.chars]] = True
        bad = cps >= len(known)
        bad[~bad] = ~known[cps[~bad]]
        if not bad.any():
            return []
        values, first = np.unique(cps[bad], return_index=True)
        return [chr(int(values[i])) for i in np.argsort(first)]

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


def _chunks(f, path, digest=None):
    """Yield the decoded text of an open UTF-8 file, chunk by chunk, reading it once.

    ``digest`` (a hashlib object), when given, is fed every byte read: the sha256
    comes from the same pass, so a pipe or FIFO that can be read only once works.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    while True:
        data = f.read(CHUNK_BYTES)
        final = not data
        if digest is not None:
            digest.update(data)
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


class _FirstSeenIds:
    """Ids assigned in order of first appearance, one chunk at a time.

    One pass cannot know the vocabulary before the text, so each chunk is encoded
    with provisional ids (new characters numbered as they turn up); ``finish``
    maps them to code-point order with a small permutation table, in place. The
    ids' dtype is widened when the vocabulary outgrows it.
    """

    def __init__(self, capacity):
        self.table = {}  # code point -> provisional id
        self.lookup = np.zeros(0, dtype=np.uint32)  # code point -> provisional id
        self.ids = np.empty(capacity, dtype=np.uint8)  # capacity 0: grown as needed
        self.n = 0

    def add(self, text):
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if not len(cps):
            return
        new = [int(c) for c in np.unique(cps) if int(c) not in self.table]
        if new:
            for c in new:
                self.table[c] = len(self.table)
            top = max(self.table) + 1
            if top > len(self.lookup):
                self.lookup = np.zeros(top, dtype=np.uint32)
            self.lookup[list(self.table)] = list(self.table.values())
            dtype = np.min_scalar_type(len(self.table) - 1)
            if dtype.itemsize > self.ids.dtype.itemsize:
                self.ids = self.ids.astype(dtype)
        need = self.n + len(cps)
        if need > len(self.ids):  # a pipe: grow geometrically
            self.ids = np.resize(self.ids, max(need, 2 * len(self.ids)))
        self.ids[self.n:need] = self.lookup[cps]
        self.n = need

    def finish(self):
        """(ids in code-point order, trimmed to length; the characters in that order)."""
        chars = sorted(self.table)
        perm = np.empty(len(chars), dtype=self.ids.dtype)
        perm[[self.table[c] for c in chars]] = np.arange(len(chars))
        ids = self.ids[:self.n]
        for a in range(0, self.n, CHUNK_BYTES):  # in place: no second copy of the text
            ids[a:a + CHUNK_BYTES] = perm[ids[a:a + CHUNK_BYTES]]
        if len(self.ids) > self.n:
            ids = ids.copy() if self.n < len(self.ids) // 2 else ids
        return ids, "".join(map(chr, chars))


def read_corpus(path, origin="data.corpus in the config"):
    """Read a UTF-8 file into a Corpus in one pass: vocabulary, ids and sha256 together.

    A pipe, FIFO or process substitution (/dev/stdin, <(zcat x.gz)) is read exactly
    once. A regular file's ids are allocated once from its size (one byte per
    character for a vocabulary of up to 256 symbols).
    """
    path = Path(path)
    _check_file(path, origin)
    try:
        with open(path, "rb") as f:
            return read_open_corpus(f, path)
    except OSError as e:
        raise CorpusError(f"cannot read corpus {path}: {e.strerror or e}") from None


def read_open_corpus(f, path):
    """read_corpus for a file already open (binary), named ``path`` in messages."""
    digest = hashlib.sha256()
    try:
        info = os.fstat(f.fileno())
        regular = stat.S_ISREG(info.st_mode)
        ids = _FirstSeenIds(info.st_size if regular else 0)
        for text in _chunks(f, path, digest):
            ids.add(text)
            if not regular:
                _check_stream_size(ids.n, path)
    except OSError as e:
        raise CorpusError(f"cannot read corpus {path}: {e.strerror or e}") from None
    if ids.n == 0:
        raise CorpusError(f"corpus {path} is empty; give it some text")
    array, chars = ids.finish()
    vocab = Vocabulary(chars)
    if array.dtype != vocab.dtype:
        array = array.astype(vocab.dtype)
    return Corpus(array, vocab, str(path), digest.hexdigest())


def _check_stream_size(n_chars, path):
    """A pipe or device has no size to check first: stop one that outgrows memory."""
    from .sizing import available_bytes

    limit = available_bytes() // 2
    if n_chars > limit:
        raise CorpusError(f"corpus {path} is a stream longer than half the available memory "
                          f"({limit:,} characters read); give a finite text file")


def read_text(path, origin="data.corpus in the config"):
    """The whole text of a UTF-8 file, with the same checks read_corpus makes."""
    path = Path(path)
    _check_file(path, origin)
    try:
        with open(path, "rb") as f:
            return "".join(_chunks(f, path))
    except OSError as e:
        raise CorpusError(f"cannot read {path}: {e.strerror or e}") from None


def read_ids(f, source, vocab):
    """The ids of an open UTF-8 stream under a fixed vocabulary, read once, in chunks.

    Memory is the ids (one byte a character for up to 256 symbols) and one chunk:
    what scoring a long text needs, not the text itself. VocabularyError names
    every unknown character, as Vocabulary.encode does.
    """
    parts, missing = [], {}
    try:
        for text in _chunks(f, source):
            cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            unknown = vocab.unknown_code_points(cps)
            if unknown or missing:
                missing.update(dict.fromkeys(unknown))
                continue
            parts.append(vocab._encode_known(text))
    except OSError as e:
        raise CorpusError(f"cannot read {source}: {e.strerror or e}") from None
    if missing:
        raise vocab._unknown_error(list(missing), source)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=vocab.dtype)


def read_ids_from(path, vocab, origin="--corpus"):
    """read_ids for a file path, with the checks read_corpus makes."""
    path = Path(path)
    _check_file(path, origin)
    try:
        with open(path, "rb") as f:
            return read_ids(f, str(path), vocab)
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


def resolve(name_or_path, fetch=True):
    """The local path of a corpus named in a config: a file path, or a NAMED corpus
    (looked for in corpora_dir(), downloaded when absent: fetch_file). With fetch
    False, only the path it has or will have there (nothing is read or downloaded)."""
    if name_or_path not in NAMED:
        return Path(name_or_path)
    if not fetch:
        return corpora_dir() / f"{name_or_path}.txt"
    return fetch_file(name_or_path, *NAMED[name_or_path])


def fetch_file(name, url, sha, size=None, filename=None):
    """The cached copy of a published file: corpora_dir()/FILENAME (default NAME.txt),
    checked against its sha256 (and size, when known), downloaded when absent.

    A cache entry that is not that file (a directory, a FIFO, a link that leads
    nowhere, a partial or different copy) is a CorpusError saying what it is and what
    to do; it is never overwritten, since a copy put there by hand may be someone's.
    """
    folder = corpora_dir()
    check_folder(folder)
    target = folder / (filename or f"{name}.txt")
    if cached(target, sha, size, name):
        return target
    _download(url, sha, target, name, size)
    return target


def _where_corpora_are():
    """How the corpora folder was chosen, for messages."""
    return ("$RNNGEN_CORPORA" if os.environ.get("RNNGEN_CORPORA")
            else "the rnngen corpus cache")


def check_folder(folder):
    """CorpusError unless the corpora folder is a directory or absent (a download
    makes it)."""
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        if os.path.islink(folder):
            raise CorpusError(f"{_where_corpora_are()} ({folder}) is a symbolic link to "
                              f"{os.readlink(folder)}, which does not exist; point it at a "
                              "folder") from None
        return
    except OSError as e:  # a link loop, a path through a file, no permission
        raise CorpusError(f"{_where_corpora_are()} ({folder}) cannot be used: "
                          f"{e.strerror or e}; point it at a folder") from None
    if not stat.S_ISDIR(info.st_mode):
        raise CorpusError(f"{_where_corpora_are()} ({folder}) is not a folder; point it at a "
                          "folder (set RNNGEN_CORPORA) to keep named corpora in")


def cached(target, sha, size, name, made="published", again=None):
    """True when target holds the expected bytes (sha256, one or a set of them, and size
    when not None), False when there is nothing there; CorpusError for anything else,
    naming ``name``, what made the good copy (``made``) and what to do (``again``)."""
    shas = {sha} if isinstance(sha, str) else set(sha)
    again = again or (f"delete it so rnngen can download {name} again, or put a good copy "
                      "there (or set RNNGEN_CORPORA to another folder)")
    try:
        info = os.stat(target)
    except FileNotFoundError:
        if not os.path.islink(target):
            return False
        raise CorpusError(f"{target} is a symbolic link to {os.readlink(target)}, which does "
                          f"not exist; {again}") from None
    except OSError as e:  # a link loop, a path through a file, no permission
        raise CorpusError(f"{target} cannot be used as {name}: {e.strerror or e}; "
                          f"{again}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CorpusError(f"{target} is a directory, not the {name} text; {again}")
    if not stat.S_ISREG(info.st_mode):
        raise CorpusError(f"{target} is not a regular file (a FIFO, socket or device), not "
                          f"the {name} text; {again}")
    if size is not None and info.st_size != size:
        what = ("a partial download" if info.st_size < size else "another file")
        raise CorpusError(f"{target} has {info.st_size:,} bytes, the published {name} "
                          f"{size:,}: {what}; {again}")
    try:
        digest = sha256_file(target)
    except OSError as e:
        raise CorpusError(f"cannot read {target}: {e.strerror or e}; {again}") from None
    if digest not in shas:
        raise CorpusError(f"{target} does not match the {made} {name} (sha256 differs); "
                          f"{again}")
    return True


def _download(url, sha, target, name, size=None):
    """Fetch url into target atomically (see atomic.write), reading no more than
    ``size`` bytes (or MAX_DOWNLOAD_BYTES) from the server.

    On any failure nothing is left behind: no partial file, and no folder this call made.
    """
    by_hand = (f"download it by hand and save it as {target.resolve()} (or put it in the "
               "folder named by $RNNGEN_CORPORA), or set data.corpus to a local file")
    limit = MAX_DOWNLOAD_BYTES if size is None else size
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data = response.read(limit + 1)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise CorpusError(f"could not download {name} from {url} ({reason}); {by_hand}") from None
    if len(data) > limit:
        raise CorpusError(f"the download of {name} from {url} is larger than the "
                          f"{limit:,} bytes expected; try again later, or {by_hand}")
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        raise CorpusError(f"the download of {name} from {url} has sha256 {got}, expected {sha}; "
                          f"try again later, or {by_hand}")
    made = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.write(target, lambda f: f.write(data))
    except OSError as e:
        raise CorpusError(f"cannot save {name} in {target.parent}: {e.strerror or e}; "
                          f"set RNNGEN_CORPORA to a writable folder, or {by_hand}") from None
    finally:
        if not target.exists():
            for folder in made:  # innermost first; only the empty ones this call created
                try:
                    folder.rmdir()
                except OSError:
                    break
