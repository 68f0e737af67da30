"""Where a command's text comes from: a file, a named corpus, or '-' for stdin."""
from . import console, corpus


def read_text(arg, stdin=None, origin="--corpus"):
    """(text, source, path or None) for ``arg``: '-' reads the text stream ``stdin``
    (default sys.stdin) whole; anything else is a file or named corpus."""
    if arg == "-":
        return (stdin or console.standard_input(f"{origin} -")).read(), "stdin", None
    path = corpus.resolve(arg)
    return corpus.read_text(path, origin), str(path), path


def read_ids(arg, vocab, stdin=None, origin="--corpus"):
    """(ids, source) for ``arg`` under a fixed vocabulary, read in chunks so memory is
    the ids, not the text: '-' reads the binary buffer of ``stdin`` (default sys.stdin)."""
    if arg == "-":
        stream = stdin.buffer if stdin else console.standard_input(f"{origin} -", binary=True)
        return corpus.read_ids(stream, "stdin", vocab), "stdin"
    path = corpus.resolve(arg)
    return corpus.read_ids_from(path, vocab, origin), str(path)
