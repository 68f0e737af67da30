"""The HTML report: one self-contained page about a checkpoint (the run, its learning
curves, samples, and what its units do over a passage), and the same activation view
for a terminal.

The page is ``templates/report.html`` with the parts filled in: the run table, the
curves (SVG drawn here, so they are crisp and need no script) and the samples as
HTML; the passage's numbers as one JSON blob that the page's script reads.
"""
import base64
import html
import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from . import __version__, atomic, checkpoint, decoding, inside, jsonout, outputs, texts
from .console import printable
from .errors import ReportError

SAMPLE_TEMPERATURES = (0.5, 0.8, 1.0)
SAMPLE_CHARS = 400
SAMPLE_SEED = 1234  # the samples' random seed: the same checkpoint gives the same page


def beside(checkpoint_path):
    """Where ``train --report`` writes the page: NAME.html beside NAME.npz."""
    return Path(checkpoint_path).with_suffix(".html")


class Looked:
    """A checkpoint and what its units do over a passage: the report, before it is
    shown (``terminal``), made (``page``) or written (``write``)."""

    def __init__(self, ckpt, look, name, reads):
        self.checkpoint, self.inside, self.name, self.reads = ckpt, look, name, reads

    def terminal(self, unit=None, colour=False):
        """(the passage shaded by a unit, a one-line legend): see terminal_view."""
        return terminal_view(self.inside, unit, colour)

    def page(self, unit=None):
        return page(self.checkpoint, self.inside, unit, name=self.name)

    def write(self, path, unit=None):
        """Write the page to path (never over what it read); returns the unit shown
        first, (layer, index)."""
        shown = self.inside.shown_unit(unit)
        write(path, page(self.checkpoint, self.inside, shown, name=self.name), self.reads)
        return shown


def look(ckpt_path, text=None, stdin=None):
    """`rnngen report`'s work: load the checkpoint and run it over a passage -> Looked.

    text: a file or named corpus, '-' for ``stdin`` (default sys.stdin), or None for
    the start of the validation split of the corpus it was trained on (read only if
    it is provably that text).
    """
    ckpt = checkpoint.load(ckpt_path)
    if text is None:
        (passage, source), path = inside.validation_passage(ckpt), None
    else:
        passage, source, path = texts.read_text(text, stdin)
    look_ = inside.look_inside(ckpt.spec, ckpt.params, ckpt.vocab_chars, passage, source)
    return Looked(ckpt, look_, ckpt_path, {"checkpoint": ckpt_path, "text": path,
                                           "corpus the checkpoint records":
                                               outputs.recorded_corpus(ckpt)})


def for_training(trainer, path):
    """Write the report of a training run as it stands (``train --report``)."""
    ckpt = trainer.checkpoint()
    text, source = inside.opening(trainer.corpus, trainer.val_ids, trainer.cfg.data.corpus)
    look_ = inside.look_inside(ckpt.spec, ckpt.params, ckpt.vocab_chars, text, source)
    output = trainer.cfg.train.output
    write(path, page(ckpt, look_, name=output),
          {"checkpoint": output, "text": trainer.corpus.source}, what="the report")


def for_training_or_warning(trainer):
    """for_training beside the run's checkpoint (NAME.html), best effort: returns a
    warning to show when the page cannot be written (a report must never end a run)."""
    path = beside(trainer.cfg.train.output)
    try:
        for_training(trainer, path)
    except Exception as e:  # noqa: BLE001 -- any failure, even a bug, must not stop training
        return f"warning: could not write the report {path}: {e}"
    return None


def page(ckpt, look, unit=None, name="checkpoint"):
    """The whole page as a string. look: inside.Inside; unit (layer, index) shown first."""
    layer, index = look.shown_unit(unit)
    parts = {
        "title": html.escape(f"rnngen report: {name}"),
        "name": html.escape(str(name)),
        "version": html.escape(__version__),
        "run": run_table(ckpt),
        "curves": curves(ckpt.history),
        "samples": samples(ckpt),
        "source": html.escape(look.source),
        "passage": "".join(f"<span>{html.escape(c)}</span>" for c in look.text),
        "data": script_json(page_data(ckpt, look, (layer, index))),
    }
    return fill("report.html", parts)


