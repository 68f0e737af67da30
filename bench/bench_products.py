"""What batching rows can buy a sampler on this machine: one step's products for N rows.

    python bench/bench_products.py                   # the shipped model, N = 1, 8, 64
    python bench/bench_products.py --checkpoint runs/gru.npz --rows 1,64,256

A step of sampling is a few products per row (engine/sampling.Stepper.advance and
decode). It times one step of them three ways, on 1 and on 2 BLAS threads:

  - ``alone``: one row, as `rnngen sample` steps one stream (a one-row product);
  - ``rowwise``: N rows as N one-row products in one call (Stepper(rowwise=True), what
    `rnngen serve` does so that a row's text never depends on the others);
  - ``shared``: N rows in one N-row product (Stepper(rowwise=False), what
    `--num-samples` does).

and prints microseconds a row-step (one step's Stepper.advance and decode, divided by N;
median of --rounds, each the mean of --steps steps), with the floating-point rate of
its products and each against ``alone``: the most that batching N rows can save in
the engine. The products and the cell's element-wise update are timed; the choice of
each character and the server's Python around it are not.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "shakespeare.npz"))
    p.add_argument("--rows", default="1,8,64", help="row counts N, comma-separated")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=50, help="steps timed in a round")
    return p.parse_args(argv)


def step_seconds(stepper, rounds, steps, V):
    """Median over rounds of the mean time of one step's products (advance + decode)."""
    ids = np.arange(stepper.streams) % V
    out = np.empty((stepper.streams, V), dtype=stepper.dtype)
    for _ in range(5):
        stepper.advance(ids)
        stepper.decode(out)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(steps):
            stepper.advance(ids)
            stepper.decode(out)
        times.append((time.perf_counter() - started) / steps)
    return statistics.median(times)


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    from rnngen import checkpoint, threads
    from rnngen.engine import sampling

    ckpt = checkpoint.load(args.checkpoint)
    spec, params = ckpt.spec, ckpt.params
    V, H, L = spec.vocab_size, spec.hidden_size, spec.num_layers
    G = spec.cell_module.GATES
    # multiply-adds a row-step: layer 0's recurrent product, the upper layers' two, the decoder
    macs = H * G * H + (L - 1) * 2 * H * G * H + H * V
    rows = [int(n) for n in args.rows.split(",")]
    print(f"bench_products: {args.checkpoint}: {spec.describe()}, "
          f"{2 * macs / 1e6:.2f} MFLOP a row-step; median of {args.rounds} rounds of "
          f"{args.steps} steps")
    print("| BLAS threads | N | way | us a row-step | GFLOP/s | x alone |")
    print("|---:|---:|---|---:|---:|---:|")
    for n_threads in (1, 2):
        with threads.blas_threads(n_threads):
            alone = step_seconds(sampling.Stepper(spec, params, streams=1), args.rounds,
                                 args.steps, V)
            print(f"| {n_threads} | 1 | alone | {alone * 1e6:,.1f} | "
                  f"{2 * macs / alone / 1e9:.1f} | 1.00 |")
            for n in rows:
                if n == 1:
                    continue
                for way, rowwise in (("rowwise", True), ("shared", False)):
                    s = step_seconds(sampling.Stepper(spec, params, streams=n,
                                                      rowwise=rowwise),
                                     args.rounds, args.steps, V) / n
                    print(f"| {n_threads} | {n} | {way} | {s * 1e6:,.1f} | "
                          f"{2 * macs / s / 1e9:.1f} | {alone / s:.2f} |")


if __name__ == "__main__":
    main()
