"""Fine-tuning: a new run whose weights start from another checkpoint's (nanoGPT's
``init_from``, textgenrnn's fine-tuning). run.prepare(init_from=PATH) enters here.

Only the weights come over: the run starts at step 0 with a fresh optimizer, a fresh
data position, its own random generator (train.seed) and an empty history. The model
must be the one the config describes (cell, sizes, layers, ...; the same task). The
vocabulary is the new corpus's: for each character both know, every row of every
vocabulary-sized axis is copied (the engine says which axes those are); characters
the checkpoint never saw keep the fresh rows the run drew for them.
"""
import os

import numpy as np

from . import checkpoint
from .errors import CheckpointError

FRESH_SHOWN = 20  # new characters a note names before it abbreviates


def mismatch(was, now):
    """The first (key, was, now) where two model descriptions differ, leaving out the
    sizes that follow the data (vocab_size, output_size: the tasks compare those); or
    None."""
    now = now.to_dict()
    for key, value in was.to_dict().items():
        if key not in ("vocab_size", "output_size") and now.get(key) != value:
            return key, value, now.get(key)
    return None


def check_fits(ckpt, path, spec, classes=None):
    """CheckpointError unless ``ckpt`` (read from path) holds a model of this
    description ``spec``: the same task and settings, a classifier the same classes."""
    if ckpt.spec.task != spec.task:
        raise CheckpointError(
            f"cannot start from {path}: it is a {_kind(ckpt.spec.task)}, this run trains a "
            f"{_kind(spec.task)}; start from a {_kind(spec.task)} (or drop --init-from)")
    found = mismatch(ckpt.spec, spec)
    if found:
        key, was, now = found
        raise CheckpointError(f"cannot start from {path}: it has model.{key} = {was} but the "
                              f"config says {now}; set model.{key} to {was} or start from "
                              "another checkpoint")
    if classes is not None and tuple(classes) != ckpt.classes:
        raise CheckpointError(
            f"cannot start from {path}: its classes ({', '.join(ckpt.classes)}) are not this "
            f"data's ({', '.join(classes)}); a classifier starts only from one of the same "
            "classes")


def _kind(task):
    return "classifier" if task == "classify" else "character model"


def vocab_axes(spec):
    """{parameter name: the axes of its shape that are vocabulary-sized}, found by
    asking the engine for the shapes at V and at V + 1."""
    V = spec.vocab_size
    at, grown = spec.with_vocab(V).param_shapes(), spec.with_vocab(V + 1).param_shapes()
    return {name: tuple(i for i, (a, b) in enumerate(zip(shape, grown[name])) if a != b)
            for name, shape in at.items() if shape != grown[name]}


def transplant(params, spec, vocab_chars, ckpt):
    """The weights of ``ckpt`` in a model of ``spec`` over ``vocab_chars``, as new arrays
    of params' dtypes: along every vocabulary axis, the rows of the characters ckpt
    knows are its own, the others are params' (freshly drawn). Returns (weights, the
    characters ckpt never saw)."""
    old_ids = {c: i for i, c in enumerate(ckpt.vocab_chars)}
    known = [(new, old_ids[c]) for new, c in enumerate(vocab_chars) if c in old_ids]
    new_rows = np.array([n for n, _ in known], dtype=np.intp)
    old_rows = np.array([o for _, o in known], dtype=np.intp)
    axes = vocab_axes(spec)
    out = {}
    for name, fresh in params.items():
        old = np.asarray(ckpt.params[name])
        w = np.array(fresh, copy=True)
        if name not in axes:
            w[...] = old
        else:  # the rows of characters both know, along every vocabulary axis at once
            w[_along(new_rows, axes[name], w.ndim)] = old[_along(old_rows, axes[name], w.ndim)]
        out[name] = w
    fresh_chars = "".join(c for c in vocab_chars if c not in old_ids)
    return out, fresh_chars


def _along(rows, axes, ndim):
    """An index taking ``rows`` along each of ``axes`` (an outer product) and all of
    every other axis."""
    return tuple(rows.reshape([-1 if a == ax else 1 for a in range(ndim)]) if ax in axes
                 else slice(None) for ax in range(ndim))


def origin(path, ckpt):
    """What a fine-tuned run records of where it started: {path, sha256, step}."""
    from .corpus import sha256_file  # keeps loading a checkpoint light

    return {"path": os.path.abspath(path), "sha256": sha256_file(path), "step": ckpt.step}


def start(trainer, path, vocab_chars, classes=None):
    """Load the checkpoint at ``path`` into a new run's ``trainer`` (training.Trainer,
    at step 0), checking it fits; returns a note naming what was new, or None."""
    ckpt = checkpoint.load(path)
    check_fits(ckpt, path, trainer.spec, classes)
    host = {k: trainer.device.to_host(v) for k, v in trainer.params.items()}
    weights, fresh = transplant(host, trainer.spec, vocab_chars, ckpt)
    trainer.params = {k: trainer.device.to_device(v) for k, v in weights.items()}
    trainer.init_from = origin(path, ckpt)
    said = f"starting from the weights of {path} (step {ckpt.step})"
    if not fresh:
        return said
    shown = fresh[:FRESH_SHOWN] + ("..." if len(fresh) > FRESH_SHOWN else "")
    return (f"{said}; {len(fresh)} character{'s' if len(fresh) != 1 else ''} it never saw "
            f"start from fresh weights: {shown!r}")
