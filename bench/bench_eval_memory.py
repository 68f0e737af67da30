"""Peak memory of `rnngen eval --corpus` as its text grows.

Trains a small model (hidden 128) for a few steps on 1 MiB of bench_memory's
generated text, then scores texts of each size with `python -m rnngen eval`, each
in a fresh process, and prints each one's peak RSS (from wait4). Scoring is
streamed, so the peak should grow by about the ids' one byte a character, not
with everything scoring once held per character (about 50 bytes).

    python bench/bench_eval_memory.py                 # 1 and 10 MiB
    python bench/bench_eval_memory.py --sizes-mb 1 10 50
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_memory import MIB, write_corpus  # noqa: E402


def peak_mib(cmd):
    """Run cmd; (exit status, its own peak RSS in MiB)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024  # KiB on Linux


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes-mb", type=float, nargs="+", default=[1, 10])
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rnngen-bench-") as tmp:
        tmp = Path(tmp)
        full = tmp / "full.txt"
        write_corpus(full, int(max(args.sizes_mb) * MIB))
        data = full.read_bytes()
        train_text = tmp / "train.txt"
        train_text.write_bytes(data[:MIB].rsplit(b" ", 1)[0])
        cfg = tmp / "cfg.yaml"
        cfg.write_text(yaml.safe_dump({
            "data": {"corpus": str(train_text)},
            "model": {"hidden_size": 128},
            "train": {"steps": 5, "eval_every": 5, "eval_chars": 10_000,
                      "output": str(tmp / "m.npz")}}))
        subprocess.run([sys.executable, "-m", "rnngen", "train", "--config", str(cfg), "-q"],
                       check=True)
        print("| text | peak RSS of rnngen eval |\n|---:|---:|")
        for size in args.sizes_mb:
            text = tmp / f"t{size}.txt"
            text.write_bytes(data[:int(size * MIB)].rsplit(b" ", 1)[0])
            code, peak = peak_mib([sys.executable, "-m", "rnngen", "eval", "--checkpoint",
                                   str(tmp / "m.npz"), "--corpus", str(text)])
            if code:
                print(f"rnngen eval failed (exit {code})")
                return 1
            print(f"| {size:g} MiB | {peak:.0f} MiB |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
