"""Training and sampling speed of rnngen's engine against a PyTorch peer.

Both train the same shape on the same tinyshakespeare batches, taking turns:
each round runs rnngen in a fresh process (a warm-up step, K timed steps, then
per-character sampling and a float32 matmul peak), then PyTorch the same way,
so drift in the machine's speed (turbo, neighbours) hits both alike. A process
each keeps the libraries from meeting: neither's idle thread pool, allocator
settings or memory counts against the other, as when a user runs just one.
--same-process runs both in this one process instead, for comparison.

    python bench/bench_engine.py                 # hidden 512, 1 layer, 64 x 100
    python bench/bench_engine.py --hidden 128    # the small shape
    python bench/bench_engine.py --cell lstm     # against nn.LSTM (gru: nn.GRU)
    python bench/bench_engine.py --json bench/results/engine.json

PyTorch is needed only for the peer; without it the rnngen half still runs.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "tinyshakespeare.txt"
NO_TORCH = "PyTorch is not installed: pip install torch==2.13.0 (CPU) to run the peer"
EMBED = 64  # the peer's embedding width (rnngen reads W_xh rows by character id)
SAMPLE_CHARS = 2000
SEED_TEXT_CHARS = 20
SGEMM_SIZE = 2048
NOISY_SPREAD = 1.5  # fastest / slowest round above this gets a warning

# numpy and torch read their thread counts when first imported, so they are
# imported by load_libraries() once the environment is set, not at the top.
np = None
torch = None


def load_libraries(threads, with_torch=True):
    global np, torch
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import numpy
    np = numpy
    if with_torch:
        try:
            import torch as torch_module
        except ImportError:
            return
        torch_module.set_num_threads(threads)
        torch = torch_module


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=512, help="hidden units per layer (H)")
    p.add_argument("--layers", type=int, default=1, help="stacked RNN layers (L)")
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="rnn",
                   help="the recurrent cell (the peer uses nn.RNN, nn.LSTM or nn.GRU)")
    p.add_argument("--batch", type=int, default=64, help="parallel streams (N)")
    p.add_argument("--seq", type=int, default=100, help="BPTT length (T)")
    p.add_argument("--threads", type=int, default=2, help="BLAS / torch threads")
    p.add_argument("--rounds", type=int, default=9, help="alternating timing rounds")
    p.add_argument("--steps-per-round", type=int, default=10,
                   help="timed training steps of each library per round (K)")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="UTF-8 text to train on")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    p.add_argument("--same-process", action="store_true",
                   help="time both libraries in this process, not a fresh one per round")
    p.add_argument("--child", choices=("rnngen", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


# -- the two trainers --------------------------------------------------------

def rnngen_trainer(args, corpus, device=None):
    """The Trainer `rnngen train` would build for this shape (Adam 2e-3, clip 5), on
    ``device`` (rnngen.device.Device; the CPU when None)."""
    from rnngen import config
    from rnngen.run import build_trainer

    cfg = config.Config()
    cfg.data.corpus = str(args.corpus)
    cfg.train.output = os.path.join(tempfile.gettempdir(), "rnngen-bench.npz")  # never written
    cfg.model.hidden_size, cfg.model.num_layers = args.hidden, args.layers
    cfg.model.cell = args.cell
    t = cfg.train
    t.batch_size, t.seq_length = args.batch, args.seq
    t.optimizer, t.learning_rate, t.clip_value, t.clip_norm = "adam", 2e-3, 5.0, 0.0
    config.validate(cfg)
    return build_trainer(cfg, corpus, device=device)


def rnngen_step_fn(trainer, lr=2e-3):
    """step(batch) -> loss; a new epoch starts from a zero state, as Trainer.run does."""
    def step(batch):
        inputs, targets, new_epoch = batch
        if new_epoch:
            trainer.state[:] = 0
        return trainer.train_step((inputs, targets), lr)
    return step


PEER_CELLS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def make_torch_peer(vocab_size, hidden, layers, cell="rnn"):
    nn = torch.nn

    class Peer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, EMBED)
            if cell == "rnn":
                self.rnn = nn.RNN(EMBED, hidden, num_layers=layers, nonlinearity="tanh")
            else:
                self.rnn = getattr(nn, PEER_CELLS[cell])(EMBED, hidden, num_layers=layers)
            self.decode = nn.Linear(hidden, vocab_size)

        def forward(self, ids, h):  # ids (T, N), time-major like rnngen
            out, h = self.rnn(self.embed(ids), h)
            return self.decode(out), h

    torch.manual_seed(0)
    return Peer()


def torch_step_fn(peer):
    """step(batch) -> loss for the peer: the usual PyTorch char-RNN training step."""
    F = torch.nn.functional
    opt = torch.optim.Adam(peer.parameters(), lr=2e-3)
    state = {"h": None}

    def step(batch):
        inputs, targets, new_epoch = batch
        if new_epoch:
            state["h"] = None  # zeros
        logits, h = peer(inputs, state["h"])
        # carry the state (a tuple (h, c) for nn.LSTM), truncate the gradient
        state["h"] = tuple(x.detach() for x in h) if isinstance(h, tuple) else h.detach()
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_value_(peer.parameters(), 5.0)
        opt.step()
        return loss.item()
    return step


def make_batches(train_ids, args, count):
    """count consecutive (inputs, targets, new_epoch) batches, (T, N) uint8."""
    from rnngen.training import Batches

    batches = Batches(train_ids, args.batch, args.seq)
    rng = np.random.default_rng(0)
    return [batches.next(rng) for _ in range(count)]


def as_torch(batches):
    return [(torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.int64)), new)
            for x, y, new in batches]


def time_steps(step, batches):
    """Run batches[0] as warm-up, then time the rest; returns chars/s."""
    step(batches[0])
    started = time.perf_counter()
    for batch in batches[1:]:
        step(batch)
    seconds = time.perf_counter() - started
    T, N = batches[0][0].shape
    return (len(batches) - 1) * T * N / seconds


# -- sampling ----------------------------------------------------------------

def rnngen_sample_fn(spec, params, seed_ids):
    from rnngen import decoding

    chars = "".join(chr(0x100 + i) for i in range(spec.vocab_size))  # V distinct symbols
    model = decoding.Model(spec, params, chars)
    seed = "".join(chars[i] for i in seed_ids)

    def sample(n):  # on all BLAS threads, as the peer runs
        pieces = list(decoding.stream(model, seed, decoding.Decoding(n, random_seed=0),
                                      one_thread=False))
        assert len(pieces) == n + 1  # the seed, then n characters
    return sample


def torch_sample_fn(peer, seed_ids):
    """One character at a time: embed, one RNN step, decode, softmax, multinomial."""
    seed = torch.from_numpy(seed_ids.astype(np.int64)).view(-1, 1)  # (S, 1)

    @torch.no_grad()
    def sample(n):
        gen = torch.Generator().manual_seed(0)
        out, h = peer.rnn(peer.embed(seed))
        logits = peer.decode(out[-1, 0])
        ids = []
        for _ in range(n):
            probs = torch.softmax(logits, dim=-1)  # temperature 1
            idx = torch.multinomial(probs, 1, generator=gen)
            ids.append(idx.item())
            out, h = peer.rnn(peer.embed(idx.view(1, 1)), h)
            logits = peer.decode(out[0, 0])
    return sample


def time_sampling(sample, n=SAMPLE_CHARS):
    sample(n // 40)  # warm-up: first calls build buffers and pick kernels
    started = time.perf_counter()
    sample(n)
    return n / (time.perf_counter() - started)


# -- machine -----------------------------------------------------------------

def sgemm_fn(matmul, make, n=SGEMM_SIZE, repeats=3):
    """measure() -> the best float32 n x n matmul rate of `repeats`, in GFLOP/s."""
    a, b, out = make(n), make(n), make(n)
    matmul(a, b, out=out)  # warm-up: thread pool start, page faults

    def measure():
        best = min(_timed(matmul, a, b, out) for _ in range(repeats))
        return 2 * n ** 3 / best / 1e9
    return measure


def _timed(matmul, a, b, out):
    started = time.perf_counter()
    matmul(a, b, out=out)
    return time.perf_counter() - started


def numpy_sgemm_fn():
    rng = np.random.default_rng(0)
    return sgemm_fn(np.matmul, lambda n: rng.standard_normal((n, n), dtype=np.float32))


def torch_sgemm_fn():
    return sgemm_fn(torch.mm, lambda n: torch.randn(n, n))


def flops_per_char(hidden, layers, vocab_size, cell="rnn"):
    """Multiply-add FLOPs of one training character, forward (2) + backward (4).

    Per character: W_hh in every layer (G*H^2 for G gates), W_xh in layers above
    the first (G*H^2; layer 0 reads a row by id, no product), the decoder (H*V).
    With one tanh layer this is 6*(H^2 + H*V). The peer's 64 x G*H input product
    is not counted.
    """
    from rnngen.engine.cells import CELLS

    G = CELLS[cell].GATES  # asked of the cell, never copied here
    macs = G * (layers * hidden ** 2 + (layers - 1) * hidden ** 2) + hidden * vocab_size
    return 6 * macs


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit():
    """The repository's commit (with + if the tree has changes), so saved results say
    which engine they measured; None outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if dirty else "")


