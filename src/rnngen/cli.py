"""The command line: parse, call the library, print. Data to stdout, the rest to stderr.

Library errors (RnngenError) become a one-line message and exit 1; bad flags are
click usage errors, exit 2; an interrupted training run exits 128 + the signal.
"""
import math
import os
import shlex
import signal
import sys
from pathlib import Path
from dataclasses import fields

import click
import numpy as np
from click.core import ParameterSource

from . import (__version__, atomic, checkpoint, config, console, decoding, device, jsonout,
               resources, sizing)
from .console import (data_out, end_terminal_line, fill_closed_std_fds, print_data, say,
                      show_training, stdout_failed, write_samples, write_stream)
from .errors import OptionError, RnngenError, VocabularyError
from .resources import DEFAULT_CONFIG
from .threads import use as use_threads

SHIPPED_MODEL_HELP = "the shipped model"  # resources.shipped_model()


# what to lower when a command runs out of memory, in the options it has
MEMORY_KNOBS = {"train": "model.hidden_size, train.batch_size or train.seq_length",
                "sample": "--n, --num-samples or --beam", "eval": "the text's length",
                "report": "the text's length (--corpus)"}


class Group(click.Group):
    """Turns the library's errors into one-line click errors (exit 1, no traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RnngenError as e:
            raise click.ClickException(str(e)) from None
        except atomic.Interrupted as e:  # a write stopped by a signal; nothing is left
            say(f"rnngen: stopped by {signal.Signals(e.signum).name}; nothing was written")
            sys.exit(128 + e.signum)
        except KeyboardInterrupt:  # outside training's own handler: stop quietly
            end_terminal_line()  # after text sampled to a terminal, on a line of its own
            click.echo("rnngen: interrupted", err=True)
            sys.exit(130)
        except MemoryError:  # name only what this command can be given
            lower = MEMORY_KNOBS.get(ctx.invoked_subcommand, "the sizes asked for")
            raise click.ClickException(f"out of memory; lower {lower}, or use a machine "
                                       "with more memory") from None

    def format_commands(self, ctx, formatter):
        # click cuts each summary to fit one line; ours are short enough to show whole
        rows = [(name, cmd.get_short_help_str(limit=1000))
                for name, cmd in ((n, self.get_command(ctx, n)) for n in self.list_commands(ctx))
                if cmd is not None and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=Group, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnngen")
@click.pass_context
def main(ctx):
    """Character-level recurrent language models in NumPy: train, sample, eval.

    Start with `rnngen sample --seed "ROMEO:" --n 500 --temperature 0.7` (the shipped model)
    or `rnngen train --config shakespeare.yaml` (`rnngen configs` lists the shipped configs).
    """
    fill_closed_std_fds()
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def checkpoint_option(purpose, name="ckpt_path"):
    """--checkpoint, defaulting to the shipped model (resolved by _checkpoint_or_shipped);
    every command that reads a checkpoint has it."""
    return click.option("--checkpoint", name, default=None,
                        show_default=SHIPPED_MODEL_HELP, help=f"Checkpoint to {purpose}.")


def corpus_text_option(help_text):
    """--corpus for commands that read a text to look at: a path, or '-' for stdin."""
    return click.option("--corpus", "corpus_arg", default=None, metavar="PATH|-",
                        help=help_text)


def device_option():
    return click.option("--device", "device_name", type=click.Choice(device.DEVICES),
                        default="cpu", show_default=True,
                        help="Compute on the CPU or a GPU (cuda, through CuPy).")


def threads_option(default_help):
    return click.option(
        "--threads", type=click.IntRange(min=1), envvar="RNNGEN_THREADS", default=None,
        help=f"BLAS threads to use (or set RNNGEN_THREADS). Default: {default_help}.")


def note(message):
    """A library's note (None: nothing to say) as an rnngen: line on stderr."""
    if message:
        say(f"rnngen: {message}")


def _stdin_is_terminal():
    return sys.stdin.isatty()


def _shipped_model_note():
    """The line sample says when it falls back to the shipped model: which model, and
    how to sample from the newest run in ./runs when there is one."""
    runs = [p for p in Path(resources.RUNS_DIR).glob("*.npz")
            if not p.name.endswith(".best.npz") and p.is_file()]
    if not runs:
        return ("rnngen: sampling from the shipped model (tinyshakespeare); --checkpoint PATH "
                "samples another")
    newest = max(runs, key=lambda p: p.stat().st_mtime)
    return (f"rnngen: sampling from the shipped model, not your run {newest}; to sample "
            f"from that: rnngen sample --checkpoint {shlex.quote(str(newest))}")


