"""rnngen sweep: an Optuna study over a config's sweep: section (rnngen.sweep)."""
import shlex
import sys

import click

from .. import resources
from ..console import say


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
def sweep(config_name, trials, storage, study_name, workers, show):
    """Search the keys a config's sweep: section names, one training run per trial.

    Bad trials stop early at their validation points. The last line on stdout is the
    path of the best config, which `rnngen train --config` takes as it is.
    """
    from .. import sweep as sweeping

    plan = sweeping.plan(resources.find_config(config_name), storage, study_name)
    if show:
        click.echo(sweeping.show(plan))
        return
    result = sweeping.run(plan, trials, workers,
                          report=lambda o: say(f"rnngen: {o.line(plan.sweep.objective)}"),
                          notify=lambda message: say(f"rnngen: {message}"))
    click.echo(result.table)
    if result.interrupted:
        say("rnngen: sweep interrupted; the running trial's checkpoint is kept and the "
            f"same command resumes it: rnngen sweep --config {shlex.quote(config_name)}")
    if result.best is not None:
        click.echo(result.best)
    else:
        say("rnngen: no trial has finished yet, so no best config was written")
    if result.interrupted:
        sys.exit(130)
