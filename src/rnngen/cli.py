"""The command line: parse, call the library, print. Data to stdout, the rest to stderr.

Library errors (RnngenError) become a one-line message and exit 1; bad flags are
click usage errors, exit 2; an interrupted training run exits 128 + the signal.
"""
import contextlib
import json
import math
import os
import shlex
import signal
import sys
import time

import click
import numpy as np
from click.core import ParameterSource

from . import (__version__, checkpoint, config, corpus, device, evaluation, generation, lock,
               resources, sizing)
from .errors import RnngenError
from .threads import one_stream, set_thread_count

DEFAULT_CONFIG = "shakespeare.yaml"  # a shipped config, found by name (resources.find_config)
SHIPPED_MODEL_HELP = "the shipped model"  # resources.shipped_model()
PROGRESS_LINES = 20  # without a terminal, a plain progress line every 1/20 of the run...
PROGRESS_SECONDS = 60  # ...or every minute, whichever comes first


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

    def format_commands(self, ctx, formatter):
        # click cuts each summary to fit one line; ours are short enough to show whole
        rows = [(name, cmd.get_short_help_str(limit=1000))
                for name, cmd in ((n, self.get_command(ctx, n)) for n in self.list_commands(ctx))
                if cmd is not None and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


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


@click.group(cls=Group, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnngen")
@click.pass_context
def main(ctx):
    """Character-level recurrent language models in NumPy: train, sample, eval.

    Start with `rnngen sample --seed "ROMEO:" --n 500 --temperature 0.7` (the shipped model)
    or `rnngen train --config shakespeare.yaml` (`rnngen configs` lists the shipped configs).
    """
    _fill_closed_std_fds()
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def checkpoint_option(purpose):
    """--checkpoint, defaulting to the shipped model (resolved by _checkpoint_or_shipped)."""
    return click.option("--checkpoint", "ckpt_path", default=None,
                        show_default=SHIPPED_MODEL_HELP, help=f"Checkpoint to {purpose}.")


def corpus_text_option(help_text):
    """--corpus for commands that read a text to look at: a path, or '-' for stdin."""
    return click.option("--corpus", "corpus_arg", default=None, metavar="PATH|-",
                        help=help_text)


def device_option():
    return click.option("--device", "device_name", type=click.Choice(device.DEVICES),
                        default="cpu", show_default=True,
                        help="Compute on the CPU or a GPU (cuda, through CuPy).")


def _read_text_arg(corpus_arg):
    """The text --corpus names ('-': stdin) -> (text, source, path or None)."""
    if corpus_arg == "-":
        return sys.stdin.read(), "stdin", None
    path = corpus.resolve(corpus_arg)
    return corpus.read_text(path, "--corpus"), str(path), path


def threads_option(default_help):
    return click.option(
        "--threads", type=click.IntRange(min=1), envvar="RNNGEN_THREADS", default=None,
        help=f"BLAS threads to use (or set RNNGEN_THREADS). Default: {default_help}.")


def _use_threads(n):
    """Apply --threads (if given) to OpenBLAS for the rest of the command."""
    if n is not None and not set_thread_count(n):
        say("rnngen: --threads has no effect here: NumPy's BLAS is not OpenBLAS; "
            "set that BLAS's own variable (e.g. MKL_NUM_THREADS)")


def _stdin_is_terminal():
    return sys.stdin.isatty()


def _stderr_is_terminal():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # None (closed at start) or closed since
        return False


def _checkpoint_or_shipped(path):
    return path if path is not None else resources.shipped_model()


# -- train --------------------------------------------------------------------

def _no_seed_in_train(ctx, param, value):
    if value is not None:
        raise click.UsageError("train has no --seed (in sample, --seed is priming text); "
                               "use --random-seed N for the random seed", ctx)


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
@click.option("--corpus", "corpus_name", help="Override data.corpus (a file or a named corpus).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set model.hidden_size=256. Repeatable.")
@click.option("--resume", is_flag=False, flag_value="", default=None, metavar="[CHECKPOINT]",
              help="Continue from a checkpoint (default: the config's output).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; messages only.")
@click.option("--device", "device_name", type=click.Choice(device.DEVICES),
              help="Override train.device: cpu, or cuda (a GPU, through CuPy).")
@click.option("--report", "with_report", is_flag=True,
              help="Also write the HTML report beside the checkpoint (NAME.html) at every "
                   "validation.")
@threads_option("all of the BLAS's threads")
def train(config_name, steps, output, seed, corpus_name, assignments, resume, quiet, threads,
          device_name, with_report):
    """Train a model as a YAML config describes, writing an .npz checkpoint.

    The progress shows the step, the training loss, the last validation loss, bpc (bits per
    character: the loss in nats/char divided by ln 2; lower is better), characters per second
    and the time left. Without a terminal (a log file), a plain line is printed now and then.
    """
    from .training import best_path  # keeps `sample` and `eval` start-up fast

    overrides = [config.parse_assignment(a) for a in assignments]
    for key, value in (("train.steps", steps), ("train.output", output),
                       ("train.seed", seed), ("data.corpus", corpus_name),
                       ("train.device", device_name)):
        if value is not None:
            overrides.append((key, value))
    config_path = resources.find_config(config_name)
    cfg = config.load(config_path, overrides)
    t = cfg.train
    resources.check_output_allowed(t.output, "--output" if output else "--output or train.output")
    sizing.check_training(cfg, 1)  # absurd sizes, before any work (V is not known yet)
    corpus_path = corpus.resolve(cfg.data.corpus)
    for out in (t.output, best_path(t.output)):
        lock.check_distinct(out, {"corpus": corpus_path, "config file": config_path},
                            "the output" if out == t.output else "the best checkpoint")
        checkpoint.check_writable(out)
    # one live writer per file: the output, and the best checkpoint beside it (another
    # run's output may be this run's NAME.best.npz, or the other way round)
    with lock.OutputLock(t.output) as held, lock.OutputLock(best_path(t.output)) as best:
        if held.note or best.note:
            say(f"rnngen: {held.note or best.note}")
        _train_locked(cfg, corpus_path, config_name, steps, seed, corpus_name, assignments,
                      resume, quiet, threads, with_report)


def _train_locked(cfg, corpus_path, config_name, steps, seed, corpus_name, assignments,
                  resume, quiet, threads, with_report):
    from . import session
    from .training import best_path

    t = cfg.train
    resume_ckpt = None
    if resume is not None:
        resume_ckpt = checkpoint.load(resume or t.output)
    text = corpus.read_corpus(corpus_path,
                              "--corpus" if corpus_name else "data.corpus in the config")
    sizing.check_training(cfg, len(text.vocab))
    _use_threads(threads)
    trainer = session.start(cfg, text, resume=resume_ckpt)
    # said once the run is sure to start, so an error before it stays one line
    say(f"rnngen: checkpoints go to {t.output} (the best by validation: {best_path(t.output)})")
    say(f"rnngen: sample from it with: rnngen sample --checkpoint {shlex.quote(t.output)}")
    n_params = sum(p.size for p in trainer.params.values())
    n_val = len(trainer.val_ids)
    say(f"rnngen: {text.source}: {len(trainer.train_ids):,} train / {n_val:,} val characters, "
        f"{len(text.vocab)} symbols; {trainer.spec.describe()}, {n_params:,} parameters")
    if trainer.step:
        last_val = (f"; last val {trainer.history[-1]['val_loss']:.4f} nats/char"
                    if trainer.history else "")
        say(f"rnngen: resuming at step {trainer.step} of {t.steps}{last_val}")
    with _stop_on_signals(trainer):
        _train_loop(trainer, quiet, with_report)
    if trainer.stop_reason and trainer.step < t.steps:
        signum = trainer.stop_reason
        name = signal.Signals(signum).name
        again = _resume_command(config_name, steps, seed, corpus_name, assignments,
                                t.output, quiet)
        say(f"rnngen: stopped by {name} at step {trainer.step}; checkpoint written to {t.output}. "
            f"Resume with: {again}")
        sys.exit(128 + signum)
    last = trainer.history[-1] if trainer.history else None
    if last:
        say(f"rnngen: done at step {trainer.step}: val {last['val_loss']:.4f} nats/char "
            f"({last['val_loss'] / math.log(2):.4f} bits/char); best {trainer.best_val:.4f}; "
            f"checkpoints {t.output} and {best_path(t.output)}; "
            f"sample with: rnngen sample --checkpoint {shlex.quote(t.output)}")


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


def _train_loop(trainer, quiet, with_report=False):
    """Report progress on stderr: a live bar on a terminal; otherwise (a log file) plain
    lines, no carriage returns, every PROGRESS_LINES-th of the run or PROGRESS_SECONDS."""
    from tqdm import tqdm

    t = trainer.cfg.train
    live = not quiet and not STDERR.dead and _stderr_is_terminal()
    bar = tqdm(total=t.steps, initial=trainer.step, file=STDERR, disable=not live,
               unit="step", dynamic_ncols=True, smoothing=0.1)
    # after a resume, the last validation loss is the checkpoint's
    val = f"{trainer.history[-1]['val_loss']:.3f}" if trainer.history else "-"
    every, last_line = max(1, t.steps // PROGRESS_LINES), time.monotonic()
    try:
        for stats in trainer.run():
            bpc = stats.loss / math.log(2)
            if stats.val_loss is not None:
                val = f"{stats.val_loss:.3f}"
                msg = (f"step {stats.step}: train {trainer.history[-1]['train_loss']:.4f}, "
                       f"val {stats.val_loss:.4f} nats/char "
                       f"({stats.val_loss / math.log(2):.3f} bits/char), saved {stats.checkpoint}")
                bar.write(msg, file=STDERR) if live else say(msg)
                last_line = time.monotonic()
                if with_report:
                    _training_report(trainer, bar, live)
            elif not quiet and not live and (stats.step % every == 0
                                             or time.monotonic() - last_line >= PROGRESS_SECONDS):
                say(f"step {stats.step}/{t.steps}: loss {stats.loss:.3f} val {val} bpc {bpc:.3f} "
                    f"{stats.chars_per_sec / 1000:.1f}k char/s")
                last_line = time.monotonic()
            bar.set_postfix_str(f"loss {stats.loss:.3f} val {val} bpc {bpc:.3f} "
                                f"{stats.chars_per_sec / 1000:.1f}k char/s", refresh=False)
            bar.update(1)
    finally:
        bar.close()


def _training_report(trainer, bar, live):
    """Best effort: a report that cannot be written is a warning, never the end of a run."""
    from . import report

    path = report.beside(trainer.cfg.train.output)
    try:
        report.for_training(trainer, path)
    except Exception as e:  # noqa: BLE001 -- any failure, even a bug, must not stop training
        msg = f"rnngen: warning: could not write the report {path}: {e}"
        bar.write(msg, file=STDERR) if live else say(msg)


class _stop_on_signals:
    """While training, SIGINT and SIGTERM ask the trainer to checkpoint and stop.

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

def _finite_float(ctx, param, value):
    """Click's FloatRange lets nan through (every comparison with it is false), and inf
    where there is no upper bound: both are usage errors, like any other bad value."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value}")
    return value


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
@threads_option("one stream: 1 or all, whichever measures faster at start")
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
           threads, device_name, num_samples, beam, length_norm, no_repeat_ngram, stop,
           as_json, null):
    """Generate text: the seed, then N sampled characters, streamed to stdout.

    A final newline is added only when stdout is a terminal, so pipes get the text as
    made. Several samples (--num-samples, or the best beams) are separated by a line
    holding only %%, or each ends with NUL with -0.
    """
    _check_sample_flags(ctx, temperature, top_k, top_p, num_samples, beam, length_norm,
                        no_repeat_ngram, stop, as_json, null, device_name)
    if seed_text == "-":
        if _stdin_is_terminal():
            say("rnngen: reading the seed text from stdin; end it with Ctrl-D")
        seed_text = sys.stdin.read()
    where = device.select(device_name)
    ckpt_path = _checkpoint_or_shipped(ckpt_path)
    ckpt = checkpoint.load(ckpt_path)
    out = _data_out(ckpt.vocab_chars)
    _use_threads(threads)
    if _batched(num_samples, beam, stop, as_json, null):
        return _samples(ckpt_path, ckpt, seed_text, n, temperature, top_k, top_p, random_seed,
                        fresh_state, num_samples, beam, length_norm, no_repeat_ngram, stop,
                        as_json, null)
    rng = np.random.default_rng(random_seed)
    chars = generation.sample_chars(ckpt, seed_text, n, rng, temperature, top_k or 0,
                                    top_p or 1.0, saved_state=not fresh_state, device=where)
    if threads is None and where.is_host:  # as many BLAS threads as measure faster
        chars = one_stream(chars, generation.one_stream_trial(ckpt.spec, ckpt.params))
    try:
        pending = 0
        with contextlib.closing(chars):
            for c in chars:
                out.write(c)
                pending += 1
                if c == "\n" or pending >= 256:  # stream by the line, without a flush per char
                    out.flush()
                    pending = 0
        if out.isatty():
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


SEPARATOR = "%%"  # the line between plain-text samples


def _batched(num_samples, beam, stop, as_json, null):
    """Whether sample takes the batched path (_samples) rather than streaming one text."""
    return bool(beam or num_samples > 1 or stop is not None or as_json or null)


def _check_sample_flags(ctx, temperature, top_k, top_p, num_samples, beam, length_norm,
                        no_repeat_ngram, stop, as_json, null, device_name="cpu"):
    """Usage errors (exit 2) for combinations of sample's flags that make no sense."""
    if _batched(num_samples, beam, stop, as_json, null) and device_name != "cpu":
        raise click.UsageError("--beam, --num-samples, --stop, --json and -0 run on the CPU "
                               "only for now; drop --device cuda")
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
    out = sys.stdout  # checked by _data_out before any work
    try:
        for i, s in enumerate(samples):
            if as_json:
                line = dict(s.as_dict(), index=i, settings=settings)
                out.write(json.dumps(line, allow_nan=False) + "\n")
            elif null:
                out.write(s.seed + s.text + "\0")
            else:  # one sample ends as sample's plain text does; several end each line
                end = "\n" if len(samples) > 1 or out.isatty() else ""
                out.write((SEPARATOR + "\n" if i else "") + s.seed + s.text + end)
            out.flush()
    except OSError as e:
        _stdout_failed(e)


# -- export -------------------------------------------------------------------

@main.command()
@checkpoint_option("export")
@click.option("--output", required=True, help="Where to write the weights-only copy.")
def export(ckpt_path, output):
    """Write a weights-only copy of a checkpoint (no optimizer state), for sharing."""
    ckpt_path = _checkpoint_or_shipped(ckpt_path)
    lock.check_distinct(output, {"checkpoint being exported": ckpt_path})
    resources.check_output_allowed(output, "--output")
    checkpoint.check_writable(output)
    ckpt = checkpoint.load(ckpt_path)
    with lock.OutputLock(output):  # not while a training run writes it
        checkpoint.save(output, checkpoint.weights_only(ckpt))
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
                   "(colours on a terminal, plain text otherwise).")
