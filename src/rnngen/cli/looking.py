"""rnngen eval, report and export: commands that read a checkpoint and measure, show or
copy it."""
import os
from functools import partial

import click

from .. import checkpoint, device, jsonout
from ..console import data_out, print_data, say
from ..errors import VocabularyError
from ..threads import use as use_threads
from .options import (checkpoint_option, checkpoint_or_shipped, corpus_text_option,
                      device_option, json_option, note, threads_option, wrote)


@click.command(name="eval")
@checkpoint_option("evaluate")
@corpus_text_option("Text to score ('-' for stdin); labelled data for a classifier. "
                    "Default: the validation split of the corpus the checkpoint was "
                    "trained on.")
@click.option("--skip-unknown", is_flag=True,
              help="Drop characters the model never saw, then score the rest, as if they were "
                   "not in the text (neither predicted nor context); reports how many.")
@json_option()
@device_option()
@threads_option("1 or all of the BLAS's threads, whichever a short trial finds faster")
def eval_(ckpt_path, corpus_arg, skip_unknown, as_json, threads, device_name):
    """Measure how well a checkpoint predicts text: nats/char, bits/char, perplexity.

    bits/char is nats/char divided by ln 2; perplexity is e to the nats/char. For a
    classifier: accuracy, macro-F1, each class's precision and recall, and the
    confusion matrix.
    """
    from .. import classification, evaluation

    data_out()  # stdout open, before any work
    ckpt_path = checkpoint_or_shipped(ckpt_path)
    where = device.select(device_name)
    ckpt = checkpoint.load(ckpt_path)
    note(use_threads(threads))
    if ckpt.spec.task == "classify":
        if skip_unknown:
            raise click.UsageError("--skip-unknown is for character models; a classifier "
                                   "reads a character it never saw as its unknown symbol")
        summary, source = classification.evaluate_source(ckpt, corpus_arg, where,
                                                         path=ckpt_path, measure=threads is None)
        return print_data(jsonout.dumps(dict(summary, checkpoint=str(ckpt_path), text=source))
                          if as_json else classification.summary_text(summary, source))
    try:
        # without --threads, the thread count is chosen by a trial, as sample's is
        scored = evaluation.score_source(ckpt, corpus_arg, skip_unknown, where,
                                         measure=threads is None)
    except VocabularyError as e:  # the way on this command has
        raise VocabularyError(f"{e}, or pass --skip-unknown to score the text without "
                              "them") from None
    extra = {"skipped": scored.skipped} if skip_unknown else {}
    print_data(jsonout.dumps(dict(scored.as_dict(), checkpoint=str(ckpt_path),
                                  text=scored.source, **extra)) if as_json
               else scored.as_text())


def _layer_unit(ctx, param, value):
    if value is None:
        return None
    parts = value.split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise click.BadParameter(f"expected LAYER:UNIT as two whole numbers, e.g. 0:5; "
                                 f"got {value!r}")
    return int(parts[0]), int(parts[1])


@click.command(name="report")
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
    from .. import classifier_report, report

    ckpt_path = checkpoint_or_shipped(ckpt_path)
    if checkpoint.load(ckpt_path).spec.task == "classify":
        if unit is not None:
            raise click.UsageError("--unit is for character models; a classifier's report "
                                   "reads texts (--text)")
        looked = classifier_report.look(ckpt_path, corpus_arg, read_texts)

        def write(path):
            looked.write(path)
            return f"{looked.source}, accuracy {looked.summary['accuracy']:.4f}"
        return _show(terminal, output, looked.terminal, looked.page, write)
    if read_texts:
        raise click.UsageError("--text is for a classifier; for a character model, pass "
                               "the passage with --corpus")
    looked = report.look(ckpt_path, corpus_arg)

    def write(path):
        layer, index = looked.write(path, unit)
        return f"{looked.inside.source}, unit {layer}:{index} shown first"
    _show(terminal, output, partial(looked.terminal, unit), partial(looked.page, unit), write)


def _show(terminal, output, shown, page, write):
    """A report on the terminal (shown(colour) -> (text, legend)), on stdout (page() ->
    the HTML) or in the file output (write(path) -> what the page shows)."""
    if terminal:
        out = data_out()  # open, before any work
        text, legend = shown(colour=out.isatty())
        print_data(text)
        say(f"rnngen: {legend}")
    elif output == "-":
        print_data(page(), end="")
    else:
        what = write(output)
        wrote(output, holds=what)


@click.command()
@checkpoint_option("export")
@click.option("--output", required=True, help="Where to write the weights-only copy.")
def export(ckpt_path, output):
    """Write a weights-only copy of a checkpoint (no optimizer state), for sharing."""
    from .. import outputs

    ckpt_path = checkpoint_or_shipped(ckpt_path)
    outputs.export(ckpt_path, output)
    wrote(output, f", from {os.path.getsize(ckpt_path) / 2**20:.1f} MiB")