def fill(template, parts):
    """The page of templates/``template`` with each {{name}} replaced by parts[name],
    as UTF-8 can write it (a file name that is not UTF-8 shown escaped)."""
    text = resources.files("rnngen").joinpath(f"templates/{template}").read_text("utf-8")
    # one pass, so text filled in (a sample, a passage) is never scanned for markers
    return printable(re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], text))


def style():
    """The character model's report's style sheet: one look for every page."""
    template = resources.files("rnngen").joinpath("templates/report.html").read_text("utf-8")
    return re.search(r"<style>(.*?)</style>", template, re.S).group(1)


def check(path, reads=None, what="--output", flag="--output"):
    """Before any work: a ReportError or CheckpointError (one line) if the page could
    not be written to path: one of the files it is made from (reads: {name: path or
    None}, see outputs.claim; ``what`` names path, ``flag`` where it came from), or a
    folder that is missing or not writable."""
    try:
        outputs.claim(path, _inputs(reads), what, flag, kind="report")
        atomic.probe(path)
    except OSError as e:
        raise _cannot(path, e, flag) from None


def write(path, text, reads=None, what="--output", flag="--output"):
    """Write the page to path atomically (a browser reloading it never sees half a
    page), never over one of ``reads`` (as check says)."""
    path = Path(path)
    data = text.encode("utf-8")
    try:
        with outputs.claim(path, _inputs(reads), what, flag, kind="report"):
            atomic.write(path, lambda f: f.write(data))
    except OSError as e:
        raise _cannot(path, e, flag) from None


def _inputs(reads):
    return {f"file the report reads (the {name})": source
            for name, source in (reads or {}).items()}


def _cannot(path, error, flag):
    return ReportError(f"cannot write the report to {path}: {error.strerror or error}; check "
                       f"that its directory exists and is writable, or choose another {flag}")


# -- the run ------------------------------------------------------------------------

def run_table(ckpt):
    """The model, corpus and training facts as an HTML table."""
    spec, corpus = ckpt.spec, ckpt.corpus
    history = ckpt.history

    def recorded(value, show=str):
        return "not recorded" if value is None else show(value)

    rows = [
        ("model", f"{spec.describe()}: cell {spec.cell}, {spec.num_layers} layer(s) of "
                  f"{spec.hidden_size} units, {spec.param_count():,} parameters"),
        ("corpus", recorded(corpus and corpus.name)),
        ("corpus size", recorded(corpus and corpus.chars, lambda n: f"{n:,} characters")),
        ("vocabulary", f"{len(ckpt.vocab_chars)} characters: "
                       + json.dumps(ckpt.vocab_chars, ensure_ascii=False)),
        ("corpus sha256", recorded(corpus and corpus.sha256)),
        ("steps", recorded(ckpt.step, lambda n: f"{n:,}")),
        ("training time", recorded(ckpt.train_seconds, _minutes)),
    ]
    per_text = spec.task == "classify"
    if per_text:
        rows.insert(1, ("classes", f"{len(ckpt.classes)}: {', '.join(ckpt.classes)}"))
    if history:
        rows.append(("final validation loss", _loss(history[-1]["val_loss"], per_text)
                     + f" (step {history[-1]['step']:,})"))
    if ckpt.best_val is not None:
        rows.append(("best validation loss", _loss(ckpt.best_val, per_text)))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in rows)
    config = ""
    for section in ("model", "train"):
        settings = ckpt.settings(section)
        if isinstance(settings, dict):
            config += "".join(
                f"<tr><th>{section}.{html.escape(str(k))}</th>"
                f"<td>{html.escape(json.dumps(v))}</td></tr>" for k, v in settings.items())
    if config:
        config = ("<details><summary>training configuration</summary>"
                  f"<table class=\"facts\">{config}</table></details>")
    return f"<table class=\"facts\">{body}</table>{config}"


def _loss(nats, per_text=False):
    if per_text:  # a classifier's loss: nats per text
        return f"{nats:.4f} nats/text"
    return f"{nats:.4f} nats/char ({nats / math.log(2):.4f} bits/char)"


def _minutes(seconds):
    return f"{seconds / 60:.1f} minutes ({seconds:,.0f} s)"


