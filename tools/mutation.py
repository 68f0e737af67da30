"""Mutation testing: how many deliberate bugs in a module its tests catch.

Runs mutmut (2.x, a test-only tool: `pip install "mutmut<3"`; not a dependency of
rnngen, not run in CI) on each module with a test selection of its own, in a copy
of the working tree (mutmut edits the files it mutates), and prints the kill rate
per module and every surviving mutant's diff.

    python tools/mutation.py                         # the modules in TARGETS
    python tools/mutation.py config                  # one of them
    python tools/mutation.py --target src/rnngen/engine/optim.py=tests/test_optim.py
    python tools/mutation.py --target "src/rnngen/checkpoint.py=tests/test_checkpoint.py \
        tests/hostile/test_hostile_checkpoint.py" --json report.json

A --target is MODULE=TESTS: the file (or folder) to mutate and the pytest arguments
that must catch its mutants (keep them targeted: every mutant runs them once).
"""
import argparse
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module to mutate -> the tests that guard it. Add engine/ and checkpoint.py here.
TARGETS = {
    "corpus": ("src/rnngen/corpus.py",
               "tests/test_corpus.py tests/hostile/test_hostile_corpus.py "
               "-k 'not stdin_and_process and not good_text and not fifo'"),
    "config": ("src/rnngen/config.py",
               "tests/test_config.py tests/test_bad_input.py tests/hostile/test_hostile_config.py"),
}


def copy_tree(dest):
    """The tracked and untracked-but-not-ignored files of the working tree, into dest."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    shared = ROOT.parent / "shared"  # tests find tinyshakespeare beside the checkout
    if shared.exists() and not (dest.parent / "shared").exists():
        (dest.parent / "shared").symlink_to(shared)


def run_module(module, tests, work, limit):
    """Mutate one module under its tests, for at most ``limit`` seconds;
    (killed, tested, [survivor diffs]): untested mutants are left out of both."""
    env = dict(os.environ, PYTHONPATH=str(work / "src"))
    runner = f"{shlex.quote(sys.executable)} -m pytest -x -q -p no:cacheprovider {tests}"
    cache = work / ".mutmut-cache"
    if cache.exists():
        cache.unlink()
    mutmut = [sys.executable, "-m", "mutmut"]
    try:  # mutmut 2.5 can crash or hang on its own cache; what it finished still counts
        subprocess.run(mutmut + ["run", "--paths-to-mutate", module, "--runner", runner,
                                 "--tests-dir", "tests", "--simple-output", "--no-progress"],
                       cwd=work, env=env, stdout=subprocess.DEVNULL, timeout=limit)
    except subprocess.TimeoutExpired:
        print(f"{module}: stopped after {limit} s; the mutants tested so far are counted",
              flush=True)
    # mutmut's own cache says how each mutant fared (its junitxml is empty after a crash)
    db = sqlite3.connect(cache)
    rows = db.execute("SELECT id, status FROM Mutant").fetchall()
    db.close()
    tested = [(i, status) for i, status in rows if status not in ("untested", "skipped")]
    survivors = []
    for number, status in tested:
        if status == "bad_survived":
            diff = subprocess.run(mutmut + ["show", str(number)], cwd=work, env=env,
                                  capture_output=True, text=True).stdout
            survivors.append((number, diff.strip()))
    total = len(tested)
    return total - len(survivors), total, survivors


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help=f"modules from TARGETS ({', '.join(TARGETS)})")
    p.add_argument("--target", action="append", default=[], metavar="MODULE=TESTS",
                   help="a module (or folder) to mutate and the pytest arguments that guard it")
    p.add_argument("--json", help="also write the report to this file")
    p.add_argument("--limit", type=int, default=3600, metavar="SECONDS",
                   help="stop each module's run after this long (default 3600)")
    args = p.parse_args(argv)
    targets = {}
    for name in args.names or ([] if args.target else list(TARGETS)):
        if name not in TARGETS:
            p.error(f"unknown module {name!r}; known: {', '.join(TARGETS)} (or use --target)")
        targets[name] = TARGETS[name]
    for spec in args.target:
        module, sep, tests = spec.partition("=")
        if not sep or not tests.strip():
            p.error(f"--target expects MODULE=TESTS, got {spec!r}")
        targets[module] = (module, tests)
    report = {}
    with tempfile.TemporaryDirectory(prefix="rnngen-mutation-") as tmp:
        work = Path(tmp) / "repo"
        work.mkdir()
        copy_tree(work)
        for name, (module, tests) in targets.items():
            print(f"mutating {module} under: {tests}", flush=True)
            killed, total, survivors = run_module(module, tests, work, args.limit)
            report[module] = {"killed": killed, "total": total, "survivors": survivors}
            rate = 100 * killed / total if total else 0
            print(f"{module}: {killed}/{total} mutants killed ({rate:.0f}%)", flush=True)
    print("\n| module | killed | mutants | kill rate |\n|---|---:|---:|---:|")
    for module, r in report.items():
        rate = 100 * r["killed"] / r["total"] if r["total"] else 0
        print(f"| {module} | {r['killed']} | {r['total']} | {rate:.0f}% |")
    for module, r in report.items():
        for number, diff in r["survivors"]:
            print(f"\n-- survivor {number} in {module}:\n{diff}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
