"""Mutation testing: how many deliberate bugs in a module its tests catch.

A small mutator of its own (stdlib ``ast``; no dependency, not run in CI). For each module
in TARGETS it makes one mutant at a time (an operator, comparison or constant changed, a
statement replaced by ``pass``, ...), writes it over the module's source file in this
checkout, runs the module's tests against it, and puts the file back (always: on an error,
Ctrl-C or SIGTERM too; a file left by ``kill -9`` is restored on the next start). A
mutant is killed when a test fails, or when the tests run past the time limit (a few times
their baseline; reported apart, as timeouts).

    python tools/mutation.py --json mutation.json                # every module in TARGETS
    python tools/mutation.py --module engine/optim --limit 20    # the first 20 mutants
    python tools/mutation.py --module engine --json m.json       # engine/ and engine/cells/
    python tools/mutation.py --json m.json --rerun survived      # after adding tests

With ``--json`` the results are kept and a second run skips the mutants already recorded
(runs are long), unless the module's source has changed since.

Speed, since every mutant costs a test run: the tests run in a child forked from a process
that has already imported pytest, NumPy and the other third-party modules (not rnngen);
a baseline run records which test calls which function of the module (``sys.settrace``,
calls only), and each mutant runs only the tests that call its function, fastest first,
stopping at the first failure. A mutant in a function that no target test calls is not
run: it survives, recorded as ``uncovered``. A mutant outside any function (module
constants, default values, decorators) runs every target test. Code that the tests run
in a subprocess is not traced: keep the targets' tests in-process.
"""
import argparse
import ast
import copy
import hashlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "rnngen"

ENGINE_TESTS = ["tests/test_engine_gradients.py", "tests/test_engine_model.py",
                "tests/test_sampling.py", "tests/test_beam.py", "tests/test_optim.py",
                "tests/test_device.py"]  # the stand-in device: the engine's non-NumPy paths
CHECKPOINT_TESTS = ["tests/test_checkpoint.py", "tests/hostile/test_hostile_checkpoint.py",
                    "tests/test_bad_input.py"]

# module (under src/rnngen, without .py) -> the tests that guard it. The one place that
# maps modules to tests: keep them in-process and fast, every mutant runs some of them.
TARGETS = {
    "engine/layers": ENGINE_TESTS,
    "engine/model": ENGINE_TESTS,
    "engine/optim": ["tests/test_optim.py"],
    "engine/cells/__init__": ENGINE_TESTS,
    "engine/cells/weights": ENGINE_TESTS,
    "engine/cells/rnn": ENGINE_TESTS,
    "engine/cells/lstm": ENGINE_TESTS,
    "engine/cells/gru": ENGINE_TESTS,
    "engine/spec": ENGINE_TESTS + ["tests/test_checkpoint.py"],
    "engine/backend": ENGINE_TESTS,
    "engine/gradcheck": ["tests/test_engine_gradients.py"],
    "engine/sampling": ["tests/test_sampling.py", "tests/test_beam.py",
                        "tests/test_engine_model.py"],
    "engine/beam": ["tests/test_beam.py", "tests/test_sampling.py"],
    "engine/__init__": ENGINE_TESTS,
    "checkpoint": CHECKPOINT_TESTS,
    "schema": CHECKPOINT_TESTS,
    "evaluation": ["tests/test_evaluation.py"],
    "training": ["tests/test_training.py"],
    # measured with mutmut before this tool (README, Testing), not in its report yet
    "corpus": ["tests/test_corpus.py", "tests/hostile/test_hostile_corpus.py"],
    "config": ["tests/test_config.py", "tests/test_bad_input.py",
               "tests/hostile/test_hostile_config.py"],
}

# Imported once in the parent, so that a forked child need not (never rnngen itself:
# each child imports the mutant from disk).
PRELOAD = ["numpy", "pytest", "click", "yaml", "_pytest.python", "_pytest.tmpdir",
           "_pytest.monkeypatch", "_pytest.capture"]


# ---------------------------------------------------------------- making mutants

