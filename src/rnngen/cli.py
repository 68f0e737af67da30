"""The command line: parse, call the library, print. Data to stdout, the rest to stderr.

Library errors (RnngenError) become a one-line message and exit 1; bad flags are
click usage errors, exit 2; an interrupted training run exits 128 + the signal.
"""
import json
import math
import os
import shlex
import signal
import sys

import click
import numpy as np
from click.core import ParameterSource

from . import __version__, checkpoint, config, corpus, evaluation, generation
from .errors import RnngenError

DEFAULT_CONFIG = "configs/shakespeare.yaml"
DEFAULT_CHECKPOINT = "checkpoints/shakespeare.npz"


class Group(click.Group):
    """Turns the library's errors into one-line click errors (exit 1, no traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RnngenError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:  # outside training's own handler: stop quietly
            click.echo("rnngen: interrupted", err=True)
            sys.exit(130)
        except MemoryError:
            raise click.ClickException(
                "out of memory; lower model.hidden_size, train.batch_size or "
                "train.seq_length, or use a machine with more memory") from None


def say(message):
    click.echo(message, err=True)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnngen")
def main():
    """Character-level recurrent language models in NumPy: train, sample, eval."""


# -- train --------------------------------------------------------------------

@main.command()
@click.option("--config", "config_path", default=DEFAULT_CONFIG, show_default=True,
              help="YAML config file.")
@click.option("--steps", type=click.IntRange(min=1), help="Override train.steps.")
@click.option("--output", help="Override train.output (the checkpoint path).")
@click.option("--seed", type=click.IntRange(min=0), help="Override train.seed (random seed).")
@click.option("--corpus", "corpus_name", help="Override data.corpus (a file or a named corpus).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set model.hidden_size=256. Repeatable.")
@click.option("--resume", is_flag=False, flag_value="", default=None, metavar="[CHECKPOINT]",
              help="Continue from a checkpoint (default: the config's output).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; messages only.")
def train(config_path, steps, output, seed, corpus_name, assignments, resume, quiet):
    """Train a model as a YAML config describes, writing an .npz checkpoint."""
    from .training import Trainer, best_path  # keeps `sample` and `eval` start-up fast

    overrides = [config.parse_assignment(a) for a in assignments]
    for key, value in (("train.steps", steps), ("train.output", output),
                       ("train.seed", seed), ("data.corpus", corpus_name)):
        if value is not None:
            overrides.append((key, value))
    cfg = config.load(config_path, overrides)
    resume_ckpt = None
    if resume is not None:
        resume_ckpt = checkpoint.load(resume or cfg.train.output)
    text = corpus.load_corpus(cfg.data.corpus)
    trainer = Trainer(cfg, text, resume=resume_ckpt)
    t = trainer.cfg.train
    n_params = sum(p.size for p in trainer.params.values())
    n_val = len(trainer.val_ids)
    say(f"rnngen: {text.source}: {len(trainer.train_ids):,} train / {n_val:,} val characters, "
        f"{len(text.vocab)} symbols; {trainer.spec.describe()}, {n_params:,} parameters; "
        f"checkpoint {t.output}")
    if trainer.step:
        say(f"rnngen: resuming at step {trainer.step} of {t.steps}")
    with _stop_on_signals(trainer):
        _train_loop(trainer, quiet)
    if trainer.stop_reason and trainer.step < t.steps:
        signum = trainer.stop_reason
        name = signal.Signals(signum).name
        again = _resume_command(config_path, steps, seed, corpus_name, assignments,
                                t.output, quiet)
        say(f"rnngen: stopped by {name} at step {trainer.step}; checkpoint written to {t.output}. "
            f"Resume with: {again}")
        sys.exit(128 + signum)
    last = trainer.history[-1] if trainer.history else None
    if last:
        say(f"rnngen: done at step {trainer.step}: val {last['val_loss']:.4f} nats/char "
            f"({last['val_loss'] / math.log(2):.4f} bits/char); best {trainer.best_val:.4f}; "
            f"checkpoints {t.output} and {best_path(t.output)}")


def _resume_command(config_path, steps, seed, corpus_name, assignments, output, quiet):
    """The train command that continues this run: its flags, then --resume."""
    args = ["rnngen", "train", "--config", config_path]
    for flag, value in (("--steps", steps), ("--seed", seed), ("--corpus", corpus_name)):
        if value is not None:
            args += [flag, str(value)]
    for a in assignments:
        args += ["--set", a]
    args += ["--output", output, "--resume", output] + (["-q"] if quiet else [])
    return shlex.join(args)


def _train_loop(trainer, quiet):
    from tqdm import tqdm

    t = trainer.cfg.train
    bar = tqdm(total=t.steps, initial=trainer.step, file=sys.stderr, disable=quiet,
               unit="step", dynamic_ncols=True, smoothing=0.1)
    val = "-"
    try:
        for stats in trainer.run():
            if stats.val_loss is not None:
                val = f"{stats.val_loss:.3f}"
                msg = (f"step {stats.step}: train {trainer.history[-1]['train_loss']:.4f}, "
                       f"val {stats.val_loss:.4f} nats/char "
                       f"({stats.val_loss / math.log(2):.3f} bits/char), saved {stats.checkpoint}")
                bar.write(msg, file=sys.stderr) if not quiet else say(msg)
            bar.set_postfix_str(f"loss {stats.loss:.3f} val {val} "
                                f"bpc {stats.loss / math.log(2):.3f} "
                                f"{stats.chars_per_sec / 1000:.1f}k char/s", refresh=False)
            bar.update(1)
    finally:
        bar.close()


class _stop_on_signals:
    """While training, SIGINT and SIGTERM ask the trainer to checkpoint and stop.

    A second signal gets the default behaviour, so a stuck run can still be killed.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, trainer):
        self.trainer = trainer
        self.previous = {}

    def _handle(self, signum, frame):
        self.trainer.request_stop(signum)
        for s in self.SIGNALS:
            signal.signal(s, self.previous[s])

    def __enter__(self):
        for s in self.SIGNALS:
            try:
                self.previous[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)