def numpy_blas():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas['version']}"
    except Exception:  # older numpy or an unusual build: the name is only a label
        return "unknown BLAS"


# -- one library, one round ----------------------------------------------------

def train_ids_of(corpus):
    """The training split, as `rnngen train` makes it (val_fraction's default)."""
    from rnngen.config import DataConfig

    return corpus.split(DataConfig().val_fraction)[0]


def round_batches(train_ids, args, r):
    """Round r's K + 1 batches: fresh in every round, as in real training, and the
    same for both libraries."""
    K = args.steps_per_round
    return make_batches(train_ids, args, (r + 1) * (K + 1))[r * (K + 1):]


def library_jobs(name, corpus, args):
    """(train(r), sample(), sgemm()) for one library; the model is built beforehand,
    the matmul buffers (48 MiB) only when sgemm() runs, so that peak RSS read after
    training counts the training alone."""
    seed_ids = corpus.ids[:SEED_TEXT_CHARS]
    train_ids = train_ids_of(corpus)
    if name == "rnngen":
        trainer = rnngen_trainer(args, corpus)
        step = rnngen_step_fn(trainer)
        return (lambda r: time_steps(step, round_batches(train_ids, args, r)),
                lambda: time_sampling(rnngen_sample_fn(trainer.spec, trainer.params, seed_ids)),
                lambda: numpy_sgemm_fn()())
    peer = make_torch_peer(len(corpus.vocab), args.hidden, args.layers, args.cell)
    step = torch_step_fn(peer)
    return (lambda r: time_steps(step, as_torch(round_batches(train_ids, args, r))),
            lambda: time_sampling(torch_sample_fn(peer, seed_ids)),
            lambda: torch_sgemm_fn()())


