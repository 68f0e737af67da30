"""Outputs that must not clobber inputs, and one live writer per output.

``check_distinct`` refuses an output path that is one of the run's inputs (the
file may not exist yet, so resolved paths are compared as well as inodes).
``OutputLock`` holds an advisory lock (fcntl.flock) on a sibling ``.NAME.lock``
for a whole run, so a second run writing the same checkpoint fails at once,
naming the first one's PID. Where fcntl is missing (Windows) it does nothing.
"""
import os
import stat
from pathlib import Path

from .errors import CheckpointError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None


def same_file(a, b):
    """Whether paths a and b name one file (b need not exist)."""
    a, b = Path(a), Path(b)
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def check_distinct(output, inputs, what="--output"):
    """CheckpointError if output is one of inputs ({description: path}); before any work."""
    for name, path in inputs.items():
        if path is not None and same_file(output, path):
            raise CheckpointError(f"{what} {output} is the {name}; writing there would "
                                  "replace it: choose another output path")


def lock_path(output):
    """.NAME.lock beside the file output names, symlinks followed: two spellings of
    one output share one lock."""
    output = Path(os.path.realpath(output))
    return output.with_name(f".{output.name}.lock")


# a lock file holds a PID and a newline; anything larger was never one of ours
MAX_LOCK_BYTES = 32
# never follow a link at the last step, never wait on a FIFO, never leak to children
_OPEN_FLAGS = (os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0))


def open_lock_file(path):
    """An fd on the lock file at ``path``: created new (O_EXCL), or an existing one
    opened without truncation, and only if it is a small regular file with one link.

    A symbolic link, a hard link to another file, a FIFO, a device or a file larger
    than a PID is refused (CheckpointError), so a planted name never makes rnngen
    write into, or empty, a file of value.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except IsADirectoryError:
            raise CheckpointError(_not_a_lock(path, "is a directory")) from None
        except OSError as e:
            if os.path.islink(path):
                raise CheckpointError(_not_a_lock(path, "is a symbolic link")) from None
            raise CheckpointError(f"cannot open the lock file {path}: {e.strerror or e}; "
                                  "choose another output path") from None
    except OSError as e:
        raise CheckpointError(f"cannot create the lock file {path}: {e.strerror or e}; "
                              "choose another output path") from None
    info = os.fstat(fd)
    problem = ("is not a regular file" if not stat.S_ISREG(info.st_mode)
               else "has other names (a hard link)" if info.st_nlink != 1
               else "holds more than a PID" if info.st_size > MAX_LOCK_BYTES else None)
    if problem:
        os.close(fd)
        raise CheckpointError(_not_a_lock(path, problem))
    return fd


def _not_a_lock(path, problem):
    return (f"the lock file {path} {problem}, so it is not rnngen's; "
            "move it away (it may be a file of value) or choose another output path")


class OutputLock:
    """An exclusive advisory lock on ``output`` for the life of a run (a context manager)."""

    def __init__(self, output):
        self.output, self.path = output, lock_path(output)
        self.fd = None
        self.note = None if fcntl else "file locking is not available here; not locked"

    def __enter__(self):
        if fcntl is None:
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CheckpointError(f"cannot create the lock file {self.path}: "
                                  f"{e.strerror or e}; choose another output path") from None
        fd = open_lock_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _read_pid(fd)
            os.close(fd)
            who = f"process {other}" if other else "another process"
            raise CheckpointError(f"{self.output} is being "
                                  f"written by another rnngen run ({who}); wait for it "
                                  "to finish or choose another output path") from None
        except OSError:  # a file system without locks: run unlocked rather than not at all
            self.note = f"cannot lock {self.path} on this file system; not locked"
            os.close(fd)
            return self
        # the file is ours (checked by open_lock_file) and locked: its old PID may go
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            # the lock file stays: deleting it would let a waiting run lock a file
            # that a third run then recreates and locks too
            os.close(self.fd)
            self.fd = None


def _read_pid(fd):
    try:
        data = os.pread(fd, MAX_LOCK_BYTES, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return data if data.isdigit() else None