def _checkpoint_or_shipped(path):
    return path if path is not None else resources.shipped_model()


# -- train --------------------------------------------------------------------

def _no_seed_in_train(ctx, param, value):
    if value is not None:
        raise click.UsageError("train has no --seed (in sample, --seed is priming text); "
                               "use --random-seed N for the random seed", ctx)


def _no_checkpoint_in_train(ctx, param, value):
    if value is not None:
        raise click.UsageError("train writes its checkpoint to --output; to continue a run "
                               "from a checkpoint, use --resume CHECKPOINT", ctx)


@main.command()
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
def train(config_name, steps, output, seed, corpus_name, assignments, resume, overwrite, quiet,
          threads, device_name, with_report):
    """Train a model as a YAML config describes, writing an .npz checkpoint.

    The progress shows the step, the training loss, the last validation loss, bpc (bits per
    character: the loss in nats/char divided by ln 2; lower is better), characters per second
    and the time left. Without a terminal (a log file), a plain line is printed now and then.
    """
    from . import run  # keeps `sample` and `eval` start-up fast

    overrides = [config.parse_assignment(a) for a in assignments]
    for key, value in (("train.steps", steps), ("train.output", output),
                       ("train.seed", seed), ("data.corpus", corpus_name),
                       ("train.device", device_name)):
        if value is not None:
            overrides.append((key, value))
    origins = {"train.output": "--output" if output else "--output or train.output",
               "data.corpus": "--corpus" if corpus_name else "data.corpus in the config"}
    with run.prepare(config_name, overrides, resume=True if resume == "" else resume,
                     threads=threads, origins=origins, notify=note, overwrite=overwrite) as r:
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
            show_training(r, quiet, with_report)
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


# -- sample -------------------------------------------------------------------

