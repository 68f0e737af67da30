"""Using a classifier: texts in, class probabilities out, and its scores on labelled data.

Texts run through the model in batches of similar lengths (labelled.batches.in_order),
so padding costs little, and come back in their own order. A text's probabilities do
not depend on the batch it ran in (engine/classifier.py: padding is invisible).
"""
import contextlib
import os
import stat
from dataclasses import dataclass

import numpy as np

from . import checkpoint, console, jsonout, labelled, metrics, threads
from .device import CPU
from .engine import classifier, heads, layers
from .errors import CheckpointError, CorpusError
from .labelled import batches as labelled_batches
from .labelled.encode import encode
from .labelled.split import align

BATCH_TEXTS = 512  # texts in one inference batch at most
BATCH_BYTES = 32 << 20  # about the most a batch's forward pass keeps, per direction
LINES_PER_CHUNK = 8192  # texts read, classified and written together (sorted by length)
MAX_LINE_CHARS = labelled.Limits().max_text_chars  # the longest line classify reads


def batch_bounds(spec, lengths, batch_size=BATCH_TEXTS):
    """(texts, characters) one inference batch may hold: as many characters as keep
    the forward pass's arrays (the cell's gates, state and outputs for every step,
    about (G + 3) H floats a character) near BATCH_BYTES, and never fewer than the
    longest text needs."""
    per_char = (spec.cell_module.GATES + 3) * spec.hidden_size * 8
    longest = int(np.max(lengths, initial=1))
    return batch_size, max(BATCH_BYTES // per_char, longest, 1)


def logits(spec, params, encoded, device=CPU, batch_size=BATCH_TEXTS, map_fn=map):
    """(N, K) host logits of encoded's N texts (a labelled.encode.Encoded), in its order;
    ``map_fn`` may run a bidirectional encoder's directions at once (classifier.forward)."""
    out = np.empty((len(encoded), spec.output_size), dtype=np.float64)
    texts, chars = batch_bounds(spec, encoded.lengths, batch_size)
    for batch in labelled_batches.in_order(encoded, texts, chars):
        ids = device.to_device(np.ascontiguousarray(batch.ids.T))  # (T, N), time-major
        lengths = device.to_device(batch.lengths.astype(np.intp))
        logit_rows, _ = classifier.forward(spec, params, ids, lengths, map_fn=map_fn)
        out[batch.index] = device.to_host(logit_rows)
    return out


def cross_entropy(logit_rows, labels, class_weights=None):
    """The mean (or class-weighted mean, as training's) cross-entropy, nats per text."""
    return heads.cross_entropy(logit_rows, labels, class_weights)[0]


def probabilities(logit_rows):
    """(N, K) logits -> (N, K) class probabilities."""
    return np.exp(layers.log_probs(logit_rows))


@dataclass
class Classifier:
    """A classifier ready to answer (what a server keeps loaded): its description,
    parameters on the device, vocabulary (with the unknown symbol) and class names."""

    spec: object  # engine.spec.ClassifierSpec
    params: dict
    vocab: object  # corpus.Vocabulary
    classes: tuple
    device: object = CPU

    @classmethod
    def from_checkpoint(cls, ckpt, device=CPU, path="the checkpoint"):
        if ckpt.spec.task != "classify":
            raise CheckpointError(f"{path} is a character model ({ckpt.spec.describe()}), not "
                                  "a classifier; use rnngen sample or eval with it")
        params = {k: device.to_device(v) for k, v in ckpt.params.items()}
        return cls(ckpt.spec, params, ckpt.vocab, ckpt.classes, device)

    @classmethod
    def load(cls, path, device=CPU):
        return cls.from_checkpoint(checkpoint.load(path), device, path)

    def encode(self, texts, labels=None):
        """labelled.encode.Encoded of texts; characters the model never saw are read as
        its unknown symbol (Encoded.unknown counts them)."""
        return encode(self.vocab, texts, labels)

    def logits(self, encoded, batch_size=BATCH_TEXTS):
        return logits(self.spec, self.params, encoded, self.device, batch_size)

    def probabilities(self, texts):
        """(N, K) class probabilities of N texts, in the classes' order."""
        return probabilities(self.logits(self.encode(texts)))

    def evaluate(self, data):
        """metrics.evaluate's summary of labelled data (a labelled.Labelled whose classes
        are this model's, see labelled.split.align), with the loss in nats per text
        and the characters the model never saw."""
        encoded = self.encode(data.texts, data.labels)
        rows = self.logits(encoded)
        summary = metrics.evaluate(data.labels, rows.argmax(axis=1), self.classes)
        return dict(summary, nats_per_text=cross_entropy(rows, data.labels),
                    unknown_chars=encoded.unknown)


# -- reading texts to classify: one a line ----------------------------------------------

@contextlib.contextmanager
def open_lines(arg, stdin=None):
    """(binary stream, its name) for a FILE argument, '-' meaning stdin (default
    sys.stdin.buffer); CorpusError for a file that is missing or not a file."""
    if arg == "-":
        yield (stdin if stdin is not None else
               console.standard_input("the texts to classify (-)", binary=True)), "stdin"
        return
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(arg, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise CorpusError(f"cannot open {arg} ({e.strerror or e}); name a file of texts, "
                          "one a line, or - for stdin") from None
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise CorpusError(f"{arg} is a folder; name a file of texts, one a line")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as f:
        yield f, str(arg)


def text_lines(stream, source, max_chars=MAX_LINE_CHARS, chunk=LINES_PER_CHUNK):
    """The lines of a binary stream as lists of up to ``chunk`` texts, each without
    its line ending (\\n or \\r\\n). An empty line, bytes that are not UTF-8 or a line
    over max_chars characters is a CorpusError naming source:line: a classifier
    answers for every line, so none may be dropped."""
    texts, number = [], 0
    limit = 4 * max_chars + 2  # bytes: max_chars UTF-8 characters and a line ending
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            break
        number += 1
        where = f"{source}:{number}"
        if len(raw) > limit:
            raise CorpusError(f"{where}: the line is longer than {max_chars:,} characters; "
                              "shorten it")
        raw = raw.removesuffix(b"\n").removesuffix(b"\r")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CorpusError(f"{where}: byte {e.start + 1} of the line is not UTF-8; "
                              "convert the input to UTF-8") from None
        if not text:
            raise CorpusError(f"{where}: the line is empty; a classifier needs at least one "
                              "character a line (remove empty lines, e.g. with grep .)")
        if len(text) > max_chars:
            raise CorpusError(f"{where}: the line is longer than {max_chars:,} characters; "
                              "shorten it")
        texts.append(text)
        if len(texts) == chunk:
            yield texts
            texts = []
    if texts:
        yield texts


def classify_lines(model, stream, source):
    """(texts, probabilities (n, K)) for each chunk of a stream's lines."""
    for texts in text_lines(stream, source):
        yield texts, model.probabilities(texts)


# -- scores on labelled data ----------------------------------------------------------------

def recorded_validation(ckpt, ask="pass --corpus with labelled data to evaluate"):
    """(validation examples (labelled.Labelled), source): the validation texts a
    classifier was trained with, read again from its recorded data and split as
    training split them, only if they are provably the same data (the recorded
    sha256 of the examples). ``ask`` ends each refusal."""
    from . import config
    from .tasks import classify as task

    data, model, train = (ckpt.settings(k) for k in ("data", "model", "train"))
    if not data or not train or not isinstance(data.get("sha256"), str):
        raise CheckpointError(f"the checkpoint does not record which data it was trained on; "
                              f"{ask}")
    if "-" in (data.get("corpus"), data.get("val_file")):
        raise CheckpointError(f"the checkpoint was trained on data read from stdin; {ask}")
    known = {f for f in config.DataConfig.__dataclass_fields__}
    cfg = config.from_dict({"data": {k: v for k, v in data.items() if k in known},
                            "model": model, "train": {"seed": train["seed"]}})
    try:
        read = task.load(cfg)
    except CorpusError as e:
        raise CorpusError(f"{str(e).rstrip('.')}; or {ask}") from None
    if read.sha256 != data["sha256"]:
        raise CorpusError(f"{data['corpus']} is not the data this checkpoint was trained on "
                          f"(the examples' sha256 differs); {ask}")
    source = data.get("val_file") or f"{data['corpus']} (validation split)"
    return read.val, source


def evaluate_source(ckpt, source=None, device=CPU, stdin=None, path="the checkpoint",
                    measure=False):
    """(summary, source name): Classifier.evaluate on labelled data read from
    ``source`` (a file, folder, named set or '-'), or, when None, on the validation
    texts the classifier was trained with (recorded_validation).

    measure: classify on the BLAS thread count a short trial finds faster (1 or all, see
    thread_choice), as `rnngen eval` does without --threads; False: as the BLAS is set.
    """
    model = Classifier.from_checkpoint(ckpt, device, path)
    if source is None:
        data, name = recorded_validation(ckpt)
    else:
        data = align(labelled.load(source, stdin=stdin), model.classes)
        name = data.source
    with threads.blas_threads(thread_choice(model, data.texts) if measure else None):
        return model.evaluate(data), name


TRIAL_TEXTS = BATCH_TEXTS  # texts a thread trial classifies: one inference batch
MEASURED_FROM = 8 * TRIAL_TEXTS  # fewer texts are classified as the BLAS is set: the
# trial (twelve runs of TRIAL_TEXTS) would cost more than a wrong choice saves


def thread_choice(model, texts):
    """The BLAS thread count (1 or all) under which classifying ``texts`` runs faster,
    timed by threads.fastest on the first TRIAL_TEXTS of them, as a character model's
    eval chooses (evaluation.thread_choice); None to leave the count as it is (fewer
    than MEASURED_FROM texts, a model on a device, a BLAS whose count cannot be set)."""
    if len(texts) < MEASURED_FROM or not model.device.is_host:
        return None
    part = model.encode(texts[:TRIAL_TEXTS])
    return threads.fastest(lambda: model.logits(part))


def summary_text(summary, source):
    """What ``rnngen eval`` prints for a classifier: the data's name, the scores
    (metrics.format_summary) and the loss."""
    return "\n".join([f"{source}", *metrics.format_summary(summary), "",
                      f"loss {summary['nats_per_text']:.4f} nats/text; "
                      f"{summary['unknown_chars']:,} characters the model never saw"])


def answer_lines(texts, probs, classes, as_json=False, top=None):
    """classify's output for a chunk of texts with probabilities probs (N, K): a line
    a text, ``label<TAB>probability`` (the ``top`` likeliest pairs with ``top``), or a
    JSON object with every class's probability (only the ``top`` likeliest with it)."""
    k = min(top or len(classes), len(classes))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    lines = []
    for text, p, o in zip(texts, probs, order):
        if as_json:
            shown = o if top else range(len(classes))  # every class, in their order
            lines.append(jsonout.dumps({"text": text, "label": classes[o[0]],
                                        "probability": float(p[o[0]]),
                                        "probabilities": {classes[i]: float(p[i])
                                                          for i in shown}},
                                       ensure_ascii=False))
        else:
            lines.append("\t".join(f"{classes[i]}\t{p[i]:.4f}" for i in (o if top else o[:1])))
    return "".join(line + "\n" for line in lines)
