"""rnngen train: a run as a config describes, through run.prepare."""
import os
import shlex
import signal
import sys

import click

from .. import config, console, device
from ..console import say
from ..errors import OptionError
from ..resources import DEFAULT_CONFIG
from .options import note, threads_option


def _no_seed_in_train(ctx, param, value):
    if value is not None:
        raise click.UsageError("train has no --seed (in sample, --seed is priming text); "
                               "use --random-seed N for the random seed", ctx)


def _no_checkpoint_in_train(ctx, param, value):
    if value is not None:
        raise click.UsageError("train writes its checkpoint to --output; to continue a run "
                               "from a checkpoint, use --resume CHECKPOINT", ctx)


@click.command()
@click.option("--config", "config_name", default=DEFAULT_CONFIG, show_default=True,
              help="A YAML config file, or the name of a shipped config ('rnngen configs' "
                   "lists them); a file that exists wins.")
@click.option("--steps", type=click.IntRange(min=1), help="Override train.steps.")
@click.option("--output", help="Override train.output (the checkpoint path). "
                                "Default: runs/<config name>.npz.")
@click.option("--random-seed", "seed", type=click.IntRange(min=0),
              help="Override train.seed (initialisation, dropout, data offsets).")
@click.option("--seed", "train_seed", hidden=True, expose_value=False,
              callback=_no_seed_in_train)
@click.option("--checkpoint", "train_checkpoint", hidden=True, expose_value=False,
              callback=_no_checkpoint_in_train)
@click.option("--corpus", "corpus_name", help="Override data.corpus (a file or a named corpus).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set model.hidden_size=256. Repeatable.")
@click.option("--resume", is_flag=False, flag_value="", default=None, metavar="[CHECKPOINT]",
              help="Continue from a checkpoint (default: the config's output).")
@click.option("--init-from", "init_from", metavar="CHECKPOINT",
              help="Fine-tune: a new run (step 0, a fresh optimizer) whose weights start "
                   "from this checkpoint's; its model must be the config's.")
@click.option("--overwrite", is_flag=True,
              help="Start afresh even where the output holds another run's checkpoints "
                   "(replaced as this run writes its own).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; messages only.")
@click.option("--device", "device_name", type=click.Choice(device.DEVICES),
              help="Override train.device: cpu, or cuda (a GPU, through CuPy).")
@click.option("--report", "with_report", is_flag=True,
              help="Also write the HTML report beside the checkpoint (NAME.html) at every "
                   "validation.")
@threads_option("all of the BLAS's threads")
def train(config_name, steps, output, seed, corpus_name, assignments, resume, init_from,
          overwrite, quiet, threads, device_name, with_report):
    """Train a model as a YAML config describes, writing an .npz checkpoint.

    The progress shows the step, the training loss, the last validation loss, bpc (bits per
    character: the loss in nats/char divided by ln 2; lower is better), characters per second
    and the time left. Without a terminal (a log file), a plain line is printed now and then.
    """
    from .. import run  # keeps `sample` and `eval` start-up fast

    overrides = [config.parse_assignment(a) for a in assignments]
    for key, value in (("train.steps", steps), ("train.output", output),
                       ("train.seed", seed), ("data.corpus", corpus_name),
                       ("train.device", device_name)):
        if value is not None:
            overrides.append((key, value))
    origins = {"train.output": "--output" if output else "--output or train.output",
               "data.corpus": "--corpus" if corpus_name else "data.corpus in the config"}
    try:
        run.check_start(resume, init_from)
    except OptionError as e:  # a usage error: the flags clash
        raise click.UsageError(e.naming({"init_from": "--init-from", "resume": "--resume"}))
    with run.prepare(config_name, overrides, resume=True if resume == "" else resume,
                     threads=threads, origins=origins, notify=note, overwrite=overwrite,
                     init_from=init_from) as r:
        trainer, t = r.trainer, r.cfg.train
        use = _use_command(trainer.spec, t.output)
        # said once the run is sure to start, so an error before it stays one line
        say(f"rnngen: checkpoints go to {t.output} (the best by validation: {r.best_output})")
        say(f"rnngen: {use.split()[1]} with it: {use}")
        n_params = sum(p.size for p in trainer.params.values())
        first, *more = trainer.task.summary()
        say(f"rnngen: {first}; {trainer.spec.describe()}, {n_params:,} parameters")
        for line in more:
            say(f"rnngen:   {line}")
        if trainer.step:
            last_val = (f"; last val {console.validation(trainer.history[-1])}"
                        if trainer.history else "")
            say(f"rnngen: resuming at step {trainer.step} of {t.steps}{last_val}")
        with r.stop_on_signals():
            console.show_training(r, quiet, with_report)
    if r.stop_reason and not r.finished:
        again = _resume_command(config_name, steps, seed, corpus_name, assignments,
                                t.output, quiet)
        say(f"rnngen: stopped by {signal.Signals(r.stop_reason).name} at step {trainer.step}; "
            f"checkpoint written to {t.output}. Resume with: {again}")
        sys.exit(128 + r.stop_reason)
    if trainer.early_stop:
        say(f"rnngen: stopped early at step {trainer.step}: {trainer.early_stop}")
    if trainer.history:
        last = trainer.history[-1]
        # name only the checkpoints there are: a resumed run that never beat the best it
        # inherited wrote no NAME.best.npz
        written = " and ".join(str(p) for p in (t.output, r.best_output) if os.path.exists(p))
        say(f"rnngen: done at step {trainer.step}: val {console.validation(last)}; "
            f"best {trainer.best_val:.4f}; checkpoint{'s' if ' and ' in written else ''} "
            f"{written}; {use.split()[1]} with: {use}")


def _use_command(spec, output):
    """The command that uses a trained model: sample from it, or classify with it."""
    verb = "classify" if spec.task == "classify" else "sample"
    return f"rnngen {verb} --checkpoint {shlex.quote(str(output))}"


def _resume_command(config_name, steps, seed, corpus_name, assignments, output, quiet):
    """The train command that continues this run: its flags, then --resume."""
    args = ["rnngen", "train", "--config", config_name]
    for flag, value in (("--steps", steps), ("--random-seed", seed), ("--corpus", corpus_name)):
        if value is not None:
            args += [flag, str(value)]
    for a in assignments:
        args += ["--set", a]
    args += ["--output", output, "--resume", output] + (["-q"] if quiet else [])
    return shlex.join(args)