def _finite_float(ctx, param, value):
    """Click's FloatRange lets nan through (every comparison with it is false), and inf
    where there is no upper bound: both are usage errors, like any other bad value."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value}")
    return value


# decoding.Decoding's options, as sample's flags: top_k is --top-k
SAMPLE_FLAGS = {f.name: "--" + f.name.replace("_", "-") for f in fields(decoding.Decoding)}


@main.command()
@checkpoint_option("sample from")
@click.option("--seed", "seed_text", default=None, metavar="TEXT",
              help="Priming text, printed first ('-' reads it from stdin). "
                   "Default: start as after a line break (not printed).")
@click.option("--n", "n", type=click.IntRange(min=0), default=500, show_default=True,
              help="Characters to generate after the seed.")
@click.option("--temperature", type=click.FloatRange(min=0), default=1.0, show_default=True,
              callback=_finite_float, help="Softmax temperature; 0 picks the likeliest.")
@click.option("--top-k", type=click.IntRange(min=1), default=None,
              help="Sample only among the k likeliest characters.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=None,
              callback=_finite_float,
              help="Sample only among the likeliest characters whose total reaches p.")
@click.option("--random-seed", type=click.IntRange(min=0), default=None,
              help="Seed for the sampler's randomness: the same seed gives the same text.")
@click.option("--fresh-state", is_flag=True,
              help="Start from a zero hidden state, not the one training ended with.")
@device_option()
@threads_option("1 (one stream's products are too small to share)")
@click.option("--num-samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Samples to draw, as one batch; sample i uses random seed + i. "
                   "With --beam: how many of the best beams to print.")
@click.option("--beam", type=click.IntRange(min=1), default=None, metavar="K",
              help="Beam search with K beams: the most probable text, deterministic.")
@click.option("--length-norm", is_flag=True,
              help="With --beam and --stop: rank beams by log-probability per character.")
@click.option("--no-repeat-ngram", type=click.IntRange(min=1), default=None, metavar="N",
              help="With --beam: never repeat a sequence of N characters (stops loops).")
@click.option("--stop", default=None, metavar="TEXT",
              help="End a sample where it first produces TEXT (included); --n still bounds it.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per sample: text, log-probabilities, seed, settings.")
@click.option("-0", "--null", "null", is_flag=True,
              help="End each sample with a NUL character (no newline, no %% line).")
@click.pass_context
def sample(ctx, ckpt_path, seed_text, threads, device_name, as_json, null, **options):
    """Generate text: the seed, then N sampled characters, streamed to stdout.

    A final newline is added only when stdout is a terminal, so pipes get the text as
    made. Several samples (--num-samples, or the best beams) are separated by a line
    holding only %%, or each ends with NUL with -0.
    """
    if ctx.get_parameter_source("temperature") == ParameterSource.DEFAULT:
        options["temperature"] = None  # not given: beam search may do without it
    try:
        dec = decoding.Decoding(**options)
    except OptionError as e:
        raise click.UsageError(e.naming(SAMPLE_FLAGS)) from None
    if as_json and null:
        raise click.UsageError("--json writes one object per line; -0 is for plain text, "
                               "so use one of them")
    if seed_text == "-":
        if _stdin_is_terminal():
            say("rnngen: reading the seed text from stdin; end it with Ctrl-D")
        seed_text = sys.stdin.read()
    where = device.select(device_name)
    if ckpt_path is None:
        say(_shipped_model_note())
    ckpt_path = _checkpoint_or_shipped(ckpt_path)
    model = decoding.Model.load(ckpt_path, where)
    out = data_out(model.vocab.chars)
    note(use_threads(threads))
    whole = as_json or null or dec.num_samples > 1 or dec.beam or dec.stop is not None
    if whole:  # whole samples are held until written: bounded before any is made
        try:
            sizing.check_sampling(dec, model.spec)
        except OptionError as e:
            raise click.UsageError(e.naming(SAMPLE_FLAGS)) from None
    try:
        if whole:
            write_samples(out, decoding.samples(model, seed_text, dec, scores=as_json),
                          dec.settings(ckpt_path), as_json, null)
        else:
            write_stream(out, decoding.stream(model, seed_text, dec, one_thread=threads is None))
    except OSError as e:
        stdout_failed(e)


# -- export -------------------------------------------------------------------

@main.command()
@checkpoint_option("export")
@click.option("--output", required=True, help="Where to write the weights-only copy.")
def export(ckpt_path, output):
    """Write a weights-only copy of a checkpoint (no optimizer state), for sharing."""
    from . import outputs

    ckpt_path = _checkpoint_or_shipped(ckpt_path)
    outputs.export(ckpt_path, output)
    say(f"rnngen: wrote {output} ({os.path.getsize(output) / 2**20:.1f} MiB, "
        f"from {os.path.getsize(ckpt_path) / 2**20:.1f} MiB)")


# -- report -------------------------------------------------------------------

def _layer_unit(ctx, param, value):
    if value is None:
        return None
    parts = value.split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise click.BadParameter(f"expected LAYER:UNIT as two whole numbers, e.g. 0:5; "
                                 f"got {value!r}")
    return int(parts[0]), int(parts[1])


@main.command(name="report")
@checkpoint_option("report on")
@corpus_text_option("Text to look inside ('-' for stdin; its first 2,000 characters). "
                    "Default: the start of the validation split of the checkpoint's corpus.")
@click.option("--output", default="report.html", show_default=True,
              help="Where to write the page ('-' for stdout).")
@click.option("--unit", callback=_layer_unit, metavar="LAYER:UNIT",
              help="The unit shown first, counted from 0. Default: the one that tracks a "
                   "feature of the text best.")
@click.option("--terminal", is_flag=True,
              help="Print the passage shaded by the unit instead of writing the page "
                   "(colours on a terminal, plain text otherwise). A classifier: print "
                   "its readings.")
@click.option("--text", "read_texts", multiple=True, metavar="TEXT",
              help="A classifier: a text to read character by character, showing each "
                   "class's probability after each character. Repeatable. Default: its "
                   "most confident mistakes.")
def report_(ckpt_path, corpus_arg, output, unit, terminal, read_texts):
    """Write one self-contained HTML page: the run, learning curves, samples, and what
    the network's units do over a passage. For a classifier (--corpus: labelled data):
    the run, learning curves, the confusion matrix, the most confident mistakes, and
    how each class's probability moves as it reads a text."""
    from . import report

    ckpt_path = _checkpoint_or_shipped(ckpt_path)
    if checkpoint.load(ckpt_path).spec.task == "classify":
        if unit is not None:
            raise click.UsageError("--unit is for character models; a classifier's report "
                                   "reads texts (--text)")
        return _report_classifier(ckpt_path, corpus_arg, output, terminal, read_texts)
    if read_texts:
        raise click.UsageError("--text is for a classifier; for a character model, pass "
                               "the passage with --corpus")
    looked = report.look(ckpt_path, corpus_arg)
    if terminal:
        out = data_out()  # open, before any work
        shown, legend = looked.terminal(unit, colour=out.isatty())
        print_data(shown)
        say(f"rnngen: {legend}")
    elif output == "-":
        print_data(looked.page(unit), end="")
    else:
        layer, index = looked.write(output, unit)
        say(f"rnngen: wrote {output} ({os.path.getsize(output) / 2**20:.1f} MiB): "
            f"{looked.inside.source}, unit {layer}:{index} shown first")


