"""The sweep's page: one self-contained HTML file with every trial's validation curve
(its objective at each validation point, as the trial reported it to Optuna), drawn by
state with the best trial on top, and the tables `rnngen sweep --show` prints.

The curves are report.plot_svg's, the look report.html's: one plotter, one style.
"""
import html
from collections import Counter
from pathlib import Path

from .. import __version__, corpus, report
from ..errors import ReportError
from . import study as studies
from . import tables
from .trial import output_path, short

FLAG = "--report"  # the option that names the page's path, for messages
WIDTH, HEIGHT = 760, 360  # the plot: wider than a run's, for many trials
# how each state's trials are drawn, and the legend's order; a state with no curve
# (waiting) is not drawn
STATES = {
    "COMPLETE": report.Key("complete", "#1c7ed6"),
    "PRUNED": report.Key("pruned", "#f08c00", dash="6 4"),
    "FAIL": report.Key("failed", "#e03131", dash="2 3"),
    "RUNNING": report.Key("running", "#868e96", dash="10 3 2 3"),
}
BEST_COLOUR, BEST_WIDTH = "#2b8a3e", 3.5
# a trial pruned at its first validation is a dot alone, so its dots are larger
DOTS = {"PRUNED": 3.5}


class Looked:
    """A study as it stands, read once: the text --show prints, the page, its writing."""

    def __init__(self, plan, study):
        self.plan, self.study = plan, study
        self.trials = study.get_trials(deepcopy=False)
        self.trials_table = tables.trials_table(study, plan)
        self.importances = tables.importances_table(study)

    def text(self):
        """The trials, best first, and the parameter importances (``--show``)."""
        return self.trials_table + "\n\n" + self.importances

    def page(self):
        """The whole page as a string; a ReportError for a study with no trials."""
        if not self.trials:
            raise ReportError(f"the study {self.plan.sweep.study!r} in {self.plan.shown_storage} "
                              "has no trials yet, so there is nothing to show; run rnngen "
                              f"sweep --config {self.plan.config_path} first")
        plan, sweep = self.plan, self.plan.sweep
        counts = Counter(tables.state_name(t).split(" (")[0] for t in self.trials)
        about = (f"The study {sweep.study!r} in {plan.shown_storage}, from the config "
                 f"{plan.config_path}: {len(self.trials)} trials ("
                 + ", ".join(f"{n} {state}" for state, n in counts.items()) + "); objective "
                 f"{sweep.objective}, to {sweep.direction}.")
        parts = {
            "title": html.escape(f"rnngen sweep: {sweep.study}"),
            "version": html.escape(__version__),
            "style": report.style(),
            "about": html.escape(about),
            "curves": self.curves(),
            "trials": html.escape(self.trials_table),
            "importances": html.escape(self.importances),
        }
        return report.fill("sweep.html", parts)

    def curves(self):
        """The plot (SVG) of every trial's curve, and a note naming those not drawn."""
        sweep = self.plan.sweep
        best = studies.best_trial(self.study)
        best_number = None if best is None else best.number
        lines, best_line, seen = [], None, set()
        for t in sorted(self.trials, key=lambda t: t.number):
            if not t.intermediate_values or t.state.name not in STATES:
                continue
            line = self._line(t, sweep.objective, t.number == best_number)
            if t.number == best_number:
                best_line = line  # drawn last, on top of the rest
            else:
                lines.append(line)
                seen.add(t.state.name)
        drawn = lines + [best_line] * (best_line is not None)
        numbers = {dict(line.attrs)["trial"] for line in drawn}
        undrawn = sorted(t.number for t in self.trials if t.number not in numbers)
        note = ("" if not undrawn else
                f'<p class="note">Not drawn (no validation point yet): trial '
                f'{", ".join(map(str, undrawn))}.</p>')
        if not drawn:
            return note
        legend = [STATES[s] for s in STATES if s in seen]
        if best_line is not None:
            legend.append(report.Key(f"best: trial {best_number}", BEST_COLOUR, BEST_WIDTH))
        better = "higher" if sweep.maximize else "lower"
        svg = report.plot_svg(drawn, legend, "step", f"{sweep.objective} ({better} is better)",
                              "trials", WIDTH, HEIGHT)
        return svg + note

    def _line(self, t, objective, best):
        state = tables.state_name(t)
        values = ", ".join(f"{k}={short(v)}" for k, v in t.params.items())
        points = [(step, value, f"trial {t.number} ({state}): {objective} {value:.4f} at "
                                f"step {step:,}")
                  for step, value in sorted(t.intermediate_values.items())]
        key = STATES[t.state.name]
        drawn = {"colour": key.colour, "width": key.width, "dash": key.dash,
                 "dot": DOTS.get(t.state.name, 2)}
        attrs = (("trial", t.number), ("state", key.label))
        if best:
            drawn = {"colour": BEST_COLOUR, "width": BEST_WIDTH, "dash": "", "dot": 3}
            attrs += (("best", "true"),)
        return report.Line(f"trial-{t.number}", points, title=f"trial {t.number}, {state}: "
                                                              f"{values}", attrs=attrs, **drawn)

    def reads(self):
        """The files the sweep reads or made, which the page may not replace."""
        return dict(reads(self.plan), **{
            f"checkpoint of trial {t.number}":
                t.user_attrs.get("output", output_path(self.plan.folder, t.number))
            for t in self.trials})

    def write(self, path):
        """Write the page to ``path`` (atomically, never over what the sweep reads or
        made); a ReportError for a study with no trials, before anything is written."""
        text = self.page()
        _make_folder(self.plan, path)
        report.write(path, text, self.reads(), what=FLAG, flag=FLAG)


def reads(plan):
    """The files any sweep of the plan reads or makes, before its study is looked at."""
    storage = None if studies.is_url(plan.storage) else plan.storage
    return {"config file": plan.config_path, "corpus": corpus.resolve(plan.cfg.data.corpus,
                                                                      fetch=False),
            "storage": storage, "best config": plan.best_path,
            "best config's checkpoint": plan.best_path.with_suffix(".npz")}


def check(plan, path):
    """Before a sweep runs: a one-line error if the page could not be written to
    ``path`` (a file the sweep reads or makes, a folder missing or not writable)."""
    _make_folder(plan, path)
    report.check(path, reads(plan), FLAG, FLAG)


def _make_folder(plan, path):
    """The sweep folder, for the page's default place in it (a sweep whose study is
    in a database may not have made it yet); any other folder must exist."""
    if Path(path) == plan.report_path:
        plan.folder.mkdir(parents=True, exist_ok=True)
