"""Pool the rounds of several bench_engine.py runs (their --json files) into one figure.

One run's 9 rounds on a shared machine swing by 1.5x or more, so single runs of
the same code land anywhere from 1.4x to 1.7x. Each round's rnngen / torch
ratio is taken back to back, so the rounds of many runs can be pooled; this
prints, per shape, every run's ratio of medians, the median of all the
rounds' paired ratios and the commits the runs measured (pool runs of one engine
only: pass the files by name).

    python bench/summarize.py bench/results/*.json
"""
import json
import sys
from collections import defaultdict
from statistics import median


def main(paths):
    shapes = defaultdict(lambda: {"runs": [], "rounds": [], "commits": set()})
    for path in paths:
        with open(path) as f:
            run = json.load(f)
        if "torch" not in run:
            continue  # measured without the peer
        s = run["setup"]
        mine, peer = run["rnngen"]["train_rounds"], run["torch"]["train_rounds"]
        if len(mine) != len(peer):
            sys.exit(f"{path}: {len(mine)} rnngen rounds but {len(peer)} torch rounds")
        shape = shapes[(s.get("cell", "rnn"), s["hidden"], s["layers"], s["batch"], s["seq"])]
        shape["runs"].append(median(mine) / median(peer))
        shape["rounds"] += [a / b for a, b in zip(mine, peer)]
        shape["commits"].add(s.get("commit") or "unrecorded")
    if not shapes:
        sys.exit("no runs with both libraries among the files given")
    for (cell, H, L, N, T), shape in sorted(shapes.items()):
        rounds = shape["rounds"]
        runs = ", ".join(f"{r:.2f}x" for r in shape["runs"])
        print(f"{cell}, H={H}, L={L}, N={N}, T={T}: {len(shape['runs'])} runs (ratio of medians "
              f"{runs}); {len(rounds)} rounds, median paired ratio {median(rounds):.2f}x, "
              f"{sum(r >= 1.5 for r in rounds) / len(rounds):.0%} of rounds at 1.5x or more; "
              f"commits {', '.join(sorted(shape['commits']))}")


if __name__ == "__main__":
    main(sys.argv[1:])