SWAPS = {  # operator -> the operator it becomes
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.MatMult: ast.Mult,
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.And: ast.Or, ast.Or: ast.And,
    ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
}
SIMPLE_STATEMENTS = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Raise,
                     ast.Assert, ast.Delete)


class Mutant:
    """One change to a module: where, what it was, what it becomes, and the new source."""

    def __init__(self, rule, node, function, original, mutated, source):
        self.rule, self.line, self.col = rule, node.lineno, node.col_offset
        self.end_line = node.end_lineno
        self.function = function  # first line of the code of the function that runs it
        self.original, self.mutated, self.source = original, mutated, source

    @property
    def key(self):
        """Stable while the module's source is unchanged; the JSON report's key."""
        return f"{self.line}:{self.col}:{self.rule}:{self.mutated}"


def _constant_mutations(value):
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [{0: 1, 1: 0}.get(value, value + 1)]
    if isinstance(value, float):
        return [value + 1.0] if value else [1.0]
    return []  # strings (names, messages), None, bytes, ...: not mutated


def _expression_mutations(node):
    """(rule, mutated copy of node) for an expression node."""
    out = []
    if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
        out.append(("binop", _with(node, op=SWAPS[type(node.op)]())))
    elif isinstance(node, ast.BoolOp):
        out.append(("boolop", _with(node, op=SWAPS[type(node.op)]())))
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in SWAPS:
                ops = list(node.ops)
                ops[i] = SWAPS[type(op)]()
                out.append(("compare", _with(node, ops=ops)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        out.append(("unary", node.operand))  # `not x` -> `x`, `-x` -> `x`
    elif isinstance(node, ast.Constant):
        for value in _constant_mutations(node.value):
            out.append(("constant", ast.Constant(value)))
    return out


def _with(node, **fields):
    new = copy.copy(node)
    for name, value in fields.items():
        setattr(new, name, value)
    return new


def _offsets(source):
    starts, total = [], 0
    for line in source.splitlines(keepends=True):
        starts.append(total)
        total += len(line.encode())
    return starts


def _replace(source, starts, node, text):
    """source with node's text replaced by text (positions are UTF-8 byte offsets)."""
    raw = source.encode()
    start = starts[node.lineno - 1] + node.col_offset
    end = starts[node.end_lineno - 1] + node.end_col_offset
    return (raw[:start] + text.encode() + raw[end:]).decode()


def mutants(source):
    """Every mutant of a module's source, in source order."""
    tree = ast.parse(source)
    starts = _offsets(source)
    found = []
    parents = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[child] = parent

    def function_of(node):
        """The first line of the code object that runs node (a def's first decorator's
        line, as co_firstlineno has it), or None at module level. A default value or a
        decorator runs in the scope around its def, not in it."""
        while node in parents:
            parent = parents[node]
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                    _find_field(parent, node)[0] == "body":
                first = parent.decorator_list[0] if parent.decorator_list else parent
                return first.lineno
            node = parent
        return None

    def in_fstring(node):
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.JoinedStr):
                return True
        return False

    def add(rule, node, new, expected):
        """Record a mutant if its text parses to the tree expected (else skip it). The
        new text is padded with newlines (inside parentheses for an expression), so that
        every later line keeps its number."""
        pad = "\n" * (node.end_lineno - node.lineno)
        if isinstance(node, ast.expr):
            text = "(" + ast.unparse(new) + pad + ")"
        else:
            text = (ast.unparse(new) if new is not None else "pass") + pad
        mutated_source = _replace(source, starts, node, text)
        try:
            if ast.dump(ast.parse(mutated_source)) != ast.dump(expected):
                return
        except SyntaxError:
            return
        original = ast.get_source_segment(source, node) or ast.unparse(node)
        shown = ast.unparse(new) if new is not None else "pass"
        found.append(Mutant(rule, node, function_of(node),
                            " ".join(original.split()), shown, mutated_source))

    def swapped(node, new):
        """A copy of the whole tree with node replaced by new."""
        parent = parents[node]
        holder = _find_field(parent, node)
        saved = getattr(parent, holder[0])
        if holder[1] is None:
            setattr(parent, holder[0], new)
        else:
            replaced = list(saved)
            replaced[holder[1]] = new
            setattr(parent, holder[0], replaced)
        expected = copy.deepcopy(tree)
        setattr(parent, holder[0], saved)
        return expected

    docstrings = {id(body[0]) for body in _bodies(tree)
                  if body and isinstance(body[0], ast.Expr)
                  and isinstance(body[0].value, ast.Constant)
                  and isinstance(body[0].value.value, str)}
    for node in ast.walk(tree):
        if node is tree or in_fstring(node):
            continue
        if isinstance(node, ast.expr):
            if isinstance(parents[node], (ast.JoinedStr, ast.FormattedValue)):
                continue
            for rule, new in _expression_mutations(node):
                add(rule, node, new, swapped(node, new))
            if isinstance(parents[node], ast.Slice) and not isinstance(node, ast.Constant):
                for op, rule in ((ast.Add(), "slice+1"), (ast.Sub(), "slice-1")):
                    new = ast.BinOp(node, op, ast.Constant(1))
                    add(rule, node, new, swapped(node, new))
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            new = ast.Constant(None)
            add("return", node.value, new, swapped(node.value, new))
        elif isinstance(node, ast.AugAssign) and type(node.op) in SWAPS:
            new = _with(node, op=SWAPS[type(node.op)]())
            add("augassign", node, new, swapped(node, new))
        if isinstance(node, SIMPLE_STATEMENTS) and id(node) not in docstrings:
            add("pass", node, None, swapped(node, ast.Pass()))
    found.sort(key=lambda m: (m.line, m.col, m.rule, m.mutated))
    return found


def _bodies(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                             ast.AsyncFunctionDef)):
            yield node.body


