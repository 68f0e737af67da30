"""Where things live: the shipped configs and model, the user's runs, the corpus cache.

The configs and the default model ship inside the package (the data packages
rnngen.configs and rnngen.models, which pyproject.toml maps onto the top-level
configs/ and checkpoints/ folders), so they are found the same way from a wheel
and from an editable install, whatever the current directory. A user's training
runs go to ./runs/, never into the installed package. Downloaded corpora go to
one per-user cache.
"""
import os
import sys
from importlib import resources
from pathlib import Path

from .errors import CheckpointError, ConfigError

RUNS_DIR = "runs"  # relative to the current directory
DEFAULT_CONFIG = "shakespeare.yaml"  # the shipped config `train` uses when given none
SHIPPED_MODEL = "shakespeare.npz"


def configs_dir():
    """The folder of the shipped configs (a real directory: rnngen installs unzipped)."""
    return Path(str(resources.files("rnngen.configs")))


def shipped_model():
    """The default model the package ships."""
    return Path(str(resources.files("rnngen.models") / SHIPPED_MODEL))


def shipped_configs():
    """{name: (path, description)} of the shipped configs; the description is the
    text of the file's first comment line."""
    found = {}
    for path in sorted(configs_dir().glob("*.yaml"), key=lambda p: p.stem):
        description = ""
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#"):
                    description = line.lstrip("#").strip()
                    break
        found[path.stem] = (path, description)
    return found


def newest_run():
    """The newest checkpoint in ./runs (not a NAME.best.npz), or None."""
    runs = [p for p in Path(RUNS_DIR).glob("*.npz")
            if not p.name.endswith(".best.npz") and p.is_file()]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def find_config(name):
    """The config file meant by --config NAME: an existing path wins; otherwise a
    shipped config by name, with or without .yaml; otherwise a ConfigError that
    lists the shipped ones."""
    if Path(name).exists():
        return Path(name)
    shipped = shipped_configs()
    stem = name[:-len(".yaml")] if name.endswith(".yaml") else name
    if stem in shipped:  # a path with folders in it has no shipped stem
        return shipped[stem][0]
    raise ConfigError(f"config file {name} does not exist and is not a shipped config; "
                      f"pass --config with a YAML file or one of: {', '.join(shipped)} "
                      "('rnngen configs' lists them)")


def default_output(config_name):
    """Where a run of the config named config_name (its file's stem) writes its checkpoint."""
    return Path(RUNS_DIR) / f"{config_name}.npz"


def _protected():
    """Folders training must never write into: the installed package and its data."""
    package = Path(str(resources.files("rnngen")))
    return [p.resolve() for p in (package, configs_dir(), shipped_model().parent)]


def check_output_allowed(path, flag="--output or train.output", kind="checkpoint"):
    """CheckpointError, before any work, if path is the shipped model or lies inside
    the installed package: no command may replace what rnngen ships. ``kind`` names
    what is written (a checkpoint, a report), for the message."""
    target = Path(path).resolve()
    if target == shipped_model().resolve():
        raise CheckpointError(f"refusing to write {path}: it is the model rnngen ships; "
                              f"choose another {kind} path ({flag})"
                              + _example(kind, default_output("shakespeare")))
    for folder in _protected():
        if target.is_relative_to(folder):
            raise CheckpointError(f"refusing to write {path}: it is inside the installed rnngen "
                                  f"package ({folder}); choose another {kind} path ({flag})"
                                  + _example(kind, default_output(Path(path).stem)))


def _example(kind, path):
    return f", e.g. {path}" if kind == "checkpoint" else ""


def user_cache_dir():
    """The platform's per-user cache folder for rnngen (as pip and Hugging Face use)."""
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / "rnngen" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "rnngen"
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "rnngen"


def corpora_dir():
    """Where named corpora are kept: $RNNGEN_CORPORA, else the user cache's corpora/."""
    chosen = os.environ.get("RNNGEN_CORPORA")
    return Path(chosen) if chosen else user_cache_dir() / "corpora"
