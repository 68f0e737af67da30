"""The ``sweep:`` section of a config: what to search, for how long, and where the
study lives. Checked whole before any trial runs; a bad key is a one-line
ConfigError naming it and the file. Nothing here imports Optuna.

    sweep:
      trials: 20
      params:
        train.learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}
        model.dropout: {low: 0.0, high: 0.5}
        model.hidden_size: {choices: [256, 512]}
"""
import copy
import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..errors import ConfigError

PRUNERS = ("median", "halving", "none")
DIRECTIONS = ("minimize", "maximize")
DEFAULT_OBJECTIVE = "val_loss"  # validation nats/char, which a generation run reports
NOT_SWEPT = ("train.output",)  # each trial writes its own checkpoint


@dataclass
class SweepConfig:
    trials: int = 20  # trials the study should hold: a worker runs until it does (--trials N: N more)
    params: dict = field(default_factory=dict)  # config key -> its Param (the search space)
    objective: str = DEFAULT_OBJECTIVE  # a validation metric the run reports, by name
    direction: str = ""  # minimize | maximize; empty: minimize, for val_loss only
    pruner: str = "median"  # median | halving | none: stops trials on their validation curve
    startup_trials: int = 3  # median: trials that finish before any is pruned
    trial_minutes: float = 0.0  # a trial stops training after this long (0: no limit)
    total_minutes: float = 0.0  # a worker starts no trial after this, and cuts the last (0: none)
    baseline: bool = True  # the first trial runs the config's own values of the swept keys
    enqueue: list = field(default_factory=list)  # settings tried first: [{key: value, ...}]
    seed: int = -1  # the sampler's seed (worker k adds k); -1: a fresh one each run
    storage: str = ""  # empty: a journal file in the sweep folder; a path or a database URL
    study: str = ""  # the study's name; empty: the config's name

    @property
    def maximize(self):
        return self.direction == "maximize"


@dataclass(frozen=True)
class Param:
    """One swept key: a float or int range (low..high, optionally log-spaced or in
    steps), or a list of choices."""

    key: str
    low: float = None
    high: float = None
    log: bool = False
    step: float = None
    choices: tuple = None

    def suggest(self, trial):
        """The value an Optuna trial picks (an enqueued trial's fixed one, if set)."""
        if self.choices is not None:
            return trial.suggest_categorical(self.key, list(self.choices))
        if isinstance(self.low, int):
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1,
                                     log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value):
        if self.choices is not None:
            return value in self.choices
        if not self.low <= value <= self.high:
            return False
        return not self.step or math.isclose((value - self.low) / self.step,
                                             round((value - self.low) / self.step))

    def describe(self):
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        return (f"[{self.low}, {self.high}]" + (" log" if self.log else "")
                + (f" step {self.step}" if self.step else ""))


RANGE_KEYS = ("low", "high", "log", "step")


def _fail(source, where, message):
    raise ConfigError(f"{source}: sweep.{where} {message}")


def _check_value(cfg, key, value, source, where):
    """Coerce value to key's type and check the config accepts it there (its ranges)."""
    value = config.coerce(key, value, f"{source}: sweep.{where}")
    trial = copy.deepcopy(cfg)
    try:
        config.apply_overrides(trial, [(key, value)], f"{source}: sweep.{where}")
    except ConfigError as e:
        if str(e).startswith(source):
            raise
        raise ConfigError(f"{source}: sweep.{where}: {e}") from None
    return value


