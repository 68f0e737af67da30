"""Checkpoints: one self-describing .npz, written atomically, read without pickle.

Entries (``schema`` declares every field and shape):
    param/<name>       every model parameter (see engine.model)
    state/<part>       (L, N, H) each part of the carried state at the end of the
                       last training batch: h, and c for the LSTM
    opt/<name>/<slot>  optimizer state arrays (Adam's m and v, ...)
    meta               one JSON string: format and version, the model description,
                       model/train/data config, vocabulary, step, data position,
                       RNG state, loss history
"""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__, atomic, config, npzread, schema
from .errors import CheckpointError

FORMAT, VERSION = schema.FORMAT, schema.VERSION
NPY_HEADER_BYTES = 4096  # an .npy header's bound, beyond its array's bytes


@dataclass
class Checkpoint:
    """A model and, when training wrote it, the record of its run.

    ``meta`` is the recorded metadata as ``schema`` lays it out; read it through the
    properties below, and make a new one with ``training_record``. ``save`` writes it.
    """
    spec: object  # engine.spec.ModelSpec
    params: dict  # name -> array
    meta: dict  # the recorded metadata (see schema); read through the accessors
    state: np.ndarray = None  # (L, N, S*H) carried state, or None
    optimizer_state: dict = field(default_factory=dict)  # name -> {slot: array | number}

    # -- what the model reads ------------------------------------------------------
    @property
    def vocab_chars(self):
        """The vocabulary, its characters in id order (a string)."""
        return self.meta["vocab"]

    @property
    def vocab(self):
        """The vocabulary as a corpus.Vocabulary (characters <-> ids)."""
        from .corpus import Vocabulary  # keeps loading a checkpoint light

        return Vocabulary(self.vocab_chars)

    @property
    def classes(self):
        """A classifier's class names, in the order of its outputs (None otherwise)."""
        classes = self.meta.get("classes")
        return None if classes is None else tuple(classes)

    @property
    def version(self):
        """The format version it was written in (VERSION for one made in memory)."""
        return self.meta.get("version", VERSION)

    @property
    def created_by(self):
        return self.meta.get("created_by")

    # -- the run that made it -------------------------------------------------------
    @property
    def step(self):
        """Optimizer steps taken, or None when not recorded."""
        return self.meta.get("step")

    @property
    def history(self):
        """[{step, train_loss, val_loss, seconds}] at each validation (empty if none)."""
        return list(self.meta.get("history") or [])

    @property
    def best_val(self):
        """The best validation loss (nats/char), or None."""
        return self.meta.get("best_val")

    @property
    def train_seconds(self):
        return self.meta.get("train_seconds")

    @property
    def recent_losses(self):
        """Training losses since the last validation."""
        return list(self.meta.get("recent_losses") or [])

    @property
    def position(self):
        """The data position {epoch, offset, index} to resume from, or None."""
        return self.meta.get("position")

    @property
    def rng_state(self):
        """The training generator's PCG64 state, or None."""
        return self.meta.get("rng")

    @property
    def init_from(self):
        """{path, sha256, step} of the checkpoint a fine-tuning run started from, or None."""
        return self.meta.get("init_from")

    @property
    def weights_only(self):
        return bool(self.meta.get("weights_only", False))

    @property
    def corpus(self):
        """The CorpusRecord of the text it was trained on, or None when not recorded."""
        data = self.meta.get("data")
        if not isinstance(data, dict):
            return None
        return CorpusRecord(data.get("corpus"), data.get("sha256"), data.get("chars"),
                            data.get("val_fraction"))

    def settings(self, section):
        """The config section ("data", "model" or "train") it was trained with, as a
        dict of the recorded keys, or None when not recorded."""
        if section == "model":
            return schema.model_settings(self.meta, self.spec, self.version)
        return self.meta.get(section)

    def missing_training_state(self):
        """What a resume needs that it lacks (empty when training can continue from it)."""
        return [k for k in schema.TRAINING_STATE if k not in self.meta]


@dataclass(frozen=True)
class CorpusRecord:
    """What a checkpoint records of its training text (any field may be None)."""
    name: str  # data.corpus: a path or a named corpus
    sha256: str
    chars: int
    val_fraction: float


