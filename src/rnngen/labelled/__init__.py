"""Labelled text for sequence classification: reading, splitting, encoding, batching.

A classify run reads its data.corpus with ``load``: a file (TSV, CSV, JSON Lines), a
folder of class folders, '-' for stdin, or a named data set (NAMED). The pieces are
in their own modules: read (the formats and their errors), split (stratified
validation and the class counts), encode (characters to ids, with an unknown
symbol), batches (length-bucketed, resumable), names (the faker-built data set).
"""
from pathlib import Path

from . import names
from .read import Labelled, Limits, read_labelled

# Named labelled data sets: name -> a function returning the local file (built or cached).
NAMED = {names.NAME: names.resolve}
# name -> where that file is or will be kept (nothing built or read)
NAMED_PATHS = {names.NAME: names.path}


def load(name_or_path, **options):
    """Labelled data from a named set, a path or '-'; options as read_labelled's."""
    name = str(name_or_path)
    path = NAMED[name]() if name in NAMED else Path(name) if name != "-" else name
    return read_labelled(path, **options)


__all__ = ["Labelled", "Limits", "NAMED", "NAMED_PATHS", "load", "read_labelled"]
