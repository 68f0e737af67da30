"""The checkpoint's metadata schema: every field's type and range, every array's
name, shape and dtype, in one place. ``checkpoint`` writes the metadata (one function)
and reads it; everything else asks a loaded Checkpoint, never the raw metadata.

A checkpoint is untrusted input: ``check_meta`` and ``expected_arrays`` run before
any field or array is used, and errors name the field.

Format versions:
  1  tanh RNN only; the model's form was implied by meta["model"] and the vocabulary
  2  meta["spec"] holds the model description (spec.ModelSpec); the carried state
     is stored one part per array (state/h, and state/c for the LSTM); meta["model"]
     repeats the description's cell and sizes among the model settings
  3  the description is stored once, in meta["spec"] (with the task and its output
     size); meta["model"] holds only the settings it lacks (dropout, init, ...)
"""
import dataclasses
import math
import re

from . import config
from .engine import optim
from .engine.spec import ModelSpec

FORMAT = "rnngen-checkpoint"
VERSION = 3

MAX_META_BYTES = 64 << 20  # the JSON metadata string, as stored (UTF-32 in .npy)
MAX_DEPTH = 6  # nesting of the JSON metadata (the rng state is the deepest, at 3)
MAX_MEMBERS = 10_000  # arrays in one .npz
MAX_STATE_STREAMS = 1 << 16  # N of a stored state


def _is_int(v, lo=0):
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _is_num(v, lo=-math.inf):
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and v >= lo)


def _is_loss(v):
    return _is_num(v, 0.0)


HISTORY = {"step", "train_loss", "val_loss", "seconds"}  # every validation's record
HISTORY_METRICS = {"val_accuracy", "val_macro_f1"}  # a classifier's, in [0, 1]


def _history_entry(v):
    return (isinstance(v, dict) and HISTORY <= set(v) <= HISTORY | HISTORY_METRICS
            and _is_int(v["step"]) and _is_loss(v["train_loss"]) and _is_loss(v["val_loss"])
            and _is_num(v["seconds"], 0.0)
            and all(_is_num(v[k], 0.0) and v[k] <= 1 for k in HISTORY_METRICS & set(v)))


def _rng_state(v):
    """numpy's PCG64 state dict, as Generator.bit_generator.state gives it."""
    return (isinstance(v, dict) and v.get("bit_generator") == "PCG64"
            and set(v) == {"bit_generator", "state", "has_uint32", "uinteger"}
            and isinstance(v["state"], dict) and set(v["state"]) == {"state", "inc"}
            and _is_int(v["state"]["state"]) and v["state"]["state"] < 1 << 128
            and _is_int(v["state"]["inc"]) and v["state"]["inc"] < 1 << 128
            and v["has_uint32"] in (0, 1) and _is_int(v["uinteger"]) and v["uinteger"] < 1 << 32)


def _position(v):
    """A character model's {epoch, offset, index} (training.Batches) or a classifier's
    {epoch, seed, index} (labelled.batches.LengthBatches; seed and index null before
    the first batch)."""
    if not (isinstance(v, dict) and set(v) in ({"epoch", "offset", "index"},
                                               {"epoch", "seed", "index"})):
        return False
    if "offset" in v:
        return _is_int(v["epoch"]) and _is_int(v["offset"]) and (v["index"] is None
                                                                  or _is_int(v["index"]))
    fresh = v["seed"] is None and v["index"] is None
    return _is_int(v["epoch"]) and (fresh or (_is_int(v["seed"]) and v["seed"] < 1 << 63
                                              and _is_int(v["index"])))


MAX_CLASSES, MAX_CLASS_CHARS = 100_000, 1_000  # bounds on a classifier's class names


def _classes(v):
    return (isinstance(v, list) and 2 <= len(v) <= MAX_CLASSES and len(set(v)) == len(v)
            and all(isinstance(c, str) and 0 < len(c) <= MAX_CLASS_CHARS for c in v))


def _vocab(v):
    return isinstance(v, str) and 0 < len(v) <= 1 << 21 and list(v) == sorted(set(v))


def _data(v):
    return (isinstance(v, dict) and isinstance(v.get("corpus"), str)
            and (v.get("sha256") is None or (isinstance(v["sha256"], str)
                                             and re.fullmatch("[0-9a-f]{64}", v["sha256"])))
            and (v.get("chars") is None or _is_int(v["chars"])))