def _find_field(parent, node):
    """(field, index or None) where parent holds node."""
    for name, value in ast.iter_fields(parent):
        if value is node:
            return name, None
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is node:
                    return name, i
    raise LookupError(node)


# ---------------------------------------------------------------- running tests

class CallTracer:
    """A pytest plugin that records which functions of some files each test runs (its
    setup and teardown included), as (file, first line of the function's code); what
    runs outside any test (imports, collection) goes under "<import>". Only calls are
    traced, not lines: a line tracer in pure Python makes the gradient checks crawl."""

    def __init__(self, filenames):
        self.filenames = set(filenames)
        self.calls = {"<import>": set()}
        self.current = self.calls["<import>"]
        self.seconds = {}

    def _global(self, frame, event, arg):
        code = frame.f_code
        if code.co_filename in self.filenames:
            self.current.add((code.co_filename, code.co_firstlineno))
        return None  # no line events

    def start(self):
        sys.settrace(self._global)
        threading.settrace(self._global)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.current = self.calls.setdefault(item.nodeid, set())
        began = time.perf_counter()
        yield
        self.seconds[item.nodeid] = time.perf_counter() - began
        self.current = self.calls["<import>"]

    def dump(self, path):
        calls = {}
        for test, called in self.calls.items():
            per_file = calls.setdefault(test, {})
            for filename, first_line in called:
                per_file.setdefault(filename, []).append(first_line)
        with open(path, "w") as f:
            json.dump({"lines": calls, "seconds": self.seconds}, f)