# -- sample -------------------------------------------------------------------

def _nonneg_float(ctx, param, value):
    if value is not None and (math.isnan(value) or value < 0):
        raise click.BadParameter(f"must be a number >= 0, got {value}")
    return value


@main.command()
@click.option("--checkpoint", "ckpt_path", default=DEFAULT_CHECKPOINT, show_default=True,
              help="Checkpoint to sample from.")
@click.option("--seed", "seed_text", default=None, metavar="TEXT",
              help="Priming text, printed first ('-' reads it from stdin). "
                   "Default: one random character.")
@click.option("--n", "n", type=click.IntRange(min=0), default=500, show_default=True,
              help="Characters to generate after the seed.")
@click.option("--temperature", type=float, default=1.0, show_default=True,
              callback=_nonneg_float, help="Softmax temperature; 0 picks the likeliest.")
@click.option("--top-k", type=click.IntRange(min=1), default=None,
              help="Sample only among the k likeliest characters.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Sample only among the likeliest characters whose total reaches p.")
@click.option("--random-seed", type=click.IntRange(min=0), default=None,
              help="Seed for the sampler's randomness: the same seed gives the same text.")
@click.option("--fresh-state", is_flag=True,
              help="Start from a zero hidden state, not the one training ended with.")
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
def sample(ctx, ckpt_path, seed_text, n, temperature, top_k, top_p, random_seed, fresh_state,
           num_samples, beam, length_norm, no_repeat_ngram, stop, as_json, null):
    """Generate text: the seed, then N sampled characters, streamed to stdout.

    Several samples (--num-samples, or the best beams) are separated by a line
    holding only %%, or each ends with NUL with -0.
    """
    _check_sample_flags(ctx, temperature, top_k, top_p, num_samples, beam, length_norm,
                        no_repeat_ngram, stop, as_json, null)
    if seed_text == "-":
        seed_text = sys.stdin.read()
    ckpt = checkpoint.load(ckpt_path)
    if beam or num_samples > 1 or stop is not None or as_json or null:
        return _samples(ckpt_path, ckpt, seed_text, n, temperature, top_k, top_p, random_seed,
                        fresh_state, num_samples, beam, length_norm, no_repeat_ngram, stop,
                        as_json, null)
    rng = np.random.default_rng(random_seed)
    chars = generation.sample_chars(ckpt, seed_text, n, rng, temperature, top_k or 0,
                                    top_p or 1.0, saved_state=not fresh_state)
    out = sys.stdout
    try:
        pending = 0
        for c in chars:
            out.write(c)
            pending += 1
            if c == "\n" or pending >= 256:  # stream by the line, without a flush per char
                out.flush()
                pending = 0
        out.write("\n")
        out.flush()
    except BrokenPipeError:
        _reader_gone()


def _reader_gone():
    # the reader (e.g. `head`) has gone: stop quietly, and keep Python's exit-time
    # flush of stdout from raising again
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


SEPARATOR = "%%"  # the line between plain-text samples


