"""What a command may write: never one of its inputs, never what rnngen ships, never a
file another run is writing. Train, export and report all claim their outputs here.
"""
import contextlib

from . import checkpoint, lock, resources


def claim(path, inputs=None, what="--output", flag="--output", kind="checkpoint"):
    """Check, before any work, that ``path`` may be written; returns the context manager
    to hold while writing it.

    inputs: {description: path or None} of the files the command reads; ``path`` may be
    none of them (compared as files, so another spelling or a link counts). It may not
    be the shipped model or lie inside the installed package (``flag`` names where the
    path came from, for the message). A checkpoint (kind "checkpoint") must be
    writable, and the returned lock (lock.OutputLock) keeps a second run from writing
    it at the same time. Any other kind of output (a report) is refused while another
    run holds its lock, and no lock file is made for it. Raises CheckpointError.
    """
    resources.check_output_allowed(path, flag, kind)
    lock.check_distinct(path, inputs or {}, what)
    if kind == "checkpoint":
        checkpoint.check_writable(path, flag)
        return lock.OutputLock(path)
    if lock.lock_path(path).exists():
        with lock.OutputLock(path):  # raises while another run holds it
            pass
    return contextlib.nullcontext()


def recorded_corpus(ckpt):
    """The file a checkpoint records as its training text (None when it records none):
    an input of every command that reads the checkpoint, never to be written over."""
    from .corpus import resolve

    record = ckpt.corpus
    if record is None or not isinstance(record.name, str) or not record.name:
        return None
    return resolve(record.name, fetch=False)


def export(checkpoint_path, output):
    """Write a weights-only copy of a checkpoint (no optimizer state) to output: never
    over the checkpoint itself or the corpus it records, nor while a training run
    writes output."""
    ckpt = checkpoint.load(checkpoint_path)
    lock = claim(output, {"checkpoint being exported": checkpoint_path,
                          "corpus the checkpoint records": recorded_corpus(ckpt)})
    light = checkpoint.weights_only(ckpt)
    with lock:
        checkpoint.save(output, light)