def run_tests(args, log, timeout, tracer=None):
    """Run pytest with args in a forked child; 'passed', 'failed' or 'timeout'."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            os.setpgid(0, 0)
            sys.dont_write_bytecode = True  # a mutant's bytecode must never be reused
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            import pytest
            if tracer:
                tracer.start()
            code = pytest.main(args, plugins=[tracer] if tracer else [])
            sys.settrace(None)
            if tracer:
                tracer.dump(log + ".lines")
        except BaseException:  # noqa: BLE001 - report it in the log, exit non-zero
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(int(code))
    deadline = time.monotonic() + timeout
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return "passed" if os.waitstatus_to_exitcode(status) == 0 else "failed"
            if time.monotonic() > deadline:
                _kill(pid)
                return "timeout"
            time.sleep(0.05)
    except BaseException:
        _kill(pid)
        raise


def _kill(pid):
    try:
        os.killpg(pid, signal.SIGKILL)  # the child and anything it started
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class Workspace:
    """Writes mutants over one module's source file and always puts the original back.
    The original is also saved beside the checkout (.mutation-original/), so that a
    run killed outright is undone by the next start."""

    SAVED = ROOT / ".mutation-original"

    def __init__(self, path):
        self.path = path
        self.saved = self.SAVED / path.relative_to(ROOT)
        self.original = path.read_bytes()

    @classmethod
    def recover(cls):
        """Put back any module a killed run left mutated."""
        if not cls.SAVED.exists():
            return
        for saved in sorted(p for p in cls.SAVED.rglob("*") if p.is_file()):
            target = ROOT / saved.relative_to(cls.SAVED)
            target.write_bytes(saved.read_bytes())
            saved.unlink()
            print(f"restored {target.relative_to(ROOT)} (left mutated by a killed run)",
                  file=sys.stderr)

    def write(self, source):
        if not self.saved.exists():
            self.saved.parent.mkdir(parents=True, exist_ok=True)
            self.saved.write_bytes(self.original)
        self.path.write_text(source, encoding="utf-8")
        self._drop_bytecode()

    def restore(self):
        self.path.write_bytes(self.original)
        self._drop_bytecode()
        if self.saved.exists():
            self.saved.unlink()

    def _drop_bytecode(self):
        for pyc in (self.path.parent / "__pycache__").glob(self.path.stem + ".*.pyc"):
            pyc.unlink(missing_ok=True)


# ---------------------------------------------------------------- one module

def module_path(name):
    return SRC / (name + ".py")


def baseline(names, work, cache_path, reuse=False):
    """Run the tests of the modules named once, traced: {test: {file: lines}} and
    {test: seconds}, under "<import>" the lines run outside any test. Kept in cache_path
    (if given) while the modules' sources and the tests are unchanged."""
    tests = sorted({t for name in names for t in TARGETS[name]})
    files = sorted(str(module_path(name)) for name in names)
    digest = hashlib.sha256()
    for path in files + tests + sorted(str(p) for p in (ROOT / "tests").rglob("*.py")):
        digest.update(path.encode() + Path(path).read_bytes())
    cache = {}  # sha256 -> traced
    if cache_path and Path(cache_path).exists():
        cache = json.loads(Path(cache_path).read_text())
        if digest.hexdigest() in cache:
            traced = cache[digest.hexdigest()]
            return traced["lines"], traced["seconds"]
        if reuse and cache:  # the user says the modules are unchanged; tests may be new
            print("baseline: reusing the last one recorded (--reuse-baseline); tests added "
                  "since are not traced, so never chosen by line", flush=True)
            traced = list(cache.values())[-1]
            return traced["lines"], traced["seconds"]
    log = str(work / "baseline.log")
    began = time.monotonic()
    print(f"baseline: {len(tests)} test files, traced over {len(files)} modules", flush=True)
    outcome = run_tests(["-q", "-p", "no:cacheprovider", f"--basetemp={work / 'tmp'}",
                         *tests], log, timeout=7200, tracer=CallTracer(files))
    if outcome != "passed":
        sys.exit(f"the tests fail before any mutation (see {log}); fix them first")
    traced = json.loads(Path(log + ".lines").read_text())
    print(f"baseline: {time.monotonic() - began:.0f} s, {len(traced['seconds'])} tests",
          flush=True)
    if cache_path:
        cache[digest.hexdigest()] = traced
        Path(cache_path).write_text(json.dumps(cache))
    return traced["lines"], traced["seconds"]


def select(mutant, name, calls, seconds, longest):
    """The target tests to run against a mutant, fastest first: those that call the
    function it is in (none if no test does), or all of them for a mutant outside any
    function or in one that the import calls. Tests that took longer than ``longest``
    seconds in the baseline are left out."""
    filename = str(module_path(name))
    targets = [test for test in calls if test != "<import>"
               and test.split("::")[0] in TARGETS[name] and seconds[test] <= longest]
    if mutant.function is None or mutant.function in calls["<import>"].get(filename, ()):
        chosen = targets  # what the import runs (decorators too) reaches every test
    else:
        chosen = [test for test in targets if mutant.function in calls[test].get(filename, ())]
    return sorted(chosen, key=lambda test: seconds.get(test, 0.0))