def child_main(args):
    """One round of one library in this fresh process; prints its results as JSON.

    Peak RSS is read right after training, before sampling and the matmul peak
    (whose 2048 x 2048 buffers are no part of a training run).
    """
    load_libraries(args.threads, with_torch=args.child == "torch")
    if args.child == "torch" and torch is None:
        raise SystemExit(NO_TORCH)
    from rnngen.corpus import read_corpus

    train, sample, sgemm = library_jobs(args.child, read_corpus(args.corpus), args)
    out = {"train": train(args.round), "peak_rss_mib": own_peak_rss_kib() / 1024}
    out.update(sample=sample(), sgemm=sgemm())
    print(json.dumps(out))


def run_child(name, args, r):
    cmd = [sys.executable, __file__, "--child", name, "--round", str(r),
           "--hidden", str(args.hidden), "--layers", str(args.layers), "--cell", args.cell,
           "--batch", str(args.batch), "--seq", str(args.seq), "--threads", str(args.threads),
           "--steps-per-round", str(args.steps_per_round), "--corpus", str(args.corpus)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the {name} round {r} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def own_peak_rss_kib():
    """This process's peak RSS in KiB.

    VmHWM (Linux) is the peak of this program's own address space. ru_maxrss is
    the fallback elsewhere, but on Linux a child started by subprocess (vfork +
    exec) inherits its parent's ru_maxrss, so it would report the parent's peak
    (with torch loaded) whenever that is the larger.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])  # "VmHWM:   123456 kB"
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


# -- the benchmark -------------------------------------------------------------

def alternate(jobs, rounds):
    """Call each of jobs {name: job(round) -> result} in turn, rounds times; name -> results.

    Odd rounds run the jobs in reverse order, so neither library always goes first.
    """
    results = {name: [] for name in jobs}
    order = list(jobs)
    for r in range(rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            results[name].append(jobs[name](r))
    return results


def paired_ratio(mine, peers):
    """Median over rounds of mine[r] / peers[r]: each pair ran back to back, so a
    busy spell on a shared machine slows both sides of a pair alike."""
    return statistics.median(x / y for x, y in zip(mine, peers))


def rounds_in_children(names, args):
    """name -> {"train": [...], "sample": [...], "sgemm": [...], "peak_rss_mib": [...]}."""
    jobs = {name: (lambda r, name=name: run_child(name, args, r)) for name in names}
    per_round = alternate(jobs, args.rounds)
    return {name: {key: [res[key] for res in results] for key in results[0]}
            for name, results in per_round.items()}


def rounds_in_this_process(names, corpus, args):
    """As rounds_in_children, but both libraries live in this process throughout.

    Peak RSS still comes from a child each: in here, both libraries count."""
    jobs = {name: library_jobs(name, corpus, args) for name in names}
    per_round = alternate({name: (lambda r, job=job: (job[0](r), job[1](), job[2]()))
                           for name, job in jobs.items()}, args.rounds)
    out = {}
    for name, results in per_round.items():
        train, sample, sgemm = (list(col) for col in zip(*results))
        rss = run_child(name, args, 0)["peak_rss_mib"]
        out[name] = {"train": train, "sample": sample, "sgemm": sgemm, "peak_rss_mib": [rss]}
    return out


def run(args):
    from rnngen.corpus import read_corpus

    corpus = read_corpus(args.corpus)
    V = len(corpus.vocab)
    names = ["rnngen"] + (["torch"] if torch is not None else [])
    if args.same_process:
        rounds = rounds_in_this_process(names, corpus, args)
    else:
        rounds = rounds_in_children(names, args)
    flops = flops_per_char(args.hidden, args.layers, V, args.cell)
    res = {"setup": {
        "cpu": cpu_model(), "cores": os.cpu_count(), "threads": args.threads,
        "python": platform.python_version(), "numpy": np.__version__, "blas": numpy_blas(),
        "torch": torch.__version__ if torch is not None else None,
        "corpus": str(args.corpus), "vocab": V, "hidden": args.hidden, "layers": args.layers,
        "cell": args.cell,
        "batch": args.batch, "seq": args.seq, "dtype": "float32", "rounds": args.rounds,
        "steps_per_round": args.steps_per_round, "sample_chars": SAMPLE_CHARS,
        "processes": "this one" if args.same_process else "a fresh one per library per round",
        "flops_per_char": flops, "peer_embedding": EMBED, "commit": git_commit(),
    }, "torch": None}
    for name, r in rounds.items():
        res[name] = summarize(r["train"], r["sample"], max(r["sgemm"]), flops)
        res[name]["peak_rss_mib"] = max(r["peak_rss_mib"])
    if "torch" in rounds:
        res["paired_train_ratio"] = paired_ratio(rounds["rnngen"]["train"], rounds["torch"]["train"])
        res["paired_sample_ratio"] = paired_ratio(rounds["rnngen"]["sample"],
                                                  rounds["torch"]["sample"])
    return res


def summarize(train, sample, sgemm, flops):
    train_median = statistics.median(train)
    gflops = train_median * flops / 1e9
    return {"train_chars_per_s": train_median, "train_rounds": train,
            "sample_chars_per_s": statistics.median(sample), "sample_rounds": sample,
            "sgemm_gflops": sgemm, "train_gflops": gflops, "sgemm_fraction": gflops / sgemm}


def report(res):
    s, a, b = res["setup"], res["rnngen"], res["torch"]
    torch_label = f"torch {s['torch']}" if b else "torch: not installed"
    lines = [
        f"rnngen engine vs PyTorch peer: tinyshakespeare, {s.get('cell', 'rnn')} cell, "
        f"H={s['hidden']}, L={s['layers']}, "
        f"N={s['batch']}, T={s['seq']}, float32, {s['threads']} threads",
        f"machine: {s['cpu']} ({s['cores']} cores); Python {s['python']}, numpy {s['numpy']} "
        f"({s['blas']}), {torch_label}; each round in {s['processes']}",
    ]
    if b:
        lines.append(
            f"peer: nn.Embedding({s['vocab']}, {EMBED}) + "
            f"nn.{PEER_CELLS[s.get('cell', 'rnn')]}({EMBED}, {s['hidden']}, "
            f"num_layers={s['layers']}) + nn.Linear({s['hidden']}, {s['vocab']}); "
            "Adam 2e-3, clip_grad_value_ 5 (rnngen: Adam 2e-3, clip 5, reads W_xh rows by id)")
    lines += [
        "",
        "| measure | rnngen | torch | rnngen / torch |",
        "|---|---:|---:|---:|",
    ]

    def row(name, key, fmt, ratio=True):
        x = a[key]
        y = b[key] if b else None
        r = f"{x / y:.2f}x" if (y and ratio) else ""
        lines.append(f"| {name} | {fmt(x)} | {fmt(y) if y is not None else '-'} | {r} |")

    def count(v):
        return f"{v:,.0f}"

    row(f"training, chars/s (median of {s['rounds']} rounds x {s['steps_per_round']} steps)",
        "train_chars_per_s", count)
    row(f"sampling, chars/s (temperature 1, median of {s['rounds']} x {s['sample_chars']})",
        "sample_chars_per_s", count)
    row("peak RSS of a training run, MiB", "peak_rss_mib", lambda v: f"{v:,.0f}")
    row(f"float32 matmul peak ({SGEMM_SIZE}^2, best round), GFLOP/s", "sgemm_gflops",
        lambda v: f"{v:.1f}")
    row("training, GFLOP/s", "train_gflops", lambda v: f"{v:.1f}")
    row("training, fraction of own matmul peak", "sgemm_fraction",
        lambda v: f"{100 * v:.0f}%", ratio=False)
    lines += [
        "",
        f"FLOPs per character = 6*(G*H^2 + H*V) for one layer of G gates "
        f"(+ 12*G*H^2 per extra layer) "
        f"= {s['flops_per_char']:,}; forward 2, backward 4 per multiply-add",
        "per round, chars/s: rnngen " + ", ".join(count(v) for v in a["train_rounds"])
        + ("; torch " + ", ".join(count(v) for v in b["train_rounds"]) if b else ""),
    ]
    if b:
        lines.append(
            f"round by round (each pair back to back), median rnngen / torch: training "
            f"{res['paired_train_ratio']:.2f}x, sampling {res['paired_sample_ratio']:.2f}x")
    # Medians absorb one slow round; rounds far apart mean the whole run was disturbed.
    spread = max(max(r["train_rounds"]) / min(r["train_rounds"]) for r in (a, b) if r)
    if spread > NOISY_SPREAD:
        lines.append(f"warning: the fastest round is {spread:.1f}x the slowest; the machine "
                     "was busy or throttled, so rerun before quoting these numbers")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    load_libraries(args.threads)
    if torch is None:
        print(NO_TORCH + "; running the rnngen half only.\n")
    res = run(args)
    print(report(res))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
