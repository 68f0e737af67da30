"""What a checkpoint holds, for `rnngen info`: model, vocabulary, corpus, training, losses.

Reads only the checkpoint's metadata and parameter shapes; nothing is computed anew.
"""
import math

from . import checkpoint
from .console import printable

VOCAB_PREVIEW = 40  # characters of the vocabulary shown in the text form


def _bits(nats):
    return None if nats is None else nats / math.log(2)


def describe(ckpt, path):
    """A JSON-able dict describing the checkpoint at path."""
    spec = ckpt.spec
    corpus = ckpt.corpus or checkpoint.CorpusRecord(None, None, None, None)
    history = ckpt.history
    last = history[-1]["val_loss"] if history else None
    best = ckpt.best_val
    vocab = ckpt.vocab_chars
    per_text = spec.task == "classify"  # a classifier's loss is nats per text, not char
    described = {
        "checkpoint": str(path),
        "format": checkpoint.FORMAT,
        "format_version": ckpt.version,
        "created_by": ckpt.created_by,
        "task": spec.task,
        "cell": spec.cell,
        "hidden_size": spec.hidden_size,
        "num_layers": spec.num_layers,
        "skip": spec.skip,
        "parameters": spec.param_count(),
        "vocab_size": len(vocab),
        "vocab": vocab,
        "corpus": corpus.name,
        "corpus_sha256": corpus.sha256,
        "corpus_chars": corpus.chars,
        "steps": ckpt.step,
        "train_seconds": ckpt.train_seconds,
        "best_val_nats": best,
        "best_val_bits": None if per_text else _bits(best),
        "last_val_nats": last,
        "last_val_bits": None if per_text else _bits(last),
        "weights_only": ckpt.weights_only,
        "init_from": ckpt.init_from,
        "config": {key: ckpt.settings(key) for key in ("data", "model", "train")},
    }
    if per_text:
        described.update(classifier(ckpt))
    return described


def classifier(ckpt):
    """A classifier's own facts: its classes and head, and the last validation's
    accuracy and macro-F1."""
    spec, history = ckpt.spec, ckpt.history
    last = history[-1] if history else {}
    return {"classes": list(ckpt.classes), "pooling": spec.pooling,
            "bidirectional": spec.bidirectional,
            "last_val_accuracy": last.get("val_accuracy"),
            "last_val_macro_f1": last.get("val_macro_f1")}


def _loss(nats, per_text=False):
    if nats is None:
        return "-"
    return f"{nats:.4f} nats/text" if per_text else \
        f"{nats:.4f} nats/char ({_bits(nats):.4f} bits/char)"


def as_text(d, encoding="utf-8"):
    """The description as aligned lines for a terminal whose ``encoding`` it is: file
    names it cannot write (or bytes that are not UTF-8) shown escaped."""
    preview = d["vocab"][:VOCAB_PREVIEW] + ("..." if len(d["vocab"]) > VOCAB_PREVIEW else "")
    seconds = d["train_seconds"]
    layers = f"{d['num_layers']} x {d['hidden_size']} {d['cell'].upper()}"
    per_text = d["task"] == "classify"
    if per_text:
        layers += (", bidirectional" if d["bidirectional"] else "") + \
            f", {d['pooling']} pooling: a classifier"
    rows = [
        ("checkpoint", printable(d["checkpoint"], encoding)),
        ("format", f"{d['format']} version {d['format_version']}"
                   + (" (weights only)" if d["weights_only"] else "")),
        ("model", layers + (" with skip connections" if d["skip"] else "")),
        ("parameters", f"{d['parameters']:,}"),
        ("vocabulary", f"{d['vocab_size']} characters: {preview!r}"),
        ("corpus", printable(f"{d['corpus']} ({d['corpus_chars']:,} characters)"
                             if d["corpus_chars"] is not None else str(d["corpus"]), encoding)),
        ("corpus sha256", str(d["corpus_sha256"])),
        ("steps", str(d["steps"])),
        ("training time", "-" if seconds is None else f"{seconds / 60:.1f} minutes"),
        ("best val", _loss(d["best_val_nats"], per_text)),
        ("last val", _loss(d["last_val_nats"], per_text)),
    ]
    start = d["init_from"]
    if start is not None:  # a fine-tuning run: where its weights began
        rows.insert(rows.index(("steps", str(d["steps"]))) + 1, (
            "started from", f"{printable(start['path'], encoding)} (step {start['step']}, "
                            f"sha256 {start['sha256'][:12]}...)"))
    if per_text:
        rows.insert(3, ("classes", f"{len(d['classes'])}: {', '.join(d['classes'])}"))
        if d["last_val_accuracy"] is not None:
            rows.append(("last accuracy", f"{d['last_val_accuracy']:.4f} (macro-F1 "
                                          f"{d['last_val_macro_f1']:.4f})"))
    lines = [f"{name:<14}{value}" for name, value in rows]
    lines.append("config")
    for section, values in d["config"].items():
        for key, value in (values or {}).items():
            lines.append(printable(f"  {section}.{key} = {value}", encoding))  # paths among them
    return "\n".join(lines)