def parse_param(key, spec, cfg, source):
    """A Param for ``key`` from its YAML mapping, checked against the config's types."""
    where = f"params.{key}"
    typ = config.key_type(key, f"{source}: sweep.params")
    if key in NOT_SWEPT:
        _fail(source, where, "cannot be swept: each trial writes its own checkpoint in the "
                             "sweep folder")
    if not isinstance(spec, dict):
        _fail(source, where, "must be a mapping: {low: A, high: B} (log: true for a "
                             "log scale, step: S) or {choices: [A, B, ...]}")
    if "choices" in spec:
        extra = sorted(set(spec) - {"choices"})
        if extra:
            _fail(source, where, f"has choices and also {', '.join(map(str, extra))}; "
                                 "give choices alone, or a range without choices")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            _fail(source, where + ".choices", "must be a non-empty list of values")
        values = tuple(_check_value(cfg, key, v, source, f"{where}.choices")
                       for v in choices)
        if len(set(values)) != len(values):
            _fail(source, where + ".choices", "lists a value twice")
        return Param(key, choices=values)
    for name in spec:
        if name not in RANGE_KEYS:
            close = difflib.get_close_matches(str(name), RANGE_KEYS + ("choices",), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            _fail(source, f"{where}.{name}", f"is not a range key{hint}; a range has "
                                             "low, high, log and step, or give choices")
    if typ not in (int, float):
        _fail(source, where, f"is a {typ.__name__} key: give {{choices: [...]}}, not a range")
    for name in ("low", "high"):
        if name not in spec:
            _fail(source, where, f"needs {name} (a range is {{low: A, high: B}})")
    low, high = (_check_value(cfg, key, spec[n], source, f"{where}.{n}") for n in ("low", "high"))
    log = spec.get("log", False)
    if not isinstance(log, bool):
        _fail(source, where + ".log", f"must be true or false, got {log!r}")
    step = spec.get("step")
    if step is not None:
        step = config.coerce(key, step, f"{source}: sweep.{where}.step")
        if step <= 0:
            _fail(source, where + ".step", f"must be > 0, got {step}")
        if log and typ is float:
            _fail(source, where, "cannot have both log and step (Optuna draws one or the other)")
    if not low < high:
        _fail(source, where, f"needs low below high, got low {low} and high {high}")
    if log and low <= 0:
        _fail(source, where + ".low", f"must be > 0 on a log scale, got {low}")
    return Param(key, low=low, high=high, log=log, step=step)


def _setting(mapping, params, source, where):
    """An enqueued setting: keys among the params, values inside their ranges."""
    if not isinstance(mapping, dict) or not mapping:
        _fail(source, where, "must be a mapping of swept keys to values")
    for key, value in mapping.items():
        if key not in params:
            _fail(source, f"{where}.{key}", f"is not swept; enqueue only keys in "
                                            f"sweep.params ({', '.join(params)})")
        if not _number_or_choice(params[key], value):
            _fail(source, f"{where}.{key}", f"is {value!r}, outside its "
                                            f"range {params[key].describe()}")
    return dict(mapping)


def _number_or_choice(param, value):
    if param.choices is None and (isinstance(value, bool)
                                  or not isinstance(value, (int, float))):
        return False
    try:
        return param.contains(value)
    except TypeError:
        return False


def parse(data, cfg, source, name):
    """The SweepConfig a config file's ``sweep:`` mapping describes (``cfg``: the
    file's Config, which the params are checked against; ``name``: the config's name,
    the study's default name)."""
    if data is None:
        raise ConfigError(f"{source} has no sweep: section; add one naming the keys to "
                          "search, e.g. sweep: {params: {train.learning_rate: "
                          "{low: 1.0e-4, high: 1.0e-2, log: true}}}")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: sweep must be a mapping of keys (trials, params, ...)")
    out = SweepConfig()
    fields = {f.name: f for f in dataclasses.fields(SweepConfig)}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{source}: unknown key 'sweep.{key}'{hint}")
        if key in ("params", "enqueue"):
            setattr(out, key, value)
            continue
        setattr(out, key, config._coerce(value, fields[key].type, f"{source}: sweep.{key}"))
    raw = out.params
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{source}: sweep.params must name at least one key to search, "
                          "e.g. train.learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}")
    out.params = {str(k): parse_param(str(k), v, cfg, source) for k, v in raw.items()}
    if not isinstance(out.enqueue, list):
        raise ConfigError(f"{source}: sweep.enqueue must be a list of settings, "
                          "e.g. [{train.learning_rate: 0.002}]")
    out.enqueue = [_setting(s, out.params, source, f"enqueue[{i}]")
                   for i, s in enumerate(out.enqueue)]
    _check_scalars(out, cfg, source)
    if not out.study:
        out.study = name
    return out


def _check_scalars(out, cfg, source):
    def need(ok, key, message):
        if not ok:
            raise ConfigError(f"{source}: sweep.{key} {message}")

    need(out.trials >= 1, "trials", f"must be >= 1, got {out.trials}")
    need(out.startup_trials >= 0, "startup_trials", f"must be >= 0, got {out.startup_trials}")
    need(out.seed >= -1, "seed", f"must be >= 0 (or -1: a fresh one), got {out.seed}")
    need(out.pruner in PRUNERS, "pruner", f"must be one of {', '.join(PRUNERS)}, "
                                          f"got {out.pruner!r}")
    for key in ("trial_minutes", "total_minutes"):
        value = getattr(out, key)
        need(math.isfinite(value) and value >= 0, key, f"must be >= 0 (0: no limit), got {value}")
    need(out.objective != "", "objective", f"is empty; name a validation metric, e.g. "
                                           f"{DEFAULT_OBJECTIVE}")
    need(out.direction in DIRECTIONS + ("",), "direction",
         f"must be one of {', '.join(DIRECTIONS)}, got {out.direction!r}")
    need(out.direction or out.objective == DEFAULT_OBJECTIVE, "direction",
         f"must be given (minimize or maximize) for the objective {out.objective!r}")
    out.direction = out.direction or "minimize"
    if out.baseline:
        for key, value in baseline(out, cfg).items():
            param = out.params[key]
            if not param.contains(value):
                need(False, "baseline", f"runs the config's own {key} = {value!r}, outside "
                                        f"its range {param.describe()}; widen the range or "
                                        "set sweep.baseline: false")


def baseline(sweep, cfg):
    """The config's own values of the swept keys (the hand-chosen setting)."""
    return {key: getattr(getattr(cfg, section), name)
            for key, (section, name) in ((k, k.split(".")) for k in sweep.params)}


def load(path, overrides=()):
    """(Config, SweepConfig) of a config file with a sweep: section."""
    path = Path(path)
    data = config.read(path)
    cfg = config.apply_overrides(config.from_dict(data, str(path), path.stem), overrides)
    return cfg, parse(data.get("sweep") if isinstance(data, dict) else None, cfg,
                      str(path), default_study(path))


def default_study(config_path):
    """The study's name when sweep.study and --study give none: the config's name."""
    return Path(config_path).stem
