"""Sampling speed: K samples as one batch against K single runs, beam search against one sample.

Each round measures, back to back so that a busy spell on a shared machine slows
both sides of a ratio alike:

  (a) `rnngen sample --num-samples 64 --n 1000` against 64 runs of
      `rnngen sample --n 1000` (separate processes, as a user would run them),
      and the same inside one process (decoding.samples of 64 against
      decoding.stream 64 times: the engine alone, no start-up);
  (b) `--beam 8 --n 1000` against one plain sample of `--n 1000`, as two
      processes and in one process (decoding.samples with beam against
      decoding.stream).

It prints the median time of each and the median over rounds of each round's
ratio. --singles S times S of the 64 single runs per round and counts them 64/S
times (64 by default: all of them). It also counts how many of the 64 batched
samples equal the single run with the same seed (see README: float32 rounding).

    python bench/bench_sampling.py                      # shipped model, 3 rounds
    python bench/bench_sampling.py --rounds 5 --singles 16 --threads 1
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
K, N_CHARS, BEAMS, SEED = 64, 1000, 8, "ROMEO:"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "shakespeare.npz"))
    p.add_argument("--rounds", type=int, default=3, help="back-to-back rounds")
    p.add_argument("--singles", type=int, default=K,
                   help=f"single runs timed per round, counted {K}/S times")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads for every measurement (default: the environment's)")
    p.add_argument("--no-cli", action="store_true", help="skip the separate-process timing")
    return p.parse_args(argv)


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def cli_seconds(args, extra):
    cmd = [sys.executable, "-m", "rnngen", "sample", "--checkpoint", args.checkpoint,
           "--seed", SEED, "--n", str(N_CHARS)] + extra
    t, _ = timed(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL))
    return t


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    from rnngen import decoding

    model = decoding.Model.load(args.checkpoint)
    scale = K / args.singles

    def single(seed):  # all BLAS threads, as the batch gets
        return "".join(decoding.stream(model, SEED, decoding.Decoding(N_CHARS, random_seed=seed),
                                       one_thread=False))

    rows = {name: [] for name in ("cli_batch", "cli_singles", "cli_beam", "cli_one", "batch",
                                  "singles", "beam", "one")}
    same = []
    for r in range(args.rounds):
        base = 1000 * r
        if not args.no_cli:
            rows["cli_batch"].append(cli_seconds(args, ["--num-samples", str(K),
                                                        "--random-seed", str(base)]))
            rows["cli_singles"].append(scale * sum(
                cli_seconds(args, ["--random-seed", str(base + i)]) for i in range(args.singles)))
            rows["cli_beam"].append(cli_seconds(args, ["--beam", str(BEAMS)]))
            rows["cli_one"].append(cli_seconds(args, ["--random-seed", str(base)]))
        t, batch = timed(lambda: decoding.samples(model, SEED, decoding.Decoding(
            N_CHARS, num_samples=K, random_seed=base)))
        rows["batch"].append(t)
        t, singles = timed(lambda: [single(base + i) for i in range(args.singles)])
        rows["singles"].append(scale * t)
        same.append(sum(b.seed + b.text == s for b, s in zip(batch, singles)))
        rows["beam"].append(timed(lambda: decoding.samples(model, SEED, decoding.Decoding(
            N_CHARS, beam=BEAMS, random_seed=0)))[0])
        rows["one"].append(timed(lambda: single(base))[0])
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in rows.items() if v),
              file=sys.stderr)

    def ratio(a, b):  # the median over rounds of each round's own ratio a / b
        return statistics.median(x / y for x, y in zip(rows[a], rows[b]))

    med = {k: statistics.median(v) for k, v in rows.items() if v}
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"{model.spec.describe()}, {N_CHARS} characters, {args.rounds} rounds, "
          f"BLAS threads {threads}; singles timed per round: {args.singles} (x{scale:g})")
    print("| measure | median seconds | against | median seconds | ratio (paired median) |")
    print("|---|---:|---|---:|---:|")
    if not args.no_cli:
        print(f"| {K} runs of `rnngen sample --n {N_CHARS}` | {med['cli_singles']:.2f} | "
              f"one `--num-samples {K}` | {med['cli_batch']:.2f} | "
              f"{ratio('cli_singles', 'cli_batch'):.1f}x faster |")
        print(f"| `rnngen sample --beam {BEAMS} --n {N_CHARS}` | {med['cli_beam']:.2f} | "
              f"one `rnngen sample --n {N_CHARS}` | {med['cli_one']:.2f} | "
              f"{ratio('cli_beam', 'cli_one'):.2f}x the time |")
    print(f"| {K} x `decoding.stream`, one process | {med['singles']:.2f} | "
          f"`decoding.samples` of {K} | {med['batch']:.2f} | "
          f"{ratio('singles', 'batch'):.1f}x faster |")
    print(f"| beam search, K = {BEAMS} | {med['beam']:.2f} | one plain sample | "
          f"{med['one']:.2f} | {ratio('beam', 'one'):.2f}x the time |")
    print(f"batched samples equal to the single run with the same seed: "
          f"{', '.join(f'{s}/{args.singles}' for s in same)}")


if __name__ == "__main__":
    main()