def _init_from(v):
    return (isinstance(v, dict) and set(v) == {"path", "sha256", "step"}
            and isinstance(v["path"], str) and 0 < len(v["path"]) < 4096
            and isinstance(v["sha256"], str) and re.fullmatch("[0-9a-f]{64}", v["sha256"])
            and (v["step"] is None or _is_int(v["step"])))


# field -> (what it must be, test). Fields marked in REQUIRED must be present; the
# others are checked when present (an exported or hand-made checkpoint lacks them).
FIELDS = {
    "format": ("the string " + FORMAT, lambda v: v == FORMAT),
    "version": (f"an integer from 1 to {VERSION}", lambda v: _is_int(v, 1) and v <= VERSION),
    "created_by": ("a string", lambda v: isinstance(v, str) and len(v) < 200),
    "vocab": ("a sorted string of distinct characters", _vocab),
    "classes": (f"a list of 2 to {MAX_CLASSES:,} distinct class names", _classes),
    "spec": ("a model description", lambda v: isinstance(v, dict)),
    "model": ("a mapping of model settings", lambda v: isinstance(v, dict)),
    "train": ("a mapping of training settings", lambda v: isinstance(v, dict)),
    "data": ("a mapping with the corpus, its sha256 and size", _data),
    "step": ("an integer >= 0", _is_int),
    "position": ("a data position {epoch, offset or seed, index}", _position),
    "rng": ("a PCG64 generator state", _rng_state),
    "history": ("a list of {step, train_loss, val_loss, seconds} (and a classifier's "
                "val_accuracy, val_macro_f1)",
                lambda v: isinstance(v, list) and all(map(_history_entry, v))),
    "best_val": ("a loss >= 0 or null", lambda v: v is None or _is_loss(v)),
    "train_seconds": ("a number of seconds >= 0", lambda v: _is_num(v, 0.0)),
    "recent_losses": ("a list of losses",
                      lambda v: isinstance(v, list) and all(map(_is_loss, v))),
    "init_from": ("{path, sha256, step} of the checkpoint a fine-tuning started from",
                  _init_from),
    "weights_only": ("true or false", lambda v: isinstance(v, bool)),
    "optimizer_scalars": ("a mapping parameter -> {slot: number}",
                          lambda v: isinstance(v, dict) and all(
                              isinstance(s, dict) and all(_is_num(x) for x in s.values())
                              for s in v.values())),
}
REQUIRED = ("format", "version", "vocab")
REQUIRED_BY_VERSION = {1: ("model",), 2: ("spec", "model"), 3: ("spec",)}
# what a run needs to resume exactly (an exported checkpoint has none of it)
RESUME_ONLY = ("position", "rng", "recent_losses")  # needed only to resume exactly
TRAINING_STATE = ("train", "data", "step", "history", "best_val", "train_seconds") + RESUME_ONLY


class SchemaError(ValueError):
    """A metadata field or array is not what the schema says; str() names it."""


