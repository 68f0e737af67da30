"""The report of a classifier: one self-contained page (the run, learning curves, the
confusion matrix, the most confident mistakes, and how each class's probability moves
as the network reads a text character by character), and the readings for a terminal.

A reading answers, after each character, what the classifier would say of the text so
far (engine.classifier.prefix_probabilities): which characters decided.
"""
import html

import numpy as np

from . import __version__, checkpoint, classification, labelled, report
from .engine import classifier
from .errors import OptionError
from .labelled.split import align

MISTAKES = 20  # the most confident mistakes listed
READ_DEFAULT = 4  # texts read on the page when none is asked for: the top mistakes
MAX_READ_CHARS = 120  # a reading runs T prefixes (T^2 steps): long texts are cut
PALETTE = ("#1c7ed6", "#d9480f", "#2b8a3e", "#ae3ec9", "#f59f00", "#0ca678", "#e64980",
           "#495057")
BLANK = "\u2423"  # shown for a space or other blank character under a reading
ACCURACY = (("val_accuracy", "accuracy", "#2b8a3e"), ("val_macro_f1", "macro-F1", "#ae3ec9"))


class Looked:
    """A classifier, its scores on labelled data and its readings of some texts."""

    def __init__(self, ckpt, name, source, data, probs, summary, readings, reads):
        self.checkpoint, self.name, self.source = ckpt, name, source
        self.data, self.probs, self.summary = data, probs, summary
        self.readings, self.reads = readings, reads

    def terminal(self, colour=False):
        """(every reading as lines of text, a one-line legend)."""
        return terminal_view(self.readings, self.checkpoint.classes, colour), (
            "after each character: the likeliest class and its probability, then the next")

    def page(self):
        return page(self)

    def write(self, path):
        report.write(path, self.page(), self.reads)


def look(ckpt_path, data=None, texts=(), stdin=None):
    """`rnngen report`'s work for a classifier -> Looked. data: labelled data (a file,
    folder, named set or '-'), or None for the validation texts it was trained with
    (read only if provably the same); texts: texts to read character by character
    (default: the most confident mistakes)."""
    ckpt = checkpoint.load(ckpt_path)
    model = classification.Classifier.from_checkpoint(ckpt, path=ckpt_path)
    if data is None:
        examples, source = classification.recorded_validation(
            ckpt, ask="pass --corpus with labelled data to report on")
    else:
        examples = align(labelled.load(data, stdin=stdin), model.classes)
        source = examples.source
    encoded = model.encode(examples.texts, examples.labels)
    probs = classification.probabilities(model.logits(encoded))
    summary = model.evaluate(examples)
    if not texts:
        texts = [examples.texts[i] for i in mistakes(examples, probs)[:READ_DEFAULT]]
    readings = [reading(model, t) for t in texts]
    reads = {"checkpoint": ckpt_path, "labelled data": None if data in (None, "-") else data}
    return Looked(ckpt, ckpt_path, source, examples, probs, summary, readings, reads)


def mistakes(data, probs):
    """Indices of the wrongly labelled examples, the most confident first."""
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != data.labels)
    return wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")]


def reading(model, text):
    """(text, probs (T, K)): the class probabilities after each of the text's first
    MAX_READ_CHARS characters."""
    if not text:
        raise OptionError("a text to read must have at least one character")
    text = text[:MAX_READ_CHARS]
    ids = model.encode([text]).ids.astype(np.intp)
    probs = classifier.prefix_probabilities(model.spec, model.params,
                                            model.device.to_device(ids))
    return text, model.device.to_host(probs)


# -- the page -----------------------------------------------------------------------

def page(looked):
    ckpt = looked.checkpoint
    history = ckpt.history
    steps = [h["step"] for h in history]
    accuracy = (report.curve_svg(steps, history, "step", "accuracy", ACCURACY,
                                 "accuracy, macro-F1 (validation)")
                if history and "val_accuracy" in history[0] else "")
    parts = {
        "title": html.escape(f"rnngen report: {looked.name}"),
        "version": html.escape(__version__),
        "style": report.style(),
        "run": report.run_table(ckpt),
        "curves": report.curves(history, "loss (nats/text)") + accuracy,
        "source": html.escape(str(looked.source)),
        "scores": scores_html(looked.summary),
        "confusion": confusion_html(looked.summary),
        "mistakes": mistakes_html(looked),
        "readings": "".join(reading_svg(t, p, ckpt.classes) for t, p in looked.readings),
    }
    return report.fill("classifier.html", parts)


