"""Classifier recipes compared per step: what each change to the training recipe learns.

    python bench/bench_classify_recipes.py "" "model.dropout=0.2" --at-steps 600,1200
    python bench/bench_classify_recipes.py "train.lr_schedule=cosine;train.warmup_steps=100"

Each argument is one recipe: settings (key=value, ';' between them) laid over the
base that bench_classify.py trains (a bidirectional GRU of 128, batches of 64 names of
at most 1,024 characters, Adam at 0.003, clipped at 5 by value, every text weighing
the same); "" is the base itself. A cosine schedule runs over the last of --at-steps.
For each of --seeds seeds, every recipe starts from that seed's initialisation and
trains on the same batches (epochs reshuffled from 100 + the seed), on the split a
run makes (train.seed 1337); after each of --at-steps it prints the medians over the
seeds of the validation loss (nats per text, unweighted), accuracy and macro-F1.
Nothing is timed.
"""
import argparse
import itertools
import statistics

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recipes", nargs="+", help="settings over the base, e.g. 'model.dropout=0.2'")
    p.add_argument("--data", default="surnames")
    p.add_argument("--at-steps", default="600,900,1200")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    from bench_classify import batches_for

    from rnngen import classification, config, metrics, run, threads
    from rnngen.engine import optim
    from rnngen.labelled.encode import encode
    from rnngen.tasks import classify

    threads.use(args.threads)
    data = classify.load(config.from_dict({"data": {"corpus": args.data},
                                           "model": {"task": "classify"}}))
    train = encode(data.vocab, data.train.texts, data.train.labels)
    val = encode(data.vocab, data.val.texts, data.val.labels)
    at = sorted({int(s) for s in args.at_steps.split(",")})
    for recipe in args.recipes:
        found = {n: [] for n in at}
        for seed in range(1, args.seeds + 1):
            settings = {"data.corpus": "-", "model.task": "classify", "model.cell": "gru",
                        "model.hidden_size": 128, "model.bidirectional": True,
                        "train.batch_size": 64, "train.seq_length": 16,
                        "train.learning_rate": 0.003, "train.clip_value": 5.0,
                        "train.output": "/dev/null", "train.seed": seed}
            settings.update(config.parse_assignment(kv) for kv in recipe.split(";") if kv)
            cfg = run.load_config(config.Config(), settings)[0]
            trainer, t = run.build_trainer(cfg, data), cfg.train
            stream = batches_for(train, 64, 1024, 100 + seed)
            for n, b in enumerate(itertools.islice(stream, at[-1]), 1):
                lr = optim.learning_rate(n - 1, t.learning_rate, t.lr_schedule, at[-1],
                                         t.warmup_steps)
                trainer.train_step((np.ascontiguousarray(b.ids.T), b.lengths.astype(np.intp),
                                    b.labels), lr)
                if n in at:
                    rows = classification.logits(trainer.spec, trainer.params, val)
                    s = metrics.scores(metrics.confusion(val.labels, rows.argmax(1),
                                                         len(data.classes)))
                    found[n].append((classification.cross_entropy(rows, val.labels),
                                     s["accuracy"], s["macro_f1"]))
        for n in at:
            loss, acc, f1 = (statistics.median(x[k] for x in found[n]) for k in range(3))
            print(f"{recipe or '(base)'} | step {n} | loss {loss:.4f} | accuracy {acc:.4f} | "
                  f"macro-F1 {f1:.4f}", flush=True)


if __name__ == "__main__":
    main()
