"""Every cell against its PyTorch peer and against an earlier rnngen, in one run.

    python bench/bench_peer.py --quick               # about 4 minutes on 2 cores
    python bench/bench_peer.py                       # 9 rounds of 5 steps
    python bench/bench_peer.py --cells gru --baseline HEAD~3

Three worker processes stay up for the whole run: rnngen from this tree, rnngen from the
baseline commit (``git archive`` into a temporary folder, imported from there) and the
PyTorch peer (``bench_engine.py``'s: nn.Embedding(V, 64) + nn.RNN/LSTM/GRU + nn.Linear,
Adam 2e-3, clip 5). For each cell, each round asks every worker in turn, in an order
that rotates from round to round, to time K training steps (after one warm-up step) on
that round's tinyshakespeare batches, then one-stream sampling at temperature 1. Each
worker builds its models with its own tree's ``bench_engine.py``, so the baseline runs
exactly the code it shipped with.

Sampling uses the BLAS thread count that ``rnngen sample`` would use by default: the
measured choice (``threads.one_stream``) where the tree has one, else one
thread, as the baseline's CLI did. PyTorch uses --threads threads throughout, rnngen's
training --threads BLAS threads (two groups of streams on 2 cores).

The table gives, per cell and phase, the median time of each (ms a training step, us a
sampled character) and the median and range over rounds of each round's own ratios:
``vs torch`` is torch's time / this tree's (above 1: rnngen is faster), ``vs base`` is the
baseline's time / this tree's. Pairs within a round run seconds apart, so a busy
neighbour slows both sides of a ratio alike; the median over rounds is the figure.
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "tinyshakespeare.txt"
BASELINE = "3338c00"  # the engine before the gated cells' rewrite (one tanh, in-place backward)
LIBRARIES = ("rnngen", "base", "torch")
PAUSE = 0.2  # seconds between workers, so one's idle spinning BLAS threads stop first


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", default="lstm,gru,rnn")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--steps", type=int, default=5, help="timed training steps a round (K)")
    p.add_argument("--sample-chars", type=int, default=2000)
    p.add_argument("--quick", action="store_true", help="5 rounds of 3 steps, 1,000 characters")
    p.add_argument("--baseline", default=BASELINE, help="the git revision to compare with")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq", type=int, default=100)
    p.add_argument("--threads", type=int, default=2, help="BLAS / torch threads")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--json", type=Path, metavar="PATH", help="also write every round here")
    p.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    p.add_argument("--tree", type=Path, default=REPO, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.sample_chars = 5, 3, 1000
    return args


# -- a worker: one library, every cell, commands from stdin ------------------------

def worker_main(args):
    sys.path.insert(0, str(args.tree / "bench"))
    import bench_engine as be  # this tree's (or the baseline's) own

    be.load_libraries(args.threads, with_torch=args.worker == "torch")
    if args.worker == "torch" and be.torch is None:
        raise SystemExit(be.NO_TORCH)
    from rnngen.corpus import read_corpus

    corpus = read_corpus(args.corpus)
    train_ids = be.train_ids_of(corpus)
    seed_ids = corpus.ids[:be.SEED_TEXT_CHARS]
    jobs = {}

    def build(cell):
        opts = be.parse_args(["--cell", cell, "--hidden", str(args.hidden), "--batch",
                              str(args.batch), "--seq", str(args.seq), "--threads",
                              str(args.threads), "--steps-per-round", str(args.steps),
                              "--corpus", str(args.corpus)])
        if args.worker == "torch":
            peer = be.make_torch_peer(len(corpus.vocab), args.hidden, 1, cell)
            step = be.torch_step_fn(peer)
            return (lambda r: be.as_torch(be.round_batches(train_ids, opts, r)), step,
                    timed_sampler(be.torch_sample_fn(peer, seed_ids)))
        trainer = be.rnngen_trainer(opts, corpus)
        return (lambda r: be.round_batches(train_ids, opts, r), be.rnngen_step_fn(trainer),
                one_stream_sampler(trainer.spec, trainer.params, seed_ids))

    for line in sys.stdin:
        cmd = json.loads(line)
        cell = cmd["cell"]
        if cell not in jobs:
            jobs[cell] = build(cell)
        batches, step, sample = jobs[cell]
        if cmd["op"] == "train":
            chosen = batches(cmd["round"])
            step(chosen[0])  # warm-up: buffers, thread pools
            started = time.perf_counter()
            for batch in chosen[1:]:
                step(batch)
            out = {"seconds": (time.perf_counter() - started) / (len(chosen) - 1)}
        else:
            sample(args.sample_chars // 20)  # warm-up
            seconds, counts = sample(args.sample_chars)
            out = {"seconds": seconds, "threads": counts}
        print(json.dumps(out), flush=True)


def timed_sampler(sample):
    """sample(n) -> (seconds a character, None) for a sampler that returns nothing."""
    def timed(n):
        started = time.perf_counter()
        sample(n)
        return (time.perf_counter() - started) / n, None
    return timed


def one_stream_sampler(spec, params, seed_ids):
    """sample(n) -> (seconds a character after the first, BLAS thread counts used):
    one stream at temperature 1 as `rnngen sample` runs it by default, on the threads
    its tree chooses (threads.one_stream where it has it, else one thread, as the
    baseline's CLI ran one stream)."""
    import numpy as np
    from rnngen import threads

    try:  # a tree before rnngen.decoding
        from rnngen.engine.sampling import generate
    except ImportError:
        from rnngen import decoding
        vocab = "".join(chr(0x100 + i) for i in range(spec.vocab_size))
        model = decoding.Model(spec, params, vocab)
        seed = "".join(vocab[i] for i in seed_ids)

        def generate(spec, params, seed_ids, n, rng):
            chars = decoding._stream_chars(model, seed, decoding.Decoding(n=n, random_seed=0))
            next(chars)  # the seed
            return chars

    def sample(n):
        ids = generate(spec, params, seed_ids, n, np.random.default_rng(0))
        counts = []
        if hasattr(threads, "one_stream"):
            from rnngen import decoding
            ids = threads.one_stream(ids, decoding.one_stream_trial(spec, params),
                                     counts.append)
            context = contextlib.nullcontext()
        else:
            context, counts = threads.single_threaded(), [1]
        with context:
            next(ids)  # the thread choice, then the first character
            started = time.perf_counter()
            rest = sum(1 for _ in ids)
            return (time.perf_counter() - started) / max(rest, 1), counts
    return sample


# -- the driver ----------------------------------------------------------------------

class Worker:
    def __init__(self, name, args, tree, pythonpath=None):
        cmd = [sys.executable, __file__, "--worker", name, "--tree", str(tree),
               "--threads", str(args.threads), "--hidden", str(args.hidden),
               "--batch", str(args.batch), "--seq", str(args.seq), "--steps", str(args.steps),
               "--sample-chars", str(args.sample_chars), "--corpus", str(args.corpus)]
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath,
                                                              env.get("PYTHONPATH")]))
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.name} worker stopped (exit {self.proc.wait()})")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def baseline_tree(rev, into):
    """The baseline's src/ and bench/ as they were at ``rev``, unpacked under ``into``."""
    archive = subprocess.run(["git", "archive", rev, "src", "bench"], cwd=REPO,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.strip()
    return Path(into), commit


def run(args):
    cells = args.cells.split(",")
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="rnngen-base-") as tmp:
        base, base_commit = baseline_tree(args.baseline, tmp)
        workers = {"rnngen": Worker("rnngen", args, REPO),
                   "base": Worker("base", args, base, pythonpath=str(base / "src")),
                   "torch": Worker("torch", args, REPO)}
        times = {(c, phase, lib): [] for c in cells for phase in ("train", "sample")
                 for lib in LIBRARIES}
        chosen = {}
        try:
            for r in range(args.rounds):
                order = LIBRARIES[r % 3:] + LIBRARIES[:r % 3]
                if r % 2:
                    order = order[::-1]
                for cell in cells:
                    for phase in ("train", "sample"):
                        for lib in order:
                            time.sleep(PAUSE)
                            out = workers[lib].ask(op=phase, cell=cell, round=r)
                            times[cell, phase, lib].append(out["seconds"])
                            if phase == "sample" and lib != "torch":
                                chosen.setdefault((cell, lib), []).append(out["threads"])
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        finally:
            for w in workers.values():
                w.close()
    load.append(os.getloadavg()[0])
    return {"cells": cells, "load": load, "cpu": cpu_model(), "times": {"|".join(k): v for k, v in times.items()},
            "threads": {"|".join(k): v for k, v in chosen.items()},
            "baseline": base_commit, "commit": commit_of_tree(), "rounds": args.rounds,
            "steps": args.steps, "sample_chars": args.sample_chars,
            "shape": f"H={args.hidden}, N={args.batch}, T={args.seq}",
            "threads_setting": args.threads}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{os.cpu_count()} cores"


