"""Writing a file atomically: a temporary sibling, fsync, rename.

A crash at any moment leaves the old file or the new one, never half of one, and a
reader (a sampler loading a checkpoint, a browser reloading the report) never sees a
partial file. Temporary files are named .NAME.HOST.PID.XXXX.tmp: host and PID tell
a later write whether the writer of one is gone (killed mid-write) and the file is
litter (sweep_stale). A signal that ends a job (SIGTERM, SIGHUP, SIGQUIT, SIGXCPU
where they would kill the process outright; SIGINT as KeyboardInterrupt) stops a
write in the main thread by an exception, so the temporary file goes with it.
"""
import contextlib
import os
import re
import signal
import socket
import tempfile
import threading
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def temp_prefix(path):
    return f".{Path(path).name}.{_HOST}.{os.getpid()}."


def probe(path):
    """Create and delete the temporary sibling write() would use, so that a folder
    that is not writable, or a name too long for its sibling, fails before any work.
    Raises OSError."""
    fd, tmp = tempfile.mkstemp(dir=Path(path).parent, prefix=temp_prefix(path), suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)


class Interrupted(BaseException):
    """A signal that ends a job arrived during a write (which left nothing behind).
    A BaseException, as KeyboardInterrupt is: no ``except Exception`` swallows it."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


# the signals whose default action ends the process; SIGINT raises KeyboardInterrupt
ENDING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGXCPU")
               if hasattr(signal, name))


@contextlib.contextmanager
def _ending_signals_raise():
    """While in the block, each ENDING signal still at its default action (a run that
    handles its own, like training, keeps them) raises Interrupted instead of killing
    the process at once, so ``finally`` clauses run. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def interrupt(signum, frame):
        raise Interrupted(signum)

    try:
        for s in ENDING:
            if signal.getsignal(s) == signal.SIG_DFL:
                previous[s] = signal.signal(s, interrupt)
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def write(path, fill):
    """Write path atomically: ``fill(f)`` writes the bytes to an open binary file.
    Raises OSError, for the caller to word, or Interrupted; no temporary file is
    left behind either way."""
    path = Path(path)
    sweep_stale(path)
    tmp = None
    with _ending_signals_raise():
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path),
                                       suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                fill(f)
                f.flush()
                os.fsync(f.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give a normal file's mode
            os.replace(tmp, path)
            tmp = None
            _fsync_dir(path.parent)  # the rename itself survives a power cut
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)


def sweep_stale(path):
    """Delete temporary files that a killed writer of ``path`` on this host left.

    Only on POSIX, where os.kill(pid, 0) asks whether a process exists; only names
    that are exactly ours for this path and host (a folder shared between hosts
    keeps other hosts' files, whose PIDs mean nothing here).
    """
    if os.name != "posix":
        return
    ours = re.escape(f".{path.name}.{_HOST}")  # temp_prefix without the PID
    pattern = re.compile(rf"{ours}\.([0-9]{{1,9}})\.[^.]+\.tmp")
    for tmp in path.parent.iterdir():
        match = pattern.fullmatch(tmp.name)
        if not match or int(match.group(1)) == os.getpid():
            continue  # not ours, or our own write in progress
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:  # the writer is gone
            try:
                tmp.unlink()
            except OSError:
                pass
        except OSError:  # alive, but another user's
            pass


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open directories; the rename is still atomic
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
