"""Seconds per training step of a few model shapes, for sizing configs to a time budget.

    python bench/steptime.py rnn,512,3,64,100 lstm,512,2,64,100 gru,512,2,64,100

Each argument is CELL,H,L,N,T. Five steps are timed after one warm-up step, in this one
process, on tinyshakespeare (../shared/corpora beside the repository); the median is
printed. On a shared machine only ratios between shapes measured together mean much.
"""
import sys
import time
from pathlib import Path

import numpy as np

from rnngen import config, corpus
from rnngen.run import build_trainer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"


def main(shapes):
    text = corpus.read_corpus(CORPUS)
    for shape in shapes:
        cell, H, L, N, T = shape.split(",")
        cfg = config.Config()
        cfg.model.cell, cfg.model.hidden_size, cfg.model.num_layers = cell, int(H), int(L)
        cfg.train.batch_size, cfg.train.seq_length = int(N), int(T)
        cfg.train.output = "/tmp/rnngen-steptime.npz"  # never written
        config.validate(cfg)
        trainer = build_trainer(cfg, text)
        batches = [trainer.batches.next(trainer.rng) for _ in range(6)]
        trainer.train_step(batches[0][:2], 2e-3)
        times = []
        for inputs, targets, _ in batches[1:]:
            started = time.perf_counter()
            trainer.train_step((inputs, targets), 2e-3)
            times.append(time.perf_counter() - started)
        params = sum(p.size for p in trainer.params.values())
        print(f"{shape}: median {np.median(times):.3f} s/step, {params:,} parameters",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
