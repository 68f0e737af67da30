"""Optional dependencies that are missing or broken: one line naming the extra, exit 1.

A stand-in ``cupy`` package whose import fails in each way a real one can (a CUDA
library that will not load, a version mismatch, a module of its own missing) is put
first on the import path; every command that takes --device cuda must say so in one
line, suggest the distribution's own extra, and write nothing.
"""
import sys

import pytest

from rnngen import extras
from rnngen.errors import MissingExtra
from world import assert_error, cli, make_world


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "extras")


# (id, the body of the stand-in cupy/__init__.py (None: no cupy at all), error fragment)
IMPORTS = [
    ("not installed", None, "needs cupy, which is not installed; install it with "
                            "pip install 'rnngen-text[cuda12]' or pip install "
                            "'rnngen-text[cuda13]'"),
    ("a CUDA library that will not load",
     "raise OSError('libcudart.so.12: cannot open shared object file')",
     "installed but fails to import (OSError: libcudart.so.12: cannot open"),
    ("a version mismatch", "import numpy\nnumpy.no_such_function_in_numpy",
     "fails to import (AttributeError: module 'numpy' has no attribute"),
    ("a driver too old", "raise RuntimeError('CUDA driver version is insufficient')",
     "fails to import (RuntimeError: CUDA driver version is insufficient)"),
    ("a module of its own missing", "import cupy_backends_not_here",
     "fails to import (ModuleNotFoundError: No module named 'cupy_backends_not_here')"),
    ("its own ImportError", "raise ImportError('numpy.core.multiarray failed to import')",
     "fails to import (ImportError: numpy.core.multiarray failed to import)"),
    ("a syntax error", "def (", "fails to import (SyntaxError"),
    ("an exit on import", "raise SystemExit(3)", "fails to import (SystemExit: 3)"),
    ("a message over lines", "raise RuntimeError('first line\\n\\nsecond line')",
     "(RuntimeError: first line second line)"),
]

COMMANDS = {
    "sample": lambda w: ["sample", "--checkpoint", w.ckpt, "--n", "5", "--device", "cuda"],
    "eval": lambda w: ["eval", "--checkpoint", w.ckpt, "--corpus", w.text, "--device", "cuda"],
    "train": lambda w: ["train", "--config", w.cfg, "--output", w.d / "cuda.npz", "-q",
                        "--device", "cuda"],
}


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """Make ``import cupy`` run BODY (or fail as not installed when BODY is None)."""
    def make(body):
        monkeypatch.delitem(sys.modules, "cupy", raising=False)
        if body is None:
            monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> not found
            return
        package = tmp_path / "site" / "cupy"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(body + "\n")
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield make
    sys.modules.pop("cupy", None)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name, body, fragment", IMPORTS, ids=[row[0] for row in IMPORTS])
def test_an_extra_that_fails_to_import_is_one_line(w, stand_in, command, name, body, fragment):
    stand_in(body)
    line = assert_error(cli(COMMANDS[command](w)), fragment)
    assert "'rnngen-text[cuda12]'" in line and "--device cpu" in line
    assert not (w.d / "cuda.npz").exists()


def test_require_serves_any_extra(tmp_path, monkeypatch):
    """The helper the server and sweep extras share: the same line for their modules."""
    monkeypatch.setitem(sys.modules, "starlette", None)
    with pytest.raises(MissingExtra) as e:
        extras.require("starlette", "serve", "rnngen serve")
    assert str(e.value) == ("rnngen serve needs starlette, which is not installed; "
                            "install it with pip install 'rnngen-text[serve]'")
    (tmp_path / "optuna.py").write_text("raise OSError('broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "optuna", raising=False)
    with pytest.raises(MissingExtra) as e:
        extras.require("optuna", "sweep", "rnngen sweep", "or run trials one by one")
    assert str(e.value) == ("rnngen sweep needs optuna, which is installed but fails to import "
                            "(OSError: broken); reinstall it with pip install "
                            "'rnngen-text[sweep]', or run trials one by one")
    sys.modules.pop("optuna", None)
