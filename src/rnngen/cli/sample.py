"""rnngen sample: a decoding.Decoding from the flags, decoding's samples or stream printed."""
import shlex
from dataclasses import fields

import click
from click.core import ParameterSource

from .. import console, decoding, device, resources, sizing
from ..console import data_out, say, stdout_failed, write_samples, write_stream
from ..errors import OptionError
from ..threads import use as use_threads
from .options import (checkpoint_option, checkpoint_or_shipped, device_option, finite_float,
                      note, threads_option)

# decoding.Decoding's options, as sample's flags: top_k is --top-k
SAMPLE_FLAGS = {f.name: "--" + f.name.replace("_", "-") for f in fields(decoding.Decoding)}


def _shipped_model_note():
    """The line sample says when it falls back to the shipped model: which model, and
    how to sample from the newest run in ./runs when there is one."""
    newest = resources.newest_run()
    if newest is None:
        return ("rnngen: sampling from the shipped model (tinyshakespeare); --checkpoint PATH "
                "samples another")
    return (f"rnngen: sampling from the shipped model, not your run {newest}; to sample "
            f"from that: rnngen sample --checkpoint {shlex.quote(str(newest))}")


@click.command()
@checkpoint_option("sample from")
@click.option("--seed", "seed_text", default=None, metavar="TEXT",
              help="Priming text, printed first ('-' reads it from stdin). "
                   "Default: start as after a line break (not printed).")
@click.option("--n", "n", type=click.IntRange(min=0), default=500, show_default=True,
              help="Characters to generate after the seed.")
@click.option("--temperature", type=click.FloatRange(min=0), default=1.0, show_default=True,
              callback=finite_float, help="Softmax temperature; 0 picks the likeliest.")
@click.option("--top-k", type=click.IntRange(min=1), default=None,
              help="Sample only among the k likeliest characters.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=None,
              callback=finite_float,
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
        if console.stdin_is_terminal():
            say("rnngen: reading the seed text from stdin; end it with Ctrl-D")
        seed_text = console.standard_input("--seed -").read()
    where = device.select(device_name)
    if ckpt_path is None:
        say(_shipped_model_note())
    ckpt_path = checkpoint_or_shipped(ckpt_path)
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
