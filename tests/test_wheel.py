"""The card's commands from a built wheel, installed into a fresh virtual environment and
run from an empty directory: nothing may depend on the checkout or the current directory."""
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, make_text

# what a fresh clone holds besides the package; local state is left behind
SKIP = shutil.ignore_patterns(".git", "build", "dist", "runs", "corpora", "*.egg-info",
                              "__pycache__", ".pytest_cache", ".hypothesis", "bench", "tests")


def _can_build_wheels():
    try:
        from setuptools.command import bdist_wheel  # noqa: F401  (setuptools >= 70.1)
    except ImportError:
        return False
    return True


def _run(args, **kw):
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _deps_path_file(site_packages):
    """Let the fresh environment import the runtime dependencies from where this
    interpreter has them (system or virtual environment), without its rnngen."""
    import click
    import numpy
    import tqdm
    import yaml

    folders = {str(Path(m.__file__).resolve().parents[1]) for m in (numpy, click, tqdm, yaml)}
    (site_packages / "rnngen_test_deps.pth").write_text("\n".join(sorted(folders)) + "\n")


@pytest.mark.skipif(not _can_build_wheels(), reason="building the wheel needs setuptools >= 77 "
                    "(the test extras: pip install -e '.[test]')")
def test_the_wheel_installs_and_the_card_commands_work_from_an_empty_directory(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=SKIP)
    (source / "checkpoints" / "local-run.npz").write_bytes(b"a local run, not for the wheel")
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(dist), str(source)])
    wheel = next(dist.glob("rnngen_text-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "\nName: rnngen-text\n" in zipfile.ZipFile(wheel).read(metadata).decode()
    assert "rnngen/models/shakespeare.npz" in names and "rnngen/configs/tiny.yaml" in names
    assert [n for n in names if n.endswith(".npz")] == ["rnngen/models/shakespeare.npz"]
    for module in (source / "src").rglob("*.py"):  # every module, subpackages included
        assert module.relative_to(source / "src").as_posix() in names, module

    env_dir = tmp_path / "env"
    venv.create(env_dir, system_site_packages=False, with_pip=False)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())
    _deps_path_file(site)
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--no-index", "-q", str(wheel)])

    work = tmp_path / "empty"
    work.mkdir()
    corpus = tmp_path / "small.txt"
    corpus.write_text(make_text(6000), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = str(python.parent) + os.pathsep + env["PATH"]
    env["RNNGEN_CORPORA"] = str(tmp_path / "no-corpora")  # nothing is downloaded

    def sh(command, **kw):
        return _run(["bash", "-o", "pipefail", "-c", command], cwd=work, env=env, **kw)

    where = sh("python -c 'import rnngen; print(rnngen.__file__)'").stdout.strip()
    assert Path(where).is_relative_to(env_dir), f"rnngen came from {where}, not the wheel"

    trained = sh(f"rnngen train --config tiny.yaml --corpus {corpus} --steps 3")
    assert "rnngen sample --checkpoint runs/tiny.npz" in trained.stderr
    assert (work / "runs" / "tiny.npz").exists()
    sampled = sh("rnngen sample --seed T --n 50 --temperature 0.7").stdout
    assert sampled.startswith("T") and len(sampled) == 51
    piped = sh("printf 'ROMEO:' | rnngen sample --seed - --n 300 | head -c 12").stdout
    assert piped.startswith("ROMEO:") and len(piped) == 12
    own = sh("rnngen sample --checkpoint runs/tiny.npz --n 20 | wc -c").stdout
    assert own.strip() == "20"
    assert "shakespeare" in [line.split()[0] for line in sh("rnngen configs").stdout.splitlines()]
    assert "1,378,881" in sh("rnngen info").stdout
    installed = Path(where).parent
    assert sorted(p.name for p in installed.rglob("*.npz")) == ["shakespeare.npz"]
    assert sorted(p.name for p in work.iterdir()) == ["runs"]


# `pip install rnngen` installs another project (the same import name); ours is rnngen-text
DISTRIBUTION = "rnngen-text"


def test_the_distribution_has_its_own_name_in_every_install_hint():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^name = "([^"]+)"$', pyproject, re.M).group(1) == DISTRIBUTION
    other = re.compile(r"pip install\s+['\"]?rnngen(?!-text)\b")
    for path in [*(ROOT / "src").rglob("*.py"), *(ROOT / "docs").rglob("*.md"),
                 *(ROOT / "configs").glob("*.md"), ROOT / "README.md"]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not other.search(line), f"{path}:{number}: {line.strip()}"