# -- learning curves ------------------------------------------------------------------

# the top margin holds the legend, so it never covers a curve (the accuracy curve rises
# into the box's top right, where a legend inside the box used to sit)
PLOT = {"width": 460, "height": 296, "left": 60, "right": 16, "top": 32, "bottom": 44}
LEGEND_STEP = 130  # pixels from one legend entry to the next, in rows above the box
LEGEND_ROW = 18  # pixels from one legend row to the next; each row widens the top margin
SERIES = (("train_loss", "training", "#d9480f"), ("val_loss", "validation", "#1c7ed6"))


@dataclass(frozen=True)
class Line:
    """One series of a plot: a polyline with a dot per point.

    points: [(x, y, tooltip)]; a point with a non-finite x or y is left out (a
    diverged run's inf has no place on an axis). series names it in the polyline's
    data-series; attrs are more data-* attributes (values escaped here)."""

    series: str
    points: list
    colour: str
    width: float = 2
    dash: str = ""  # an SVG stroke-dasharray, e.g. "6 4"; empty: solid
    dot: float = 2.5  # the radius of each point's dot
    title: str = ""  # the whole line's tooltip
    attrs: tuple = ()  # ((name, value), ...) -> data-name="value"


@dataclass(frozen=True)
class Key:
    """One legend entry: a short line drawn as the series it names are."""

    label: str
    colour: str
    width: float = 2
    dash: str = ""


def curves(history, ylabel="loss (nats/char)"):
    """Two SVG plots of the training and validation loss: against step and minutes."""
    if not history:
        return "<p>No loss history: the checkpoint has not been validated yet.</p>"
    steps = [h["step"] for h in history]
    minutes = [h["seconds"] / 60 for h in history]
    return (curve_svg(steps, history, "step", "step", ylabel=ylabel)
            + curve_svg(minutes, history, "training minutes", "minutes", ylabel=ylabel))


def curve_svg(xs, history, xlabel, kind, series=SERIES, ylabel="loss (nats/char)"):
    """One plot of a run's history: each of ``series`` ((history key, label, colour),
    ...) a line over ``xs``."""
    lines = [Line(key, [(x, h[key], f"{label} {h[key]:.4f} at step {h['step']:,}, "
                                    f"{h['seconds'] / 60:.1f} min")
                        for x, h in zip(xs, history)], colour)
             for key, label, colour in series]
    return plot_svg(lines, [Key(label, colour) for _, label, colour in series],
                    xlabel, ylabel, kind)