def training_record(cfg, data, vocab_chars, *, classes=None, step, position, rng, history,
                    best_val, seconds, recent_losses, init_from=None):
    """The metadata of a checkpoint training writes: its config (config.recorded), the
    training data's record ``data`` ({sha256, chars}), its vocabulary, a classifier's
    class names, the run's progress, and where a fine-tuning started (init_from)."""
    sections = config.recorded(cfg)
    record = {
        "created_by": f"rnngen {__version__}",
        "model": sections["model"],
        "train": sections["train"],
        "data": dict(sections["data"], corpus=_recorded_name(cfg.data.corpus), **data),
        "vocab": vocab_chars,
        "step": step,
        "position": position,
        "rng": rng,
        "history": history,
        "best_val": best_val,
        "train_seconds": seconds,
        "recent_losses": recent_losses,
    }
    if classes is not None:
        record["classes"] = list(classes)
    if init_from is not None:
        record["init_from"] = dict(init_from)
    return record


def _recorded_name(name):
    """data.corpus as a checkpoint records it: a named corpus by its name, a file by its
    absolute path, so eval and report find it again from any directory (its sha256
    and length are recorded beside it)."""
    from .corpus import NAMED

    if name in NAMED or not os.path.exists(name):  # a named corpus or data set
        return name
    return str(Path(os.path.abspath(name)))


def _metadata(ckpt, optimizer_scalars):
    """The one writer of the metadata JSON: the record, in the current format version,
    the model description stored once (the model settings keep only what it lacks)."""
    meta = {k: v for k, v in ckpt.meta.items() if k not in ("format", "version", "spec")}
    if "model" in meta:
        described = schema.described_settings(ckpt.spec)
        meta["model"] = {k: v for k, v in meta["model"].items() if k not in described}
    return dict(meta, format=FORMAT, version=VERSION, spec=ckpt.spec.to_dict(),
                optimizer_scalars=optimizer_scalars)


def save(path, ckpt):
    """Write ckpt to path atomically: temp file in the same directory, fsync, rename.

    A crash at any moment leaves either the old file or the new one, never half.
    """
    path = Path(path)
    arrays = {f"param/{k}": v for k, v in ckpt.params.items()}
    if ckpt.state is not None:
        H = ckpt.spec.hidden_size
        for i, part in enumerate(schema.state_parts(ckpt.spec)):
            arrays[f"state/{part}"] = ckpt.state[..., i * H:(i + 1) * H]
    scalars = {}
    for name, slots in ckpt.optimizer_state.items():
        for slot, value in slots.items():
            if isinstance(value, np.ndarray):
                arrays[f"opt/{name}/{slot}"] = value
            else:
                scalars.setdefault(name, {})[slot] = value
    arrays["meta"] = np.array(json.dumps(_metadata(ckpt, scalars)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write(path, lambda f: np.savez(f, **arrays))
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {path}: {e.strerror or e}; "
                              "check that its directory is writable and the disk has room, "
                              "or choose another output path") from None


def load(path):
    """Read a checkpoint; CheckpointError says what is wrong with a bad one."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; train one with 'rnngen train' "
                              "or pass --checkpoint with an existing .npz")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory; pass a .npz file")
    if not path.is_file():  # a FIFO or a device: opening it could wait for ever
        raise CheckpointError(f"checkpoint {path} is not a regular file; pass a .npz file")
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
            return _read(npz, path)
    except CheckpointError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e) or "pickle" in str(e).lower():
            raise CheckpointError(f"{path} holds pickled objects, which rnngen refuses to load; "
                                  "it is not an rnngen checkpoint") from None
        raise CheckpointError(f"{path} is not a readable checkpoint ({e}); "
                              "it may be truncated or corrupted: use another copy") from None
    except Exception as e:  # zip, zlib, npy-header and size errors: all mean a bad file
        raise CheckpointError(f"{path} is not a readable .npz checkpoint ({type(e).__name__}); "
                              "it may be truncated or corrupted: use another copy") from None


def weights_only(ckpt):
    """A copy of ckpt without optimizer state: a third of the size, for sharing.

    It samples and evaluates like the original; training cannot resume from it
    exactly, so the trainer refuses it.
    """
    meta = {k: v for k, v in ckpt.meta.items() if k not in schema.RESUME_ONLY}
    return Checkpoint(ckpt.spec, ckpt.params, dict(meta, weights_only=True), ckpt.state, {})


def check_writable(path, flag="--output or train.output"):
    """Fail now, not at the first checkpoint, if ``path`` cannot be written (``flag``
    names where the path came from, for the message)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.probe(path)  # a name too long for save()'s temporary sibling fails now
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoints to {path.parent}: "
                              f"{e.strerror or e}; choose another output path "
                              f"({flag})") from None
    if path.is_dir():
        raise CheckpointError(f"output {path} is a directory; name a .npz file ({flag})")


