"""Peak memory of `rnngen train` on a large corpus.

Writes a ~100 MiB UTF-8 text of random words (a few with non-ASCII letters, so
the text is not plain ASCII) into a temporary directory, trains a small model on
it for a few steps with `python -m rnngen train`, and checks the child's peak RSS
against 1.5 x the corpus size + 200 MiB. Exits 1 when over the limit.

    python bench/bench_memory.py
    python bench/bench_memory.py --size-mb 20    # a quicker check
"""
import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

MIB = 1 << 20
LIMIT_FACTOR = 1.5
LIMIT_EXTRA_MIB = 200
CHUNK_WORDS = 200_000  # ~1.3 MiB of text per write: the generator itself stays small

WORDS = (
    "the and of to a in that is was he for it with as his on be at by I had not are but "
    "from or have an they which one you were her all she there would their we him been "
    "has when who will more no if out so said what up its about into than them can only "
    "king queen lord night sword crown river winter"
).split() + ["café", "naïve", "Größe", "søster", "señor", "über", "façade", "Æsir"]


def write_corpus(path, size_bytes, seed=0):
    """Write at least size_bytes of random lines of WORDS to path; returns the size."""
    rng = np.random.default_rng(seed)
    # A token is a word and what follows it: mostly a space, sometimes the line's end.
    tokens = np.array([w + " " for w in WORDS] + [w + ".\n" for w in WORDS])
    weights = np.r_[np.full(len(WORDS), 9.0), np.full(len(WORDS), 1.0)]
    weights /= weights.sum()
    written = 0
    with open(path, "wb") as f:
        while written < size_bytes:
            picks = rng.choice(len(tokens), size=CHUNK_WORDS, p=weights)
            data = "".join(tokens[picks].tolist()).encode("utf-8")
            f.write(data)
            written += len(data)
    return written


def write_config(path, corpus, output, steps):
    """A small model for a few steps; validation scores only 20,000 characters."""
    cfg = {
        "data": {"corpus": str(corpus)},
        "model": {"hidden_size": 128, "num_layers": 1},
        "train": {"steps": steps, "eval_every": steps, "eval_chars": 20_000,
                  "output": str(output)},
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def peak_rss_mib(kind):
    return resource.getrusage(kind).ru_maxrss / 1024  # ru_maxrss is KiB on Linux


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mb", type=float, default=100, help="corpus size in MiB")
    p.add_argument("--steps", type=int, default=20, help="training steps")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="rnngen-bench-") as tmp:
        tmp = Path(tmp)
        corpus = tmp / "corpus.txt"
        started = time.perf_counter()
        size = write_corpus(corpus, int(args.size_mb * MIB))
        print(f"wrote {corpus.name}: {size / MIB:.1f} MiB in {time.perf_counter() - started:.1f} s")
        config = tmp / "config.yaml"
        write_config(config, corpus, tmp / "model.npz", args.steps)

        # A child started by subprocess inherits this process's ru_maxrss (vfork +
        # exec), so the child's figure cannot be below ours: ours stays small.
        own = peak_rss_mib(resource.RUSAGE_SELF)
        cmd = [sys.executable, "-m", "rnngen", "train", "--config", str(config), "-q"]
        print("running:", " ".join(cmd[1:]), flush=True)
        started = time.perf_counter()
        done = subprocess.run(cmd)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            print(f"rnngen train failed (exit {done.returncode})")
            return 1
        peak = peak_rss_mib(resource.RUSAGE_CHILDREN)

    limit = LIMIT_FACTOR * size / MIB + LIMIT_EXTRA_MIB
    ok = peak < limit
    print()
    print(f"| corpus | {size / MIB:.1f} MiB UTF-8 ({len(WORDS)} words, some non-ASCII) |")
    print("|---|---|")
    print(f"| rnngen train | hidden 128, {args.steps} steps, {seconds:.1f} s |")
    print(f"| peak RSS | {peak:.0f} MiB ({peak * MIB / size:.2f} x corpus) |")
    print(f"| limit | {limit:.0f} MiB = {LIMIT_FACTOR} x corpus + {LIMIT_EXTRA_MIB} MiB |")
    print(f"| result | {'PASS' if ok else 'FAIL'} |")
    print(f"\n(this script's own peak, a floor for the child's figure: {own:.0f} MiB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