def run_module(name, args, record, work, traced):
    """Test the module's mutants not yet in record (a dict, updated as they finish)."""
    path = module_path(name)
    source = path.read_text(encoding="utf-8")
    sha = hashlib.sha256(source.encode()).hexdigest()
    if record.get("sha256") != sha:
        if record.get("mutants"):
            print(f"{name}: source changed since the recorded run; starting again", flush=True)
        record.clear()
        record.update(sha256=sha, tests=TARGETS[name], mutants={})
    results = record["mutants"]
    found = mutants(source)
    record["population"] = len(found)
    record["max_test_seconds"] = args.max_test_seconds
    if args.sample is not None:  # a fixed random order: a larger sample extends a smaller
        order = sorted(found, key=lambda m: hashlib.sha256(
            f"{args.sample_seed}:{name}:{m.key}".encode()).hexdigest())
        found = sorted(order[:args.sample], key=lambda m: (m.line, m.col))
    todo = [m for m in found
            if m.key not in results or results[m.key]["status"] in args.rerun]
    if args.limit is not None:
        todo = todo[:args.limit]
    if not todo:
        return
    print(f"{name}: {len(todo)} mutants to test", flush=True)
    lines, seconds = traced() if not args.tests else ({}, {})
    space = Workspace(path)
    try:
        for i, m in enumerate(todo, 1):
            if args.tests:  # the tests named, whatever lines they run
                chosen = args.tests
            else:
                chosen = select(m, name, lines, seconds, args.max_test_seconds)
                if args.all_tests and chosen:
                    chosen = sorted({t for t in lines if t.split("::")[0] in TARGETS[name]
                                     and seconds[t] <= args.max_test_seconds},
                                    key=lambda test: seconds.get(test, 0.0))
            entry = {"line": m.line, "rule": m.rule, "original": m.original,
                     "mutant": m.mutated, "tests_run": len(chosen)}
            if not chosen:
                entry.update(status="uncovered", seconds=0.0)
            else:
                budget = sum(seconds.get(t, 15.0) for t in chosen)
                timeout = args.timeout_factor * budget + 30  # +30: start-up, a busy machine
                space.write(m.source)
                began = time.monotonic()
                try:
                    outcome = run_tests(["-x", "-q", "-p", "no:cacheprovider",
                                         f"--basetemp={work / 'tmp'}", *chosen],
                                        str(work / "mutant.log"), timeout)
                finally:
                    space.restore()
                entry.update(status={"failed": "killed", "passed": "survived",
                                     "timeout": "timeout"}[outcome],
                             seconds=round(time.monotonic() - began, 1))
            results[m.key] = entry
            mark = {"killed": ".", "timeout": "T", "survived": "S", "uncovered": "U"}
            print(f"  [{i}/{len(todo)}] {mark[entry['status']]} {name}:{m.line} {m.rule}: "
                  f"{m.original} -> {m.mutated} ({entry['seconds']} s)", flush=True)
            args.save()
    finally:
        space.restore()


# ---------------------------------------------------------------- the report

def summarise(report):
    rows = []
    for name, record in report.items():
        counts = {"killed": 0, "timeout": 0, "survived": 0, "uncovered": 0}
        for entry in record.get("mutants", {}).values():
            counts[entry["status"]] += 1
        total = sum(counts.values())
        dead = counts["killed"] + counts["timeout"]
        rows.append((name, total, counts, 100 * dead / total if total else 0.0))
    return rows