def _read(npz, path):
    """Validate and read an open .npz lazily: the metadata first, then only the
    members the schema expects, each decompressed only up to what its shape allows
    (npzread: the sizes a zip header declares are not trusted)."""
    members = {info.filename.removesuffix(".npy"): info for info in npz.zip.infolist()}
    if len(members) > schema.MAX_MEMBERS:
        raise CheckpointError(f"{path} has {len(members)} arrays, more than any checkpoint; "
                              "it is not an rnngen checkpoint")
    if "meta" not in members:
        raise CheckpointError(f"{path} is not an rnngen checkpoint (no metadata entry)")

    def read(name, limit):
        try:
            return npzread.read_array(npz.zip.fp, members[name], limit + NPY_HEADER_BYTES)
        except npzread.MemberError as e:
            raise CheckpointError(f"{path} is not a valid rnngen checkpoint: array {name!r}: "
                                  f"{e}; it may be truncated or corrupted, or made by hand: "
                                  "use another copy") from None

    raw = read("meta", schema.MAX_META_BYTES)
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise CheckpointError(f"{path} is not an rnngen checkpoint (its metadata is not a string)")
    try:
        meta = json.loads(str(raw))
    except (ValueError, RecursionError):
        raise CheckpointError(f"{path} has unreadable metadata; it may be corrupted") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rnngen checkpoint")
    version = meta.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise CheckpointError(f"{path} was written by a newer rnngen (format version {version}, "
                              f"this one reads up to {VERSION}); upgrade rnngen")
    try:
        spec = schema.check_meta(meta)
        expected = schema.expected_arrays(spec, meta)
        for name in members:
            if name != "meta" and name not in expected:
                raise schema.SchemaError(f"unexpected array {name!r}")
        arrays = {}
        for name, (shape, kind) in expected.items():
            if name not in members:
                continue
            # the state's N is free, up to a bound; its shape is checked once read
            bound = [schema.MAX_STATE_STREAMS if d is None else d for d in shape]
            arr = read(name, 8 * int(np.prod(bound)))  # float64 at most
            if arr.dtype.kind != kind or arr.ndim != len(shape) or 0 in arr.shape or any(
                    w is not None and w != d for w, d in zip(shape, arr.shape)):
                raise schema.SchemaError(f"array {name!r} is {arr.dtype} {arr.shape}, "
                                         f"expected floats of shape {shape}")
            if not name.startswith("opt/") and not np.isfinite(arr).all():
                raise schema.SchemaError(f"array {name!r} holds values that are not finite")
            arrays[name] = arr
        missing = [k for k in expected if k.startswith("param/") and k not in arrays]
        if missing:
            raise schema.SchemaError(f"array {missing[0]!r} is missing")
        params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
        state = _join_state(spec, arrays)
        opt = _optimizer_state(spec, meta, arrays)
    except schema.SchemaError as e:
        raise CheckpointError(f"{path} is not a valid rnngen checkpoint: {e}; "
                              "it may be corrupted or made by hand: use another copy") from None
    return Checkpoint(spec=spec, params=params, meta=meta, state=state, optimizer_state=opt)


def _join_state(spec, arrays):
    """The stored state parts -> one (L, N, S*H) array, or None when absent."""
    names = [f"state/{part}" for part in schema.state_parts(spec)]
    present = [n for n in names if n in arrays]
    if not present:
        return None
    if len(present) != len(names):
        raise schema.SchemaError(f"state array {sorted(set(names) - set(present))[0]!r} "
                                 "is missing")
    parts = [arrays[n] for n in names]
    if len({p.shape for p in parts}) != 1:
        raise schema.SchemaError("the state arrays differ in shape")
    return np.concatenate(parts, axis=-1)


def _optimizer_state(spec, meta, arrays):
    slots = schema.optimizer_slots(meta)
    params = spec.param_shapes()
    opt = {}
    for k, v in arrays.items():
        if k.startswith("opt/"):
            _, name, slot = k.split("/")
            opt.setdefault(name, {})[slot] = v
    for name, values in meta.pop("optimizer_scalars", {}).items():
        for slot, value in values.items():
            if name not in params or slot not in slots:
                raise schema.SchemaError(f"optimizer state {name}/{slot} is not one the "
                                         "optimizer keeps")
            opt.setdefault(name, {})[slot] = value
    return opt