def commit_of_tree():
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           cwd=REPO, capture_output=True, text=True).stdout.strip()
    return head + ("+" if dirty else "")


def ratios(num, den):
    """Each round's num / den: the median and the range."""
    r = [a / b for a, b in zip(num, den)]
    return f"{statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f})"


def _counts(rounds):
    """Each round's BLAS thread counts, e.g. '2, 2, 2>1, 1, 1' (2>1: dropped to one)."""
    return ", ".join(">".join(str(n) for n in counts) for counts in rounds)


def report(res):
    t = res["times"]
    lines = [f"rnngen {res['commit']} against PyTorch and rnngen {res['baseline']}: one layer, "
             f"{res['shape']}, float32, {res['threads_setting']} threads; median of "
             f"{res['rounds']} rounds ({res['steps']} training steps, {res['sample_chars']} "
             "sampled characters each)",
             f"{res['cpu']}; 1-minute load average {res['load'][0]:.1f} at the start, "
             f"{res['load'][1]:.1f} at the end (the benchmark's own workers count in it; "
             "far above the core count, other jobs shared the machine)", "",
             "| cell | phase | rnngen | baseline | torch | vs torch | vs baseline | "
             "sampling BLAS threads each round (rnngen; baseline) |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for cell in res["cells"]:
        for phase, unit, scale in (("train", "ms/step", 1e3), ("sample", "us/char", 1e6)):
            new, base, peer = (t[f"{cell}|{phase}|{lib}"] for lib in LIBRARIES)
            blas = ""
            if phase == "sample":
                blas = "; ".join(_counts(res["threads"][f"{cell}|{lib}"]) for lib in LIBRARIES[:2])
            lines.append(
                f"| {cell} | {phase}, {unit} | {statistics.median(new) * scale:,.1f} | "
                f"{statistics.median(base) * scale:,.1f} | {statistics.median(peer) * scale:,.1f} "
                f"| {ratios(peer, new)} | {ratios(base, new)} | {blas} |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    res = run(args)
    print(report(res))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
