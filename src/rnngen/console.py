"""The process's standard streams as the command line uses them: stdout for data,
checked before any work; stderr for messages and progress, best effort; and the
training progress display (a live bar on a terminal, plain lines in a log).
"""
import math
import os
import sys
import time

from . import jsonout
from .errors import RnngenError

PROGRESS_LINES = 20  # without a terminal, a plain progress line every 1/20 of the run...
PROGRESS_SECONDS = 60  # ...or every minute, whichever comes first
SEPARATOR = "%%"  # the line between plain-text samples


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


def fill_closed_std_fds():
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


def standard_input(what, binary=False):
    """sys.stdin (its binary buffer when ``binary``) for ``what`` ('--corpus -', ...) to
    read; CorpusError when there is none: fd 0 was closed when rnngen started (Python
    then sets sys.stdin to None) or the stream has been closed since."""
    from .errors import CorpusError

    stream = sys.stdin
    if stream is None or getattr(stream, "closed", False):
        raise CorpusError(f"stdin is closed, so there is nothing to read for {what}; pipe the "
                          "input in (... | rnngen ...) or name a file")
    return stream.buffer if binary else stream


def printable(text, encoding="utf-8"):
    """text as ``encoding`` can write it: the characters it lacks, and the bytes of a file
    name that were not UTF-8 (Python keeps them as lone surrogates, which no encoding
    writes), as backslash escapes. For names shown to a reader, never for data."""
    return text.encode(encoding, "backslashreplace").decode(encoding)


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # None (closed at start) or closed since
        return False


def stdin_is_terminal():
    return _is_terminal(sys.stdin)


def stderr_is_terminal():
    return _is_terminal(sys.stderr)


def data_out(chars=""):
    """sys.stdout, checked before any work: open, and able to encode ``chars``."""
    out = sys.stdout
    if out is None:
        raise RnngenError("stdout is closed; run with stdout open (redirect it to a file "
                          "or a pipe)")
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        chars.encode(encoding)
    except UnicodeEncodeError as e:
        raise RnngenError(f"stdout's encoding ({encoding}) cannot write the character "
                          f"{chars[e.start]!r}; set PYTHONIOENCODING=utf-8") from None
    except LookupError:
        pass
    return out


def print_data(text, end="\n"):
    """Data to stdout, as every command writes it: stdout checked first (open, able to
    encode text), a failed write one line or, when the reader left, a quiet exit."""
    out = data_out(text)
    try:
        out.write(text + end)
        out.flush()
    except OSError as e:
        stdout_failed(e)


def stdout_failed(error):
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


def show_training(r, quiet, with_report=False):
    """Report progress on stderr: a live bar on a terminal; otherwise (a log file) plain
    lines, no carriage returns, every PROGRESS_LINES-th of the run or PROGRESS_SECONDS."""
    from tqdm import tqdm

    from . import report

    trainer, t = r.trainer, r.cfg.train
    live = not quiet and not STDERR.dead and stderr_is_terminal()
    bar = tqdm(total=t.steps, initial=trainer.step, file=STDERR, disable=not live,
               unit="step", dynamic_ncols=True, smoothing=0.1)

    def show(msg):
        bar.write(msg, file=STDERR) if live else say(msg)

    # after a resume, the last validation loss is the checkpoint's
    val = f"{trainer.history[-1]['val_loss']:.3f}" if trainer.history else "-"
    every, last_line = max(1, t.steps // PROGRESS_LINES), time.monotonic()
    per_char = trainer.spec.task == "generate"  # a classifier's loss is per text
    report_told = False
    try:
        for stats in r.steps():
            bpc, speed = stats.loss / math.log(2), f"{stats.chars_per_sec / 1000:.1f}k char/s"
            train = (f"train loss {stats.loss:.3f} ({bpc:.3f} bpc)" if per_char
                     else f"train loss {stats.loss:.3f}")
            if stats.val_loss is not None:
                val = f"{stats.val_loss:.3f}"
                show(f"step {stats.step}: train {trainer.history[-1]['train_loss']:.4f}, "
                     f"val {validation(trainer.history[-1], 3)}, saved {stats.checkpoint}")
                last_line = time.monotonic()
                if with_report:
                    note_shown = report.for_training_or_warning(trainer)
                    if note_shown:
                        show(f"rnngen: {note_shown}")
                    elif not report_told:  # once: where the page is, rewritten as it goes
                        show(f"rnngen: report written to {report.beside(t.output)} "
                             "(rewritten at every validation)")
                        report_told = True
            elif not quiet and not live and (stats.step % every == 0
                                             or time.monotonic() - last_line >= PROGRESS_SECONDS):
                say(f"step {stats.step}/{t.steps}: {train}, val {val} {speed}")
                last_line = time.monotonic()
            bar.set_postfix_str(f"{train}, val {val} {speed}", refresh=False)
            bar.update(1)
    finally:
        bar.close()


_terminal = {"mid_line": False}  # write_stream left a terminal's line unfinished


def end_terminal_line():
    """End the line a stream to a terminal left unfinished (it was interrupted), so a
    message after it starts on a line of its own."""
    if _terminal["mid_line"]:
        _terminal["mid_line"] = False
        try:
            sys.stdout.write("\n")
            sys.stdout.flush()
        except (OSError, ValueError, AttributeError):
            pass


def write_stream(out, pieces):
    """Text as it is made: flushed by the line, a newline at the end on a terminal."""
    pending, terminal = 0, out.isatty()
    for piece in pieces:
        out.write(piece)
        if terminal:
            _terminal["mid_line"] = not piece.endswith("\n")
        pending += 1
        if piece == "\n" or pending >= 256:  # stream by the line, without a flush per char
            out.flush()
            pending = 0
    if terminal:
        out.write("\n")
        _terminal["mid_line"] = False
    out.flush()


def write_samples(out, samples, settings, as_json, null):
    """Whole samples, one by one: JSON lines, NUL-ended, or plain text between %% lines."""
    for i, s in enumerate(samples):
        if as_json:
            out.write(jsonout.dumps(dict(s.as_dict(), index=i, settings=settings)) + "\n")
        elif null:
            out.write(s.seed + s.text + "\0")
        else:  # one sample ends as sample's plain text does; several end each line
            end = "\n" if len(samples) > 1 or out.isatty() else ""
            out.write((SEPARATOR + "\n" if i else "") + s.seed + s.text + end)
        out.flush()


def validation(entry, bits_digits=4):
    """A validation's history entry as words: the loss per character in nats and
    bits, or a classifier's loss per text, accuracy and macro-F1."""
    val = entry["val_loss"]
    if "val_accuracy" not in entry:
        return f"{val:.4f} nats/char ({val / math.log(2):.{bits_digits}f} bits/char)"
    return (f"{val:.4f} nats/text, accuracy {entry['val_accuracy']:.4f}, "
            f"macro-F1 {entry['val_macro_f1']:.4f}")
