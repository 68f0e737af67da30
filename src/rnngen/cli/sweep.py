"""rnngen sweep: an Optuna study over a config's sweep: section (rnngen.sweep)."""
import shlex
import sys

import click

from .. import resources
from ..console import say
from .options import note, wrote

HOLDS = "every trial's validation curve, and the tables"  # what the page holds


@click.command()
@click.option("--config", "config_name", required=True,
              help="A YAML config with a sweep: section (a file, or a shipped config's name).")
@click.option("--trials", type=click.IntRange(min=1),
              help="Trials this command runs. Default: until the study holds sweep.trials.")
@click.option("--storage", metavar="PATH|URL",
              help="The study's storage: a journal file, or a database URL shared by workers "
                   "on several machines. Default: study.journal in the sweep folder.")
@click.option("--study", "study_name", help="The study's name. Default: the config's name.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trials run at once on this machine, each on its share of the cores.")
@click.option("--show", is_flag=True, help="Print the trials so far, best first, and which "
                                           "settings mattered; run nothing.")
@click.option("--report", "report_path", is_flag=False, flag_value="", default=None,
              metavar="[PATH]",
              help="Also write the HTML page of every trial's validation curve and the "
                   "tables: with --show, now; else after each trial. Default PATH: "
                   "report.html in the sweep folder.")
def sweep(config_name, trials, storage, study_name, workers, show, report_path):
    """Search the keys a config's sweep: section names, one training run per trial.

    Bad trials stop early at their validation points. The last line on stdout is the
    path of the best config, which `rnngen train --config` takes as it is.
    """
    from .. import sweep as sweeping

    if report_path == "-":
        raise click.UsageError("--report writes a file (stdout holds the tables); "
                               "give it a path")
    plan = sweeping.plan(resources.find_config(config_name), storage, study_name)
    page = report_path or (plan.report_path if report_path is not None else None)
    if show:
        looked = sweeping.look(plan)
        if page:
            looked.write(page)
        click.echo(looked.text())
        if page:
            wrote(page, holds=HOLDS)
        return
    if page:
        sweeping.check_report(plan, page)  # before any trial runs

    def outcome(o):
        say(f"rnngen: {o.line(plan.sweep.objective)}")
        if page:
            note(sweeping.report_or_warning(plan, page))

    result = sweeping.run(plan, trials, workers, report=outcome,
                          notify=lambda message: say(f"rnngen: {message}"))
    # once more at the end: a study that was already full ran no trial
    warning = sweeping.report_or_warning(plan, page) if page else None
    click.echo(result.table)
    if result.interrupted:
        say("rnngen: sweep interrupted; the running trial's checkpoint is kept and the "
            f"same command resumes it: rnngen sweep --config {shlex.quote(config_name)}")
    if warning:
        note(warning)
    elif page:
        wrote(page, holds=HOLDS)
    if result.best is not None:
        click.echo(result.best)
    else:
        say("rnngen: no trial has finished yet, so no best config was written")
    if result.interrupted:
        sys.exit(130)
