"""Checkpoints: one self-describing .npz, written atomically, read without pickle.

Entries:
    param/<name>       every model parameter (see engine.model)
    state/h            (L, N, H) hidden state at the end of the last training batch
    opt/<name>/<slot>  optimizer state arrays (Adam's m and v, ...)
    meta               one JSON string: format and version, model/train/data config,
                       vocabulary, step, data position, RNG state, loss history
"""
import json
import os
import re
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CheckpointError

FORMAT = "rnngen-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    params: dict  # name -> array
    meta: dict  # JSON-able metadata (see module docstring)
    hidden: np.ndarray = None  # (L, N, H) or None
    optimizer_state: dict = field(default_factory=dict)  # name -> {slot: array | number}

    @property
    def vocab_chars(self):
        return self.meta["vocab"]


def save(path, ckpt):
    """Write ckpt to path atomically: temp file in the same directory, fsync, rename.

    A crash at any moment leaves either the old file or the new one, never half.
    """
    path = Path(path)
    arrays = {f"param/{k}": v for k, v in ckpt.params.items()}
    if ckpt.hidden is not None:
        arrays["state/h"] = ckpt.hidden
    scalars = {}
    for name, slots in ckpt.optimizer_state.items():
        for slot, value in slots.items():
            if isinstance(value, np.ndarray):
                arrays[f"opt/{name}/{slot}"] = value
            else:
                scalars.setdefault(name, {})[slot] = value
    meta = dict(ckpt.meta, format=FORMAT, version=VERSION, optimizer_scalars=scalars)
    arrays["meta"] = np.array(json.dumps(meta))
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _sweep_stale_temps(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give a normal file's mode
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {path}: {e.strerror or e}; "
                              "check that its directory is writable and the disk has room, "
                              "or choose another output path") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def _temp_prefix(path):
    """Temp files are named .NAME.HOST.PID.XXXX.tmp: host and PID tell a later save
    whether the writer of one is gone (killed mid-write) and the file is litter."""
    return f".{path.name}.{_HOST}.{os.getpid()}."


def _sweep_stale_temps(path):
    """Delete temp files that a killed writer of ``path`` on this host left behind.

    Only on POSIX, where os.kill(pid, 0) asks whether a process exists; only names
    that are exactly ours for this path and host (a directory shared between hosts
    keeps other hosts' files, whose PIDs mean nothing here).
    """
    if os.name != "posix":
        return
    ours = re.escape(f".{path.name}.{_HOST}")  # _temp_prefix without the PID
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


def load(path):
    """Read a checkpoint; CheckpointError says what is wrong with a bad one."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; train one with 'rnngen train' "
                              "or pass --checkpoint with an existing .npz")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory; pass a .npz file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    if magic != b"PK\x03\x04":  # every .npz is a zip archive
        raise CheckpointError(f"{path} is not an .npz archive; it may be truncated or "
                              "corrupted, or not a checkpoint at all: use another copy")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as e:
        if "allow_pickle" in str(e) or "pickle" in str(e).lower():
            raise CheckpointError(f"{path} holds pickled objects, which rnngen refuses to load; "
                                  "it is not an rnngen checkpoint") from None
        raise CheckpointError(f"{path} is not a readable checkpoint ({e}); "
                              "it may be truncated or corrupted: use another copy") from None
    except Exception as e:  # zip, zlib, npy-header and size errors: all mean a bad file
        raise CheckpointError(f"{path} is not a readable .npz checkpoint ({type(e).__name__}); "
                              "it may be truncated or corrupted: use another copy") from None
    return _from_arrays(arrays, path)


def weights_only(ckpt):
    """A copy of ckpt without optimizer state: a third of the size, for sharing.

    It samples and evaluates like the original; training cannot resume from it
    exactly, so the trainer refuses it.
    """
    return Checkpoint(ckpt.params, dict(ckpt.meta, weights_only=True), ckpt.hidden, {})


def check_writable(path):
    """Fail now, not at the first checkpoint, if ``path`` cannot be written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the name save() will use, so a name too long for its temp sibling fails now
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoints to {path.parent}: "
                              f"{e.strerror or e}; choose another output path "
                              "(--output or train.output)") from None
    if path.is_dir():
        raise CheckpointError(f"output {path} is a directory; name a .npz file "
                              "(--output or train.output)")


def _from_arrays(arrays, path):
    raw = arrays.pop("meta", None)
    if raw is None or raw.dtype.kind != "U" or raw.ndim != 0:
        raise CheckpointError(f"{path} is not an rnngen checkpoint (no metadata entry)")
    try:
        meta = json.loads(str(raw))
    except ValueError:
        raise CheckpointError(f"{path} has unreadable metadata; it may be corrupted") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rnngen checkpoint")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(f"{path} was written by a newer rnngen (format version {version}, "
                              f"this one reads up to {VERSION}); upgrade rnngen")
    try:
        params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
        opt = {}
        for k, v in arrays.items():
            if k.startswith("opt/"):
                _, name, slot = k.split("/")
                opt.setdefault(name, {})[slot] = v
        for name, slots in meta.pop("optimizer_scalars", {}).items():
            opt.setdefault(name, {}).update(slots)
        _check_shapes(params, meta, path)
        hidden = arrays.get("state/h")
        _check_state(params, hidden, opt)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{path} is an inconsistent rnngen checkpoint ({e}); "
                              "it may be corrupted") from None
    return Checkpoint(params=params, meta=meta, hidden=hidden, optimizer_state=opt)


def _check_shapes(params, meta, path):
    from .engine.model import param_shapes

    m = meta["model"]
    vocab = meta["vocab"]
    if not isinstance(vocab, str) or not vocab or list(vocab) != sorted(set(vocab)):
        raise ValueError("the vocabulary is not a sorted string of distinct characters")
    want = param_shapes(len(vocab), m["hidden_size"], m["num_layers"], m.get("skip", False))
    if set(params) != set(want):
        raise ValueError(f"parameters {sorted(params)} do not match the model config")
    for name, shape in want.items():
        arr = params[name]
        if arr.shape != shape or arr.dtype.kind != "f":
            raise ValueError(f"{name} has shape {arr.shape} {arr.dtype}, expected {shape}")


def _check_state(params, hidden, opt):
    L = sum(1 for k in params if k.startswith("Whh"))
    H = params["Whh0"].shape[0]
    if hidden is not None and (hidden.ndim != 3 or hidden.shape[0] != L or hidden.shape[2] != H
                               or hidden.shape[1] < 1 or hidden.dtype.kind != "f"):
        raise ValueError(f"hidden state has shape {hidden.shape}, expected ({L}, N, {H})")
    for name, slots in opt.items():
        if name not in params:
            raise ValueError(f"optimizer state for unknown parameter {name}")
        for slot, value in slots.items():
            if isinstance(value, np.ndarray):
                if value.shape != params[name].shape:
                    raise ValueError(f"optimizer state {name}/{slot} has shape {value.shape}")
            elif not isinstance(value, (int, float)):
                raise ValueError(f"optimizer state {name}/{slot} is {type(value).__name__}")
