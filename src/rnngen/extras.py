"""Optional dependencies: imported only when a feature asks, one line when they fail.

rnngen's runtime needs only numpy, click, tqdm and pyyaml; a GPU (CuPy), a server or
a sweep are extras of the distribution ``rnngen-text``. An extra that is missing, or
installed but broken (a CUDA library that fails to load raises OSError, a version
mismatch AttributeError or RuntimeError), is a MissingExtra naming the extra to
install, never a traceback.
"""
import importlib

from .errors import MissingExtra

DISTRIBUTION = "rnngen-text"  # the name on the package index; the import name is rnngen


def install_hint(*extras):
    """``pip install 'rnngen-text[cuda12]'`` (or several, joined by 'or')."""
    return " or ".join(f"pip install '{DISTRIBUTION}[{extra}]'" for extra in extras)


def require(module, extra, purpose, advice=""):
    """Import and return ``module``, which the extra ``extra`` installs.

    ``purpose`` names what needs it ("--device cuda", "rnngen serve"); ``extra`` is an
    extra's name or a tuple of alternatives; ``advice`` ends the message (another way
    on, e.g. "or use --device cpu"). Any failure to import is a MissingExtra.
    """
    extras = (extra,) if isinstance(extra, str) else tuple(extra)
    how = install_hint(*extras) + (f", {advice}" if advice else "")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is not None and module.split(".")[0] == e.name.split(".")[0]:
            raise MissingExtra(f"{purpose} needs {module}, which is not installed; "
                               f"install it with {how}") from None
        problem = e  # a module it needs is missing: installed, but broken
    except (Exception, SystemExit) as e:  # noqa: BLE001 -- every failure is the same line
        problem = e
    raise MissingExtra(f"{purpose} needs {module}, which is installed but fails to import "
                       f"({_one_line(problem)}); reinstall it with {how}") from None


def _one_line(error, limit=200):
    """An exception as 'Type: message' on one line, cut to ``limit`` characters."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
