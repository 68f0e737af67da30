"""One-stream sampling's CPU time on one core, this tree against an earlier one, paired.

    python bench/bench_stream.py --baseline f9a887d --cells gru --rounds 8

Each round runs a worker process for this tree and one for the baseline (``git
archive`` into a temporary folder, imported from there), in an order that alternates,
each timing the CPU seconds of one stream at temperature 1 (`rnngen sample`'s path:
``decoding._stream_chars``) on one BLAS thread, a one-layer model of hidden 512 and 65
symbols, median of three runs of ``--chars`` characters after a warm-up. CPU time of
single-threaded work is what a busy neighbour disturbs least; the ratio is baseline
over this tree (above 1: this tree is faster), median and range over rounds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def worker(cell, chars):
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read when numpy loads
    import time

    import numpy as np

    import rnngen
    from rnngen import decoding
    from rnngen.engine import model
    from rnngen.engine.spec import ModelSpec

    spec = ModelSpec(65, 512, 1, cell)
    params = model.init_params(spec, np.random.default_rng(0))
    m = decoding.Model(spec, params, "".join(chr(0x100 + i) for i in range(65)))
    times = []
    for r in range(4):  # the first is the warm-up
        stream = decoding._stream_chars(m, "", decoding.Decoding(n=chars, random_seed=r))
        next(stream)  # the seed
        started = time.process_time()
        count = sum(1 for _ in stream)
        times.append((time.process_time() - started) / count)
    print(json.dumps({"seconds": statistics.median(times[1:]), "file": rnngen.__file__}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", required=True, help="the git revision to compare with")
    p.add_argument("--cells", default="gru,lstm,rnn")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--chars", type=int, default=1500)
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker[0], int(args.worker[1]))
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", args.baseline, "src"], cwd=REPO,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {"this tree": REPO / "src", "baseline": Path(tmp) / "src"}
        for cell in args.cells.split(","):
            times, ratios = {k: [] for k in trees}, []
            for r in range(args.rounds):
                got = {}
                for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                    env = dict(os.environ, PYTHONPATH=str(trees[name]))
                    out = json.loads(subprocess.run(
                        [sys.executable, __file__, "--baseline", args.baseline, "--worker",
                         cell, str(args.chars)], env=env, capture_output=True, text=True,
                        check=True).stdout)
                    assert out["file"].startswith(str(trees[name])), out["file"]
                    got[name] = out["seconds"]
                    times[name].append(out["seconds"])
                ratios.append(got["baseline"] / got["this tree"])
            print(f"{cell}: this tree {statistics.median(times['this tree']) * 1e6:.1f} us/char, "
                  f"baseline {statistics.median(times['baseline']) * 1e6:.1f} (CPU, one core); "
                  f"baseline / this tree {statistics.median(ratios):.3f}x "
                  f"({min(ratios):.3f}-{max(ratios):.3f}), {args.rounds} rounds")


if __name__ == "__main__":
    main()
