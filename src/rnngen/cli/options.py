"""What several commands share: their common options and how they print a library's note."""
import math
import os

import click

from .. import device, resources
from ..console import say

SHIPPED_MODEL_HELP = "the shipped model"  # resources.shipped_model()


def checkpoint_option(purpose, name="ckpt_path"):
    """--checkpoint, defaulting to the shipped model (resolved by checkpoint_or_shipped);
    every command that reads a checkpoint has it."""
    return click.option("--checkpoint", name, default=None,
                        show_default=SHIPPED_MODEL_HELP, help=f"Checkpoint to {purpose}.")


def checkpoint_or_shipped(path):
    return path if path is not None else resources.shipped_model()


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


def json_option(help_text="Print one JSON object."):
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def finite_float(ctx, param, value):
    """Click's FloatRange lets nan through (every comparison with it is false), and inf
    where there is no upper bound: both are usage errors, like any other bad value."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value}")
    return value


def note(message):
    """A library's note (None: nothing to say) as an rnngen: line on stderr."""
    if message:
        say(f"rnngen: {message}")


def wrote(path, size_note="", holds=None):
    """The line a command says once it wrote a file: 'rnngen: wrote PATH (SIZE MiB
    size_note): holds'."""
    said = f"rnngen: wrote {path} ({os.path.getsize(path) / 2**20:.1f} MiB{size_note})"
    say(said if holds is None else f"{said}: {holds}")
