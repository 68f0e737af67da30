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

from . import __version__, checkpoint, config, corpus, evaluation, generation, lock, resources
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


class _BestEffort:
    """stderr for messages and progress: if it goes away (a closed pipe, `| head`,
    /dev/full), writing stops and the run goes on; losing the display never loses
    the run. Lines are written whole, so nothing is half-printed."""

    def __init__(self):
        self.dead = False

    def write(self, text):
        if not self.dead:
            try:
                sys.stderr.write(text)
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):  # gone, closed, or None
                self.dead = True
        return len(text)

    def flush(self):
        pass


STDERR = _BestEffort()


def say(message):
    STDERR.write(f"{message}\n")


def _fill_closed_std_fds():
    """Point closed fds 0-2 at /dev/null, so no file rnngen opens gets fd 2 and
    stray C-library messages never land in a checkpoint."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnngen")
def main():
    """Character-level recurrent language models in NumPy: train, sample, eval."""
    _fill_closed_std_fds()


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
    from .training import best_path  # keeps `sample` and `eval` start-up fast

    overrides = [config.parse_assignment(a) for a in assignments]
    for key, value in (("train.steps", steps), ("train.output", output),
                       ("train.seed", seed), ("data.corpus", corpus_name)):
        if value is not None:
            overrides.append((key, value))
    cfg = config.load(config_path, overrides)
    resources.check_training(cfg, 1)  # absurd sizes, before any work (V is not known yet)
    corpus_path = corpus.resolve(cfg.data.corpus)
    for out in (cfg.train.output, best_path(cfg.train.output)):
        lock.check_distinct(out, {"corpus": corpus_path, "config file": config_path},
                            "the output" if out == cfg.train.output else "the best checkpoint")
    for out in (cfg.train.output, best_path(cfg.train.output)):
        checkpoint.check_writable(out)
    with lock.OutputLock(cfg.train.output) as held:
        if held.note:
            say(f"rnngen: {held.note}")
        _train_locked(cfg, corpus_path, config_path, steps, seed, corpus_name, assignments,
                      resume, quiet)


def _train_locked(cfg, corpus_path, config_path, steps, seed, corpus_name, assignments,
                  resume, quiet):
    from .training import Trainer, best_path

    resume_ckpt = None
    if resume is not None:
        resume_ckpt = checkpoint.load(resume or cfg.train.output)
    text = corpus.read_corpus(corpus_path)
    resources.check_training(cfg, len(text.vocab))
    trainer = Trainer(cfg, text, resume=resume_ckpt)
    t = trainer.cfg.train
    n_params = sum(p.size for p in trainer.params.values())
    n_val = len(trainer.val_ids)
    skips = " with skip connections" if cfg.model.skip and cfg.model.num_layers > 1 else ""
    say(f"rnngen: {text.source}: {len(trainer.train_ids):,} train / {n_val:,} val characters, "
        f"{len(text.vocab)} symbols; {cfg.model.num_layers} x {cfg.model.hidden_size} tanh RNN"
        f"{skips}, {n_params:,} parameters; checkpoint {t.output}")
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
    bar = tqdm(total=t.steps, initial=trainer.step, file=STDERR, disable=quiet or STDERR.dead,
               unit="step", dynamic_ncols=True, smoothing=0.1)
    val = "-"
    try:
        for stats in trainer.run():
            if stats.val_loss is not None:
                val = f"{stats.val_loss:.3f}"
                msg = (f"step {stats.step}: train {trainer.history[-1]['train_loss']:.4f}, "
                       f"val {stats.val_loss:.4f} nats/char "
                       f"({stats.val_loss / math.log(2):.3f} bits/char), saved {stats.checkpoint}")
                bar.write(msg, file=STDERR) if not quiet else say(msg)
            bar.set_postfix_str(f"loss {stats.loss:.3f} val {val} "
                                f"bpc {stats.loss / math.log(2):.3f} "
                                f"{stats.chars_per_sec / 1000:.1f}k char/s", refresh=False)
            bar.update(1)
    finally:
        bar.close()


class _stop_on_signals:
    """While training, the SIGNALS below ask the trainer to checkpoint and stop.

    A second signal gets the default behaviour, so a stuck run can still be killed.
    """

    # every signal that ends a terminal session or a job, where the platform has it:
    # Ctrl-C, kill, the terminal closing, Ctrl-backslash, a CPU-time limit
    SIGNALS = tuple(getattr(signal, name) for name in
                    ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGXCPU")
                    if hasattr(signal, name))

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
def sample(ckpt_path, seed_text, n, temperature, top_k, top_p, random_seed, fresh_state):
    """Generate text: the seed, then N sampled characters, streamed to stdout."""
    if seed_text == "-":
        seed_text = sys.stdin.read()
    ckpt = checkpoint.load(ckpt_path)
    out = _data_out(ckpt.vocab_chars)
    rng = np.random.default_rng(random_seed)
    chars = generation.sample_chars(ckpt, seed_text, n, rng, temperature, top_k or 0,
                                    top_p or 1.0, saved_state=not fresh_state)
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
    except OSError as e:
        _stdout_failed(e)


def _data_out(chars=""):
    """sys.stdout, checked before any work: open, and able to encode ``chars``."""
    out = sys.stdout
    if out is None:
        raise RnngenError("stdout is closed; run with stdout open (redirect it to a file "
                          "or a pipe)")
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        chars.encode(encoding)
    except UnicodeEncodeError as e:
        raise RnngenError(f"stdout's encoding ({encoding}) cannot write the model's character "
                          f"{chars[e.start]!r}; set PYTHONIOENCODING=utf-8") from None
    except LookupError:
        pass
    return out


def _stdout_failed(error):
    """A failed write to stdout: quiet exit 0 when the reader left (`| head`), else a
    one-line error. Either way Python's exit-time flush must not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    if isinstance(error, BrokenPipeError):
        sys.exit(0)
    raise RnngenError(f"cannot write to stdout: {error.strerror or error}")