def _check_sample_flags(ctx, temperature, top_k, top_p, num_samples, beam, length_norm,
                        no_repeat_ngram, stop, as_json, null):
    """Usage errors (exit 2) for combinations of sample's flags that make no sense."""
    given = ctx.get_parameter_source("temperature") != ParameterSource.DEFAULT
    if beam:
        sampling_flags = [f for f, on in (("--temperature", given and temperature > 0),
                                          ("--top-k", top_k), ("--top-p", top_p)) if on]
        if sampling_flags:
            raise click.UsageError(
                f"--beam finds the most probable text and draws nothing at random, so "
                f"{' and '.join(sampling_flags)} cannot apply (they shape random draws); "
                "drop one or the other")
        if num_samples > beam:
            raise click.UsageError(f"--beam {beam} keeps {beam} beams, so --num-samples "
                                   f"(the best beams to print) must be at most {beam}")
    else:
        for flag, on in (("--length-norm", length_norm), ("--no-repeat-ngram", no_repeat_ngram)):
            if on:
                raise click.UsageError(f"{flag} steers beam search; use it with --beam K")
    if stop == "":
        raise click.UsageError("--stop needs a non-empty TEXT")
    if as_json and null:
        raise click.UsageError("--json writes one object per line; -0 is for plain text, "
                               "so use one of them")


def _samples(ckpt_path, ckpt, seed_text, n, temperature, top_k, top_p, random_seed,
             fresh_state, num_samples, beam, length_norm, no_repeat_ngram, stop, as_json,
             null):
    """Several samples, a beam search, --stop or --json: written whole, one by one."""
    if random_seed is None:
        random_seed = generation.fresh_random_seed()
    common = dict(n=n, num_samples=num_samples, random_seed=random_seed,
                  saved_state=not fresh_state, stop=stop or "", scores=as_json)
    if beam:
        samples = generation.beam_samples(ckpt, seed_text, beams=beam, length_norm=length_norm,
                                          no_repeat_ngram=no_repeat_ngram or 0, **common)
        settings = dict(beam=beam, length_norm=length_norm, no_repeat_ngram=no_repeat_ngram)
    else:
        samples = generation.draw_samples(ckpt, seed_text, temperature=temperature,
                                          top_k=top_k or 0, top_p=top_p or 1.0, **common)
        settings = dict(temperature=temperature, top_k=top_k, top_p=top_p)
    settings.update(checkpoint=str(ckpt_path), n=n, stop=stop, fresh_state=fresh_state)
    out = sys.stdout
    try:
        for i, s in enumerate(samples):
            if as_json:
                line = dict(s.as_dict(), index=i, settings=settings)
                out.write(json.dumps(line, allow_nan=False) + "\n")
            elif null:
                out.write(s.seed + s.text + "\0")
            else:
                out.write((SEPARATOR + "\n" if i else "") + s.seed + s.text + "\n")
            out.flush()
    except BrokenPipeError:
        _reader_gone()


# -- export -------------------------------------------------------------------

@main.command()
@click.option("--checkpoint", "ckpt_path", default=DEFAULT_CHECKPOINT, show_default=True,
              help="Checkpoint to export.")
@click.option("--output", required=True, help="Where to write the weights-only copy.")
def export(ckpt_path, output):
    """Write a weights-only copy of a checkpoint (no optimizer state), for sharing."""
    ckpt = checkpoint.load(ckpt_path)
    checkpoint.save(output, checkpoint.weights_only(ckpt))
    say(f"rnngen: wrote {output} ({os.path.getsize(output) / 2**20:.1f} MiB, "
        f"from {os.path.getsize(ckpt_path) / 2**20:.1f} MiB)")


# -- eval ---------------------------------------------------------------------

@main.command(name="eval")
@click.option("--checkpoint", "ckpt_path", default=DEFAULT_CHECKPOINT, show_default=True,
              help="Checkpoint to evaluate.")
@click.option("--corpus", "corpus_arg", default=None, metavar="PATH|-",
              help="Text to score ('-' for stdin). Default: the validation split of the "
                   "corpus the checkpoint was trained on.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def eval_(ckpt_path, corpus_arg, as_json):
    """Measure how well a checkpoint predicts text: nats/char, bits/char, perplexity."""
    ckpt = checkpoint.load(ckpt_path)
    if corpus_arg is None:
        result, source = evaluation.checkpoint_score(ckpt), "validation split"
    else:
        if corpus_arg == "-":
            text, source = sys.stdin.read(), "stdin"
        else:
            path = corpus.resolve(corpus_arg)
            text, source = corpus.read_text(path), str(path)
        result = evaluation.checkpoint_score(ckpt, text, source)
    if as_json:
        click.echo(json.dumps(dict(result.as_dict(), checkpoint=str(ckpt_path), text=source)))
    else:
        click.echo(f"nats/char   {result.nats:.4f}\nbits/char   {result.bits:.4f}\n"
                   f"perplexity  {result.perplexity:.4f}\nchars       {result.chars}")
