"""The command line: parse, call the library, print. Data to stdout, the rest to stderr.

Library errors (RnngenError) become a one-line message and exit 1; bad flags are
click usage errors, exit 2; an interrupted training run exits 128 + the signal. Each
command lives in a module of its own here; this one is the group that holds them.
"""
import signal
import sys

import click

from .. import __version__, atomic
from ..console import end_terminal_line, fill_closed_std_fds, say
from ..errors import RnngenError
from . import classify, looking, models, sample, serve, sweep, train

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


for command in (train.train, sample.sample, looking.export, looking.report_, looking.eval_,
                classify.classify, serve.serve, models.info, models.configs_, sweep.sweep):
    main.add_command(command)