# -- export -------------------------------------------------------------------

@main.command()
@click.option("--checkpoint", "ckpt_path", default=DEFAULT_CHECKPOINT, show_default=True,
              help="Checkpoint to export.")
@click.option("--output", required=True, help="Where to write the weights-only copy.")
def export(ckpt_path, output):
    """Write a weights-only copy of a checkpoint (no optimizer state), for sharing."""
    lock.check_distinct(output, {"checkpoint being exported": ckpt_path})
    checkpoint.check_writable(output)
    ckpt = checkpoint.load(ckpt_path)
    with lock.OutputLock(output):  # not while a training run writes it
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
    out = _data_out()
    ckpt = checkpoint.load(ckpt_path)
    if corpus_arg is None:
        result, source = evaluation.checkpoint_score(ckpt), "validation split"
    else:
        vocab = corpus.Vocabulary(ckpt.vocab_chars)
        if corpus_arg == "-":
            ids, source = corpus.read_ids(sys.stdin.buffer, "stdin", vocab), "stdin"
        else:
            path = corpus.resolve(corpus_arg)
            ids, source = corpus.read_ids_from(path, vocab), str(path)
        result = evaluation.checkpoint_score(ckpt, ids=ids, source=source)
    if as_json:  # NaN and Infinity are not JSON: a number that is not finite is null
        fields = {k: v if not isinstance(v, float) or math.isfinite(v) else None
                  for k, v in result.as_dict().items()}
        report = json.dumps(dict(fields, checkpoint=str(ckpt_path), text=source),
                            allow_nan=False)
    else:
        report = (f"nats/char   {result.nats:.4f}\nbits/char   {result.bits:.4f}\n"
                  f"perplexity  {result.perplexity:.4f}\nchars       {result.chars}")
    try:
        out.write(report + "\n")
        out.flush()
    except OSError as e:
        _stdout_failed(e)
