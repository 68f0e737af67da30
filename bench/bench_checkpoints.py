"""Trained checkpoints side by side: what each scored, what it cost, how fast it samples.

    python bench/bench_checkpoints.py checkpoints/shakespeare.npz runs/G1.npz runs/L2.npz

For each checkpoint: its cell and shape, parameters, steps, training minutes and
characters per second as the checkpoint records them (train_seconds: wall time, so
only as quiet as the machine was), its last validation loss, and sampling speed:
one stream at temperature 1 (`rnngen sample`'s path, one BLAS thread as the CLI
uses for one stream), 2,000 characters after the seed "ROMEO:", timed in rounds that
take the checkpoints in turn; the median round is printed.
"""
import argparse
import os
import statistics
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--chars", type=int, default=2000)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read when numpy loads
    import numpy as np

    from rnngen import checkpoint, decoding

    ckpts = [checkpoint.load(path) for path in args.checkpoints]

    def sample(ckpt):
        started = time.perf_counter()
        text = "".join(decoding.stream(decoding.Model.from_checkpoint(ckpt), "ROMEO:",
                                       decoding.Decoding(args.chars, random_seed=0),
                                       one_thread=False))
        assert len(text) == len("ROMEO:") + args.chars
        return args.chars / (time.perf_counter() - started)

    speeds = [[] for _ in ckpts]
    for _ in range(args.rounds):
        for i, ckpt in enumerate(ckpts):
            speeds[i].append(sample(ckpt))

    print(f"{'checkpoint':28} {'model':14} {'params':>10} {'steps':>6} {'minutes':>8} "
          f"{'train c/s':>10} {'val':>7} {'bits':>6} {'sample c/s':>11}")
    for path, ckpt, s in zip(args.checkpoints, ckpts, speeds):
        spec, meta = ckpt.spec, ckpt.meta
        train = meta.get("train", {})
        steps, seconds = meta.get("step", 0), meta.get("train_seconds", 0.0)
        chars = steps * train.get("batch_size", 0) * train.get("seq_length", 0)
        history = meta.get("history") or [{}]
        val = history[-1].get("val_loss", float("nan"))
        params = sum(p.size for p in ckpt.params.values())
        model = f"{spec.num_layers} x {spec.hidden_size} {spec.cell}"
        print(f"{os.path.basename(path):28} {model:14} {params:>10,} {steps:>6,} "
              f"{seconds / 60:>8.1f} {chars / seconds if seconds else 0:>10,.0f} {val:>7.4f} "
              f"{val / np.log(2):>6.3f} {statistics.median(s):>11,.0f}")


if __name__ == "__main__":
    main()