def report_(ckpt_path, corpus_arg, output, unit, terminal):
    """Write one self-contained HTML page: the run, learning curves, samples, and what
    the network's units do over a passage."""
    from . import inside, report

    ckpt_path = _checkpoint_or_shipped(ckpt_path)
    ckpt = checkpoint.load(ckpt_path)
    if corpus_arg is None:
        (text, source), corpus_path = inside.validation_passage(ckpt), None
    else:
        text, source, corpus_path = _read_text_arg(corpus_arg)
    look = inside.look_inside(ckpt.spec, ckpt.params, ckpt.vocab_chars, text, source)
    if terminal:
        shown, legend = report.terminal_view(look, unit, colour=sys.stdout.isatty())
        click.echo(shown)
        say(f"rnngen: {legend}")
        return
    layer, index = look.check_unit(unit)
    html = report.page(ckpt, look, (layer, index), name=ckpt_path)
    if output == "-":
        click.echo(html, nl=False)
        return
    report.write(output, html, reads=(ckpt_path, corpus_path))
    say(f"rnngen: wrote {output} ({os.path.getsize(output) / 2**20:.1f} MiB): {source}, "
        f"unit {layer}:{index} shown first")


# -- eval ---------------------------------------------------------------------

@main.command(name="eval")
@checkpoint_option("evaluate")
@corpus_text_option("Text to score ('-' for stdin). Default: the validation split of the "
                    "corpus the checkpoint was trained on.")