def _report_classifier(ckpt_path, corpus_arg, output, terminal, read_texts):
    from . import classifier_report

    looked = classifier_report.look(ckpt_path, corpus_arg, read_texts)
    if terminal:
        shown, legend = looked.terminal(colour=sys.stdout.isatty())
        click.echo(shown)
        say(f"rnngen: {legend}")
    elif output == "-":
        click.echo(looked.page(), nl=False)
    else:
        looked.write(output)
        say(f"rnngen: wrote {output} ({os.path.getsize(output) / 2**20:.1f} MiB): "
            f"{looked.source}, accuracy {looked.summary['accuracy']:.4f}")


# -- eval ---------------------------------------------------------------------

@main.command(name="eval")
@checkpoint_option("evaluate")
@corpus_text_option("Text to score ('-' for stdin); labelled data for a classifier. "
                    "Default: the validation split of the corpus the checkpoint was "
                    "trained on.")
@click.option("--skip-unknown", is_flag=True,
              help="Drop characters the model never saw, then score the rest, as if they were "
                   "not in the text (neither predicted nor context); reports how many.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@device_option()
@threads_option("all of the BLAS's threads")
def eval_(ckpt_path, corpus_arg, skip_unknown, as_json, threads, device_name):
    """Measure how well a checkpoint predicts text: nats/char, bits/char, perplexity.

    bits/char is nats/char divided by ln 2; perplexity is e to the nats/char. For a
    classifier: accuracy, macro-F1, each class's precision and recall, and the
    confusion matrix.
    """
    from . import evaluation

    out = data_out()
    ckpt_path = _checkpoint_or_shipped(ckpt_path)
    where = device.select(device_name)
    ckpt = checkpoint.load(ckpt_path)
    note(use_threads(threads))
    if ckpt.spec.task == "classify":
        if skip_unknown:
            raise click.UsageError("--skip-unknown is for character models; a classifier "
                                   "reads a character it never saw as its unknown symbol")
        return _eval_classifier(out, ckpt, ckpt_path, corpus_arg, as_json, where)
    try:
        scored = evaluation.score_source(ckpt, corpus_arg, skip_unknown, where)
    except VocabularyError as e:  # the way on this command has
        raise VocabularyError(f"{e}, or pass --skip-unknown to score the text without "
                              "them") from None
    extra = {"skipped": scored.skipped} if skip_unknown else {}
    if as_json:  # a number that is not finite is null (jsonout)
        text = jsonout.dumps(dict(scored.as_dict(), checkpoint=str(ckpt_path),
                                  text=scored.source, **extra))
    else:
        s = scored.score
        text = (f"nats/char   {s.nats:.4f}\nbits/char   {s.bits:.4f}\n"
                f"perplexity  {s.perplexity:.4f}\nchars       {s.chars}"
                + (f"\nskipped     {scored.skipped}" if skip_unknown else ""))
    try:
        out.write(text + "\n")
        out.flush()
    except OSError as e:
        stdout_failed(e)


def _eval_classifier(out, ckpt, ckpt_path, corpus_arg, as_json, where):
    from . import classification, metrics

    summary, source = classification.evaluate_source(ckpt, corpus_arg, where, path=ckpt_path)
    if as_json:
        text = jsonout.dumps(dict(summary, checkpoint=str(ckpt_path), text=source))
    else:
        text = "\n".join([f"{source}", *metrics.format_summary(summary), "",
                          f"loss {summary['nats_per_text']:.4f} nats/text; "
                          f"{summary['unknown_chars']:,} characters the model never saw"])
    try:
        out.write(text + "\n")
        out.flush()
    except OSError as e:
        stdout_failed(e)


# -- classify -------------------------------------------------------------------

@main.command()
@click.option("--checkpoint", "ckpt_path", required=True, help="The classifier to use.")
@click.argument("source", required=False, default="-", metavar="[FILE|-]")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object a line: the text, its label and every class's "
                   "probability.")
@click.option("--top", type=click.IntRange(min=1), default=None, metavar="K",
              help="The K likeliest classes a line, each with its probability.")
@device_option()
@threads_option("all of the BLAS's threads")
def classify(ckpt_path, source, as_json, top, device_name, threads):
    """Label texts, one a line, from FILE or stdin: `label<TAB>probability` a line.

    The answers come in the input's order. A character the classifier never saw is
    read as its unknown symbol; an empty line is an error (every line gets an answer).
    """
    from . import classification

    model = classification.Classifier.load(ckpt_path, device.select(device_name))
    out = data_out("".join(model.classes))
    note(use_threads(threads))
    classes, k = model.classes, min(top or len(model.classes), len(model.classes))
    if source == "-" and _stdin_is_terminal():
        say("rnngen: reading texts from stdin, one a line; end with Ctrl-D")
    try:
        with classification.open_lines(source) as (stream, name):
            for texts, probs in classification.classify_lines(model, stream, name):
                order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
                out.write("".join(_answer(t, p, o, classes, as_json, top)
                                  for t, p, o in zip(texts, probs, order)))
                out.flush()
    except OSError as e:
        stdout_failed(e)