def scores_html(summary):
    rows = "".join(
        f"<tr><th>{html.escape(r['class'])}</th><td>{r['precision']:.4f}</td>"
        f"<td>{r['recall']:.4f}</td><td>{r['f1']:.4f}</td><td>{r['support']:,}</td></tr>"
        for r in summary["per_class"])
    return (f"<p><b>accuracy {summary['accuracy']:.4f}</b>, macro-F1 "
            f"{summary['macro_f1']:.4f} over {summary['examples']:,} texts "
            f"({summary['nats_per_text']:.4f} nats/text)</p>"
            "<table class=\"grid\" id=\"per-class\"><thead><tr><th>class</th><th>precision"
            "</th><th>recall</th><th>F1</th><th>texts</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def confusion_html(summary):
    """The confusion matrix, each cell shaded by its share of its row (true class)."""
    classes, matrix = summary["classes"], np.array(summary["confusion"])
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in classes)
    body = ""
    for name, counts, row in zip(classes, matrix, shares):
        cells = "".join(f"<td style=\"background:rgba(28,126,214,{s:.3f})\">{n:,}</td>"
                        for n, s in zip(counts, row))
        body += f"<tr><th>{html.escape(name)}</th>{cells}</tr>"
    return (f"<table class=\"grid\" id=\"confusion\"><thead><tr><th>true \\ predicted</th>"
            f"{head}</tr></thead><tbody>{body}</tbody></table>")


def mistakes_html(looked):
    data, probs, classes = looked.data, looked.probs, looked.checkpoint.classes
    rows = []
    for i in mistakes(data, probs)[:MISTAKES]:
        p = int(probs[i].argmax())
        rows.append(f"<tr><td>{html.escape(data.where(i))}</td><td><code>"
                    f"{html.escape(data.texts[i][:200])}</code></td><td>"
                    f"{html.escape(classes[data.labels[i]])}</td><td>{html.escape(classes[p])}"
                    f"</td><td>{probs[i, p]:.3f}</td></tr>")
    if not rows:
        return "<p>No mistakes on these texts.</p>"
    return ("<table class=\"grid\" id=\"mistakes\"><thead><tr><th>where</th><th>text</th>"
            "<th>true</th><th>predicted</th><th>probability</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


READ_PLOT = {"step": 14, "height": 160, "left": 40, "right": 110, "top": 10, "bottom": 30}


def reading_svg(text, probs, classes, shown=4):
    """One text's reading: a line per class (the ``shown`` classes that rise highest),
    probability against the characters read so far."""
    p = READ_PLOT
    T, K = probs.shape
    top = np.argsort(-probs.max(axis=0), kind="stable")[:min(shown, K)]
    w = max(T, 2) * p["step"]
    width, hgt = p["left"] + w + p["right"], p["height"]

    def px(t):
        return p["left"] + (t + 0.5) * p["step"]

    def py(v):
        return p["top"] + (1 - v) * hgt

    final = classes[int(probs[-1].argmax())]
    out = [f'<figure class="reading"><figcaption>{html.escape(text)} &rarr; '
           f'{html.escape(final)} {probs[-1].max():.3f}</figcaption>'
           f'<svg class="reading" viewBox="0 0 {width} {hgt + p["top"] + p["bottom"]}" '
           f'width="{width}" height="{hgt + p["top"] + p["bottom"]}" '
           f'data-text="{html.escape(text)}" role="img" '
           f'aria-label="class probabilities while reading">',
           f'<rect x="{p["left"]}" y="{p["top"]}" width="{w}" height="{hgt}" class="box"/>']
    for v in (0, 0.5, 1):
        out.append(f'<text x="{p["left"] - 6}" y="{py(v) + 4:.1f}" class="tick" '
                   f'text-anchor="end">{v:g}</text>')
    for t, c in enumerate(text):
        out.append(f'<text x="{px(t):.1f}" y="{p["top"] + hgt + 16}" class="label" '
                   f'text-anchor="middle">{html.escape(c if c.strip() else BLANK)}</text>')
    for k in top:
        colour = PALETTE[k % len(PALETTE)]  # a class keeps its colour in every reading
        points = " ".join(f"{px(t):.1f},{py(v):.1f}" for t, v in enumerate(probs[:, k]))
        out.append(f'<polyline class="series" data-class="{html.escape(classes[k])}" '
                   f'points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
                   f'<text x="{p["left"] + w + 6}" y="{py(probs[-1, k]) + 4:.1f}" '
                   f'class="tick" fill="{colour}">{html.escape(classes[k])}</text>')
    out.append("</svg></figure>")
    return "".join(out)


# -- the terminal ---------------------------------------------------------------------

def terminal_view(readings, classes, colour=False):
    """Each reading as lines: a character, the likeliest class after it and its
    probability (bold where the answer changes), then the runner-up."""
    lines = []
    for text, probs in readings:
        lines.append(f"{text}")
        previous = None
        for c, row in zip(text, probs):
            first, second = np.argsort(-row, kind="stable")[:2]
            mark = "*" if previous is not None and first != previous else " "
            name = classes[first]
            if colour and mark == "*":
                name = f"\x1b[1m{name}\x1b[0m"
            lines.append(f"  {c!r:>6} {mark} {name} {row[first]:.3f}  "
                         f"({classes[second]} {row[second]:.3f})")
            previous = first
        lines.append("")
    return "\n".join(lines)
