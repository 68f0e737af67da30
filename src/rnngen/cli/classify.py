"""rnngen classify: texts a line in, a label a line out."""
import click

from .. import console, device
from ..console import data_out, say, stdout_failed
from ..threads import use as use_threads
from .options import device_option, note, threads_option


@click.command()
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
    from .. import classification

    model = classification.Classifier.load(ckpt_path, device.select(device_name))
    out = data_out("".join(model.classes))
    note(use_threads(threads))
    if source == "-" and console.stdin_is_terminal():
        say("rnngen: reading texts from stdin, one a line; end with Ctrl-D")
    try:
        with classification.open_lines(source) as (stream, name):
            for texts, probs in classification.classify_lines(model, stream, name):
                out.write(classification.answer_lines(texts, probs, model.classes,
                                                      as_json, top))
                out.flush()
    except OSError as e:
        stdout_failed(e)
