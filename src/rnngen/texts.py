"""Where a command's text comes from: a file, a named corpus, or '-' for stdin."""
import sys

from . import corpus


def read_text(arg, stdin=None, origin="--corpus"):
    """(text, source, path or None) for ``arg``: '-' reads the text stream ``stdin``
    (default sys.stdin) whole; anything else is a file or named corpus."""
    if arg == "-":
        return (stdin or sys.stdin).read(), "stdin", None
    path = corpus.resolve(arg)
    return corpus.read_text(path, origin), str(path), path


def read_ids(arg, vocab, stdin=None, origin="--corpus"):
    """(ids, source) for ``arg`` under a fixed vocabulary, read in chunks so memory is
    the ids, not the text: '-' reads the binary buffer of ``stdin`` (default sys.stdin)."""
    if arg == "-":
        return corpus.read_ids((stdin or sys.stdin).buffer, "stdin", vocab), "stdin"
    path = corpus.resolve(arg)
    return corpus.read_ids_from(path, vocab, origin), str(path)