def print_report(report, names):
    report = {name: report[name] for name in names if name in report}
    print("\n| module | mutants tested (of all) | killed | timeouts | survived (uncovered) "
          "| kill rate |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, total, c, rate in summarise(report):
        survived = c["survived"] + c["uncovered"]
        print(f"| {name}.py | {total} ({report[name].get('population', '?')}) | "
              f"{c['killed']} | {c['timeout']} | {survived} ({c['uncovered']}) | {rate:.1f}% |")
    for name, record in report.items():
        for entry in sorted(record.get("mutants", {}).values(), key=lambda e: e["line"]):
            if entry["status"] in ("survived", "uncovered"):
                print(f"{entry['status']}: src/rnngen/{name}.py:{entry['line']} "
                      f"[{entry['rule']}] {entry['original']}  ->  {entry['mutant']}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--module", action="append", default=[], metavar="NAME",
                   help="a module from TARGETS, or a folder of them (engine); repeatable")
    p.add_argument("--limit", type=int, metavar="N",
                   help="test at most N new mutants per module in this run")
    p.add_argument("--json", metavar="PATH",
                   help="keep results here; mutants already recorded are skipped")
    p.add_argument("--rerun", action="append", default=[],
                   choices=["survived", "uncovered", "timeout", "killed"],
                   help="test again the recorded mutants of this status (repeatable)")
    p.add_argument("--all-tests", action="store_true",
                   help="run every target test against each mutant, not only those that "
                        "execute its line")
    p.add_argument("--sample", type=int, metavar="N",
                   help="test a random sample of N mutants per module (the same N mutants "
                        "in every run; a larger N adds to them)")
    p.add_argument("--sample-seed", default="0", help="which random sample (default 0)")
    p.add_argument("--tests", nargs="+", metavar="TEST",
                   help="run these pytest node ids against each mutant instead of those "
                        "traced to its line (with --rerun: does a new test kill them?)")
    p.add_argument("--reuse-baseline", action="store_true",
                   help="reuse the last traced baseline even if the tests have changed "
                        "(only while the modules' sources have not)")
    p.add_argument("--max-test-seconds", type=float, default=float("inf"), metavar="S",
                   help="leave out the tests that took longer than S seconds in the "
                        "baseline (the slow gradient checks; default: none left out)")
    p.add_argument("--timeout-factor", type=float, default=4.0, metavar="F",
                   help="a mutant times out after F times its tests' baseline + 30 s")
    p.add_argument("--report", action="store_true",
                   help="only print the report from --json, testing nothing")
    p.add_argument("--list", action="store_true", help="only list the mutants")
    args = p.parse_args(argv)

    names = []
    for wanted in args.module or list(TARGETS):
        matched = [n for n in TARGETS if n == wanted or n.startswith(wanted.rstrip("/") + "/")]
        if not matched:
            p.error(f"unknown module {wanted!r}; known: {', '.join(TARGETS)}")
        names += [n for n in matched if n not in names]
    report = {}
    if args.json and Path(args.json).exists():
        report = json.loads(Path(args.json).read_text())

    def save():
        if args.json:
            tmp = Path(args.json + ".tmp")
            tmp.write_text(json.dumps(report, indent=1, sort_keys=True))
            tmp.replace(args.json)
    args.save = save

    if args.list:
        for name in names:
            for m in mutants(module_path(name).read_text(encoding="utf-8")):
                print(f"src/rnngen/{name}.py:{m.line} [{m.rule}] {m.original} -> {m.mutated}")
        return 0
    if not args.report:
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        Workspace.recover()
        sys.path.insert(0, str(ROOT / "src"))  # the children import this checkout's rnngen
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # hypothesis, benchmark: seconds
        os.chdir(ROOT)
        for module in PRELOAD:
            __import__(module)
        assert "rnngen" not in sys.modules
        with tempfile.TemporaryDirectory(prefix="rnngen-mutation-") as tmp:
            known = []

            def traced():  # one baseline for all the modules, run when first needed
                if not known:
                    cache = args.json + ".baseline" if args.json else None
                    known.append(baseline(names, Path(tmp), cache, args.reuse_baseline))
                return known[0]
            try:
                for name in names:
                    run_module(name, args, report.setdefault(name, {}), Path(tmp), traced)
            except KeyboardInterrupt:
                print("interrupted; the modules are restored, the results so far kept",
                      file=sys.stderr)
            finally:
                save()
    print_report(report, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