def depth(value, limit=MAX_DEPTH + 1):
    """Nesting depth of parsed JSON, counted up to ``limit``."""
    if limit <= 0 or not isinstance(value, (dict, list)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((depth(v, limit - 1) for v in items), default=0)


def check_meta(meta):
    """Validate parsed metadata; returns its ModelSpec. Raises SchemaError."""
    if not isinstance(meta, dict):
        raise SchemaError("the metadata is not a mapping")
    if depth(meta) > MAX_DEPTH:
        raise SchemaError(f"the metadata is nested deeper than {MAX_DEPTH} levels")
    unknown = sorted(set(meta) - set(FIELDS))
    if unknown:
        raise SchemaError(f"unknown metadata field {unknown[0]!r}")
    for name in REQUIRED:
        if name not in meta:
            raise SchemaError(f"metadata field {name!r} is missing")
    for name, value in meta.items():
        what, test = FIELDS[name]
        if not test(value):
            raise SchemaError(f"metadata field {name!r} must be {what}")
    for name in REQUIRED_BY_VERSION[meta["version"]]:
        if name not in meta:
            raise SchemaError(f"metadata field {name!r} is missing")
    spec = read_spec(meta)
    _check_classes(meta, spec)
    _check_settings(meta, spec)
    return spec


def _check_classes(meta, spec):
    """A classifier names its K classes; a model that generates has none."""
    if spec.task == "classify":
        if "classes" not in meta:
            raise SchemaError("metadata field 'classes' is missing (a classifier names its "
                              "classes)")
        if len(meta["classes"]) != spec.output_size:
            raise SchemaError(f"the model answers {spec.output_size} classes but "
                              f"{len(meta['classes'])} are named")
    elif "classes" in meta:
        raise SchemaError(f"metadata field 'classes' is for a classifier; this model's task "
                          f"is {spec.task}")


def described_settings(spec=ModelSpec):
    """The model settings the description (the class of ``spec``, or ``spec`` itself
    when a class) holds: from version 3 on they are stored there only, not among
    meta["model"]'s settings."""
    described = {g.name for g in dataclasses.fields(spec)}
    return tuple(f.name for f in dataclasses.fields(config.ModelConfig) if f.name in described)


def model_settings(meta, spec, version):
    """The model section of the config a checkpoint was trained with, as recorded: from
    version 3 on, the description's settings joined to the rest, in the config's order."""
    stored = meta.get("model")
    if version < 3:
        return stored
    stored = stored or {}
    described = described_settings(spec)
    return {f.name: getattr(spec, f.name) if f.name in described else stored[f.name]
            for f in dataclasses.fields(config.ModelConfig)
            if f.name in described or f.name in stored}


def _check_settings(meta, spec):
    """model/train/data settings against the config's own types and ranges."""
    if meta["version"] >= 3:
        doubled = sorted(set(meta.get("model") or {}) & set(described_settings(spec)))
        if doubled:
            raise SchemaError(f"model.{doubled[0]} is stored twice: version 3 keeps it in "
                              "the model description only")
    sections = {"model": model_settings(meta, spec, meta["version"])}
    if "train" in meta:
        sections["train"] = meta["train"]
    if "data" in meta:
        sections["data"] = {k: v for k, v in meta["data"].items() if k in ("corpus",
                                                                            "val_fraction")}
    try:
        config.validate(config.from_dict(sections, "the checkpoint's settings"))
    except config.ConfigError as e:
        raise SchemaError(str(e)) from None


def read_spec(meta):
    """The ModelSpec of validated metadata (the one place that knows old formats)."""
    try:
        if meta["version"] >= 2:
            spec = ModelSpec.from_dict(meta["spec"])
        else:
            m = meta["model"]
            spec = ModelSpec(len(meta["vocab"]), m.get("hidden_size"), m.get("num_layers"),
                             "rnn", bool(m.get("skip", False)))
    except (ValueError, TypeError) as e:
        raise SchemaError(f"metadata field 'spec': {e}") from None
    if spec.vocab_size != len(meta["vocab"]):
        raise SchemaError(f"the model reads {spec.vocab_size} symbols but the vocabulary "
                          f"has {len(meta['vocab'])}")
    if meta["version"] < 3:  # the description was stored twice: the copies must agree
        m = meta["model"]
        for key in ("hidden_size", "num_layers", "cell"):
            if key in m and m[key] != getattr(spec, key):
                raise SchemaError(f"model.{key} = {m[key]!r} disagrees with the model "
                                  "description")
    return spec


def expected_arrays(spec, meta):
    """Array name -> (shape, dtype kind) for every array this checkpoint may hold.

    Parameters are required; the state parts share one shape (L, N, H), N free (None)
    up to the reader's bound; optimizer slots are the declared state of the optimizer
    it was trained with.
    """
    arrays = {f"param/{k}": (shape, "f") for k, shape in spec.param_shapes().items()}
    shape = (spec.num_layers, None, spec.hidden_size)
    for part in state_parts(spec):
        arrays[f"state/{part}"] = (shape, "f")
    for slot in optimizer_slots(meta):
        for k, pshape in spec.param_shapes().items():
            arrays[f"opt/{k}/{slot}"] = (pshape, "f")
    return arrays


def state_parts(spec):
    """The names of the carried state's parts, in the engine's order."""
    return spec.cell_module.STATE


def optimizer_slots(meta):
    """The state slots the checkpoint's optimizer declares."""
    rule = optim.RULES.get(meta.get("train", {}).get("optimizer"))
    return getattr(rule, "state", ())