def _answer(text, probs, order, classes, as_json, top):
    """One line of classify's output."""
    if as_json:
        shown = order if top else range(len(classes))  # every class, in their order
        return jsonout.dumps({"text": text, "label": classes[order[0]],
                           "probability": float(probs[order[0]]),
                           "probabilities": {classes[i]: float(probs[i]) for i in shown}},
                          ensure_ascii=False) + "\n"
    pairs = order if top else order[:1]
    return "\t".join(f"{classes[i]}\t{probs[i]:.4f}" for i in pairs) + "\n"


# -- serve --------------------------------------------------------------------

SERVE_FLAGS = {"checkpoint": "--checkpoint", "host": "--host", "token": "--token",
               "limit": "--limit", "workers": "--workers"}


@main.command()
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="[NAME=]PATH",
              help="A checkpoint to serve as NAME (default: its file name without .npz); "
                   "repeatable, the first is the default model. Default: the shipped model.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any but this machine's own needs a token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free one; the address printed says which).")
@click.option("--token", envvar="RNNGEN_TOKEN", default=None, metavar="TOKEN",
              help="Require 'Authorization: Bearer TOKEN' on every /v1 request (or set "
                   "RNNGEN_TOKEN, which keeps it out of the process list).")
@click.option("--limit", "limits", multiple=True, metavar="NAME=VALUE",
              help="Change a safety limit, e.g. --limit n=2000; GET /healthz lists them. "
                   "Repeatable.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Threads stepping the batch, each its own rows (more use more cores).")
@device_option()
def serve(checkpoints, host, port, token, limits, workers, device_name):
    """Serve models over HTTP: sampling (streamed or whole), scoring, model descriptions
    and a page at / to play with them (docs/serve.md).

    Prints its address on stdout once it accepts connections; messages go to stderr.
    SIGTERM or Ctrl-C stops it: no new requests, the ones in flight finish (up to
    --limit drain_seconds), then it exits 0.
    """
    from . import serve as server

    def ready(url):
        click.echo(url)
        say(f"rnngen: serving on {url} (the page is at {url}/); stop with Ctrl-C or SIGTERM")

    try:
        server.run(checkpoints or [str(resources.shipped_model())], host, port, token,
                   limits, device.select(device_name), on_ready=ready, log=say,
                   workers=workers)
    except OptionError as e:
        raise click.UsageError(e.naming(SERVE_FLAGS)) from None


# -- info, configs --------------------------------------------------------------

@main.command()
@click.argument("ckpt_path", required=False, metavar="[CHECKPOINT]")
@checkpoint_option("describe (the same as the CHECKPOINT argument)", "ckpt_option")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(ckpt_path, ckpt_option, as_json):
    """Describe a checkpoint (default: the shipped model): model, corpus, training, losses."""
    from .info import as_text, describe

    if ckpt_path is not None and ckpt_option is not None and ckpt_path != ckpt_option:
        raise click.UsageError("give the checkpoint once: as CHECKPOINT or as --checkpoint")
    ckpt_path = ckpt_path if ckpt_path is not None else ckpt_option

    ckpt_path = _checkpoint_or_shipped(ckpt_path)
    described = describe(checkpoint.load(ckpt_path), ckpt_path)
    print_data(jsonout.dumps(described) if as_json else as_text(described))


@main.command(name="configs")
@click.argument("name", required=False)
def configs_(name):
    """List the configs shipped with rnngen, for train --config NAME; with NAME, print
    that config (to copy and edit: rnngen configs tiny > mine.yaml)."""
    shipped = resources.shipped_configs()
    if name is not None:
        stem = name[:-len(".yaml")] if name.endswith(".yaml") else name
        if stem not in shipped:
            raise click.UsageError(f"no shipped config is named {name!r}; use one of: "
                                   f"{', '.join(shipped)}")
        print_data(shipped[stem][0].read_text(encoding="utf-8"), end="")
        return
    width = max(map(len, shipped), default=0) + 2
    print_data("\n".join(f"{stem:<{width}}{description}"
                          for stem, (_, description) in shipped.items()))


# -- sweep --------------------------------------------------------------------

@main.command()
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
    from . import sweep as sweeping

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