def plot_svg(lines, legend, xlabel, ylabel, kind, width=PLOT["width"], height=PLOT["height"]):
    """One plot: each Line drawn in order (the last on top), the legend's Keys in rows
    above the box, never on it. The svg's data-* attributes give the axis ranges and
    plot box, so a reader (a test) can map the points back to numbers."""
    per_row = max(1, (width - PLOT["left"] - PLOT["right"]) // LEGEND_STEP)
    rows = max(1, math.ceil(len(legend) / per_row))
    p = dict(PLOT, width=width, top=PLOT["top"] + LEGEND_ROW * (rows - 1))
    p["height"] = height + p["top"] - PLOT["top"]  # the box keeps its height
    drawn = [[(x, y, tip) for x, y, tip in line.points if math.isfinite(x) and math.isfinite(y)]
             for line in lines]
    xs = [x for points in drawn for x, _, _ in points] or [1.0]
    ys = [y for points in drawn for _, y, _ in points] or [0.0]
    x0, x1 = _span(0.0, max(xs))
    y0, y1 = _span(min(ys), max(ys))
    w = p["width"] - p["left"] - p["right"]
    hgt = p["height"] - p["top"] - p["bottom"]

    def px(x):
        return p["left"] + (x - x0) / (x1 - x0) * w

    def py(y):
        return p["top"] + (y1 - y) / (y1 - y0) * hgt

    def stroke(colour, width, dash):
        return (f'stroke="{colour}" stroke-width="{width}"'
                + (f' stroke-dasharray="{dash}"' if dash else ""))

    out = [f'<svg class="curve" data-kind="{html.escape(kind)}" '
           f'viewBox="0 0 {p["width"]} {p["height"]}" '
           f'width="{p["width"]}" height="{p["height"]}" data-x0="{x0!r}" data-x1="{x1!r}" '
           f'data-y0="{y0!r}" data-y1="{y1!r}" data-box="{p["left"]} {p["top"]} {w} {hgt}" '
           f'role="img" aria-label="{html.escape(ylabel.split(" (")[0])} against '
           f'{html.escape(xlabel)}">',
           f'<rect x="{p["left"]}" y="{p["top"]}" width="{w}" height="{hgt}" class="box"/>']
    for x, label in _ticks(x0, x1):
        out.append(f'<line x1="{px(x):.2f}" x2="{px(x):.2f}" y1="{p["top"]}" '
                   f'y2="{p["top"] + hgt}" class="grid"/>'
                   f'<text x="{px(x):.2f}" y="{p["top"] + hgt + 16}" class="tick" '
                   f'text-anchor="middle">{label}</text>')
    for y, label in _ticks(y0, y1):
        out.append(f'<line x1="{p["left"]}" x2="{p["left"] + w}" y1="{py(y):.2f}" '
                   f'y2="{py(y):.2f}" class="grid"/>'
                   f'<text x="{p["left"] - 6}" y="{py(y) + 4:.2f}" class="tick" '
                   f'text-anchor="end">{label}</text>')
    out.append(f'<text x="{p["left"] + w / 2}" y="{p["height"] - 6}" class="label" '
               f'text-anchor="middle">{html.escape(xlabel)}</text>'
               f'<text transform="translate(14 {p["top"] + hgt / 2}) rotate(-90)" '
               f'class="label" text-anchor="middle">{html.escape(ylabel)}</text>')
    for line, points in zip(lines, drawn):
        if not points:
            continue
        coords = " ".join(f"{px(x):.2f},{py(y):.2f}" for x, y, _ in points)
        attrs = "".join(f' data-{name}="{html.escape(str(value))}"' for name, value in line.attrs)
        title = f"<title>{html.escape(line.title)}</title>" if line.title else ""
        out.append(f'<g><polyline class="series" data-series="{html.escape(line.series)}" '
                   f'points="{coords}"{attrs} fill="none" '
                   f'{stroke(line.colour, line.width, line.dash)}>{title}</polyline>')
        for x, y, tip in points:
            out.append(f'<circle cx="{px(x):.2f}" cy="{py(y):.2f}" r="{line.dot}" '
                       f'fill="{line.colour}"><title>{html.escape(tip)}</title></circle>')
        out.append("</g>")
    out.append('<g class="legend">')
    for i, key in enumerate(legend):  # rows above the box, never on it
        lx = p["left"] + LEGEND_STEP * (i % per_row)
        ly = p["top"] - 12 - LEGEND_ROW * (rows - 1 - i // per_row)
        out.append(f'<line x1="{lx}" x2="{lx + 18}" y1="{ly - 4}" y2="{ly - 4}" '
                   f'{stroke(key.colour, key.width, key.dash)}/>'
                   f'<text x="{lx + 24}" y="{ly}" class="tick">{html.escape(key.label)}</text>')
    out.append("</g></svg>")
    return "".join(out)


def _span(lo, hi):
    """An axis range holding [lo, hi] with a little room (never empty)."""
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    return (lo if lo == 0 else lo - pad), hi + pad


def _ticks(lo, hi, count=5):
    """[(value, label)]: round numbers (1, 2 or 5 x 10^k apart) within [lo, hi], each
    labelled with as many decimals as the step between them has (0.005 apart: 0.015)."""
    raw = (hi - lo) / count
    power = math.floor(math.log10(raw))
    step = 10 ** power * next(m for m in (1, 2, 5, 10) if m * 10 ** power >= raw)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    first = math.ceil(lo / step) * step
    values = [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]
    return [(v, f"{v + 0.0:,.{decimals}f}") for v in values]


# -- samples --------------------------------------------------------------------------

def samples(ckpt):
    """Samples at SAMPLE_TEMPERATURES, each from the same fixed seed, primed with a
    newline (a new line, or speech) when the vocabulary has one."""
    prime = "\n" if "\n" in ckpt.vocab_chars else None
    model, out = decoding.Model.from_checkpoint(ckpt), []
    for temperature in SAMPLE_TEMPERATURES:
        settings = decoding.Decoding(SAMPLE_CHARS, temperature, random_seed=SAMPLE_SEED)
        text = "".join(decoding.stream(model, prime, settings, one_thread=False))
        out.append(f"<figure class=\"sample\"><figcaption>temperature {temperature}"
                   f"</figcaption><pre>{html.escape(text.strip(chr(10)))}</pre></figure>")
    return (f"<p class=\"note\">{SAMPLE_CHARS} characters each, random seed {SAMPLE_SEED}, from the hidden "
            "state training ended with (<code>rnngen sample --seed $'\\n' --n "
            f"{SAMPLE_CHARS} --temperature T --random-seed {SAMPLE_SEED}</code>).</p>"
            + "<div class=\"samples\">" + "".join(out) + "</div>")


# -- the passage's numbers ---------------------------------------------------------------

def quantise(acts):
    """acts (T, L, H) -> (int8 (L, H, T), scale (L, H)): each unit's values over the
    passage as round(127 a / max|a|), so one unit's T values lie side by side and a
    value is q * scale / 127, within scale / 254. A quarter of float32's size."""
    scale = np.abs(acts).max(axis=0)  # (L, H)
    safe = np.where(scale > 0, scale, 1.0)
    q = np.rint(acts / safe * 127).astype(np.int8)
    return np.ascontiguousarray(q.transpose(1, 2, 0)), scale


def page_data(ckpt, look, unit):
    q, scale = quantise(look.acts)
    loss = [None if math.isnan(x) else round(float(x), 3) for x in look.loss]
    return {
        "vocab": ckpt.vocab_chars,
        "layers": look.num_layers,
        "hidden": look.hidden_size,
        "length": len(look.text),
        "acts": base64.b64encode(q.tobytes()).decode("ascii"),
        "scale": [round(float(s), 6) for s in scale.reshape(-1)],
        "top_ids": look.top_ids.tolist(),
        "top_probs": np.round(look.top_probs, 4).tolist(),
        "loss": loss,
        "uniform_loss": math.log(len(ckpt.vocab_chars)),
        "ranked": [_ranked(r) for r in look.ranked],
        "by_feature": [_ranked(r) for _, r in look.best_by_feature],
        "features": inside.FEATURES,
        "unit": list(unit),
    }


def _ranked(r):
    return {"layer": r.layer, "unit": r.unit, "feature": r.feature, "r": round(r.r, 3)}


def script_json(data):
    """JSON safe inside a <script> element: no raw '<' (so no '</script>' or '<!--'),
    '>' or '&', and non-ASCII (U+2028 included) as escapes."""
    text = jsonout.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# -- the terminal view ----------------------------------------------------------------

def shade(v):
    """A value in [-1, 1] -> (r, g, b) on a diverging scale: blue, white at 0, red.
    The page's script has the same scale (templates/report.html, shade)."""
    v = max(-1.0, min(1.0, float(v)))
    end = (214, 96, 77) if v > 0 else (67, 147, 195)  # light enough for black text
    return tuple(round(255 + (e - 255) * abs(v)) for e in end)


def terminal_view(look, unit, colour):
    """The passage shaded by one unit's activation: ANSI 24-bit background colours when
    colour is True, else the plain passage. Returns (text, a one-line legend)."""
    layer, index = look.shown_unit(unit)
    a = look.acts[:, layer, index]
    top = float(np.abs(a).max()) or 1.0
    ranked = next((r for r in look.ranked if (r.layer, r.unit) == (layer, index)), None)
    tracks = f", tracks {ranked.feature} (r = {ranked.r:+.2f})" if ranked else ""
    legend = (f"layer {layer} unit {index}{tracks}; blue -{top:.2f} .. white 0 .. red "
              f"+{top:.2f}")
    if not colour:
        return look.text, legend
    out = []
    for c, v in zip(look.text, a / top):
        if c == "\n":  # end the colour before the line break, or it fills the line
            out.append("\x1b[0m\n")
            continue
        r, g, b = shade(v)
        out.append(f"\x1b[48;2;{r};{g};{b}m\x1b[38;2;0;0;0m{c}")
    out.append("\x1b[0m")
    return "".join(out), legend