@click.option("--skip-unknown", is_flag=True,
              help="Drop characters the model never saw, then score the rest, as if they were "
                   "not in the text (neither predicted nor context); reports how many.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@device_option()
@threads_option("all of the BLAS's threads")
def eval_(ckpt_path, corpus_arg, skip_unknown, as_json, threads, device_name):
    """Measure how well a checkpoint predicts text: nats/char, bits/char, perplexity.

    bits/char is nats/char divided by ln 2; perplexity is e to the nats/char.
    """
    out = _data_out()
    ckpt_path = _checkpoint_or_shipped(ckpt_path)
    where = device.select(device_name)
    ckpt = checkpoint.load(ckpt_path)
    _use_threads(threads)
    skipped = 0
    if corpus_arg is None:
        result, source = evaluation.checkpoint_score(ckpt, device=where), "validation split"
    elif skip_unknown:  # the whole text in memory, less what the model never saw
        text, source, _ = _read_text_arg(corpus_arg)
        text, skipped = corpus.Vocabulary(ckpt.vocab_chars).drop_unknown(text)
        result = evaluation.checkpoint_score(ckpt, text, source, device=where)
    else:  # streamed: memory is the ids, not the text
        vocab = corpus.Vocabulary(ckpt.vocab_chars)
        if corpus_arg == "-":
            ids, source = corpus.read_ids(sys.stdin.buffer, "stdin", vocab), "stdin"
        else:
            path = corpus.resolve(corpus_arg)
            ids, source = corpus.read_ids_from(path, vocab), str(path)
        result = evaluation.checkpoint_score(ckpt, ids=ids, source=source, device=where)
    extra = {"skipped": skipped} if skip_unknown else {}
    if as_json:  # NaN and Infinity are not JSON: a number that is not finite is null
        fields = {k: v if not isinstance(v, float) or math.isfinite(v) else None
                  for k, v in result.as_dict().items()}
        report = json.dumps(dict(fields, checkpoint=str(ckpt_path), text=source, **extra),
                            allow_nan=False)
    else:
        report = (f"nats/char   {result.nats:.4f}\nbits/char   {result.bits:.4f}\n"
                  f"perplexity  {result.perplexity:.4f}\nchars       {result.chars}"
                  + (f"\nskipped     {skipped}" if skip_unknown else ""))
    try:
        out.write(report + "\n")
        out.flush()
    except OSError as e:
        _stdout_failed(e)


# -- info, configs --------------------------------------------------------------

@main.command()
@click.argument("ckpt_path", required=False, metavar="[CHECKPOINT]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(ckpt_path, as_json):
    """Describe a checkpoint (default: the shipped model): model, corpus, training, losses."""
    from .info import as_text, describe

    ckpt_path = _checkpoint_or_shipped(ckpt_path)
    described = describe(checkpoint.load(ckpt_path), ckpt_path)
    click.echo(json.dumps(described) if as_json else as_text(described))


@main.command(name="configs")
def configs_():
    """List the configs shipped with rnngen, for train --config NAME."""
    shipped = resources.shipped_configs()
    width = max(map(len, shipped), default=0) + 2
    for name, (_, description) in shipped.items():
        click.echo(f"{name:<{width}}{description}")
