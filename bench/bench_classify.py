"""rnngen's classifier against the obvious PyTorch script, on the same data and batches.

    python bench/bench_classify.py                       # surnames, GRU 128, bidirectional
    python bench/bench_classify.py --cell lstm --hidden 64 --no-bidirectional --rounds 5
    python bench/bench_classify.py --at-steps 100,200,400 --seeds 3   # learning per step

PyTorch: nn.Embedding(V, 64) (--torch-one-hot: a fixed identity, V wide) +
nn.GRU/LSTM(64, H, bidirectional) on packed padded sequences (the last state of
each direction) + nn.Linear(D*H, K), Adam, the same clipping. Both train on the
same length-sorted batches (labelled.batches.plan with one seed), float32, the same
threads. Prints, as medians over rounds that take turns
(rnngen first in even rounds):
  - training characters a second (real characters, not padding) and their ratio;
  - validation accuracy after --budget seconds of training each, for each of --seeds
    seeds (both sides from that seed's initialisation, on the same batches), and the
    medians;
  - classifying every validation text: rnngen in batches (classification.logits)
    against PyTorch one text at a time in a loop, texts a second and the ratio;
  - with --lines N, classifying N lines (the validation texts repeated): rnngen reads
    them from a stream through classification.classify_lines and formats its answers
    (answer_lines), as `rnngen classify` does; PyTorch encodes, runs and formats one
    line at a time, timed on at most --torch-lines of them (its rate per line does not
    depend on how many follow) and said so.

With --at-steps, nothing is timed: for each of --seeds seeds, both sides start from
that seed's initialisation and train on the same stream of batches (epochs
reshuffled from the seed), and after each listed step the validation loss (nats per
text, unweighted) and accuracy are measured; a table of medians over the seeds
compares what each side learns per step, whatever the machine's load.
"""
import argparse
import io
import itertools
import statistics
import time

import numpy as np


def batches_for(encoded, batch_size, max_chars, seed):
    """Batches epoch after epoch without end, each epoch reshuffled, all drawn from
    ``seed``: the same stream for both sides."""
    from rnngen.labelled import batches

    rng = np.random.default_rng(seed)
    while True:
        for index in batches.plan(encoded.lengths, batch_size, max_chars, rng):
            yield batches.gather(encoded, index)


def rnngen_side(args, data, val, seed=1):
    from rnngen import classification, config, run

    cfg = run.load_config(config.Config(), {
        "data.corpus": "-", "model.task": "classify", "model.cell": args.cell,
        "model.hidden_size": args.hidden, "model.bidirectional": args.bidirectional,
        "train.batch_size": args.batch, "train.seq_length": args.max_chars // args.batch,
        "train.learning_rate": args.lr, "train.clip_value": 5.0, "train.output": "/dev/null",
        "train.seed": seed})[0]
    trainer = run.build_trainer(cfg, data)

    def step(b):
        return trainer.train_step((np.ascontiguousarray(b.ids.T), b.lengths.astype(np.intp),
                                   b.labels), args.lr)

    def scores():
        """(validation loss, nats per text; accuracy)."""
        rows = classification.logits(trainer.spec, trainer.params, val)
        return (classification.cross_entropy(rows, val.labels, None),
                float((rows.argmax(1) == val.labels).mean()))

    def classify():
        classification.logits(trainer.spec, trainer.params, val)

    def classify_lines(lines):
        model = classification.Classifier(trainer.spec, trainer.params, data.vocab,
                                          tuple(data.classes))
        stream = io.BytesIO("".join(line + "\n" for line in lines).encode("utf-8"))
        for texts, probs in classification.classify_lines(model, stream, "lines"):
            classification.answer_lines(texts, probs, model.classes)

    return step, scores, classify, classify_lines


def torch_side(args, vocab, K, val, seed=1):
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence

    from rnngen.labelled.encode import UNKNOWN

    V = len(vocab)
    torch.manual_seed(seed)
    rnn_class = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}[args.cell]
    D = 2 if args.bidirectional else 1

    E = V if args.torch_one_hot else 64

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, E)
            if args.torch_one_hot:  # rnngen's input: each character's own row of W_ih
                self.emb.weight = nn.Parameter(torch.eye(V), requires_grad=False)
            self.rnn = rnn_class(E, args.hidden, batch_first=True,
                                 bidirectional=args.bidirectional)
            self.out = nn.Linear(D * args.hidden, K)

        def forward(self, ids, lengths):
            packed = pack_padded_sequence(self.emb(ids), lengths, batch_first=True,
                                          enforce_sorted=False)
            _, h = self.rnn(packed)
            h = h[0] if isinstance(h, tuple) else h  # the LSTM's (h, c)
            return self.out(torch.cat(list(h[-D:]), dim=1))

    net = Net()
    trained = [w for w in net.parameters() if w.requires_grad]
    opt = torch.optim.Adam(trained, lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()

    def step(b):
        logits = net(torch.from_numpy(b.ids.astype(np.int64)), torch.from_numpy(b.lengths))
        loss = loss_fn(logits, torch.from_numpy(b.labels.astype(np.int64)))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(trained, 5.0)
        opt.step()
        return float(loss.detach())

    texts = [torch.from_numpy(val.sequence(i).astype(np.int64))[None] for i in range(len(val))]

    @torch.no_grad()
    def predict_one_by_one():
        return [int(net(t, torch.tensor([t.shape[1]])).argmax()) for t in texts]

    from rnngen.labelled import batches

    every = batches.gather(val, np.arange(len(val)))

    @torch.no_grad()
    def scores():
        """(validation loss, nats per text; accuracy), all texts in one packed batch."""
        logits = net(torch.from_numpy(every.ids.astype(np.int64)),
                     torch.from_numpy(every.lengths))
        labels = torch.from_numpy(every.labels.astype(np.int64))
        return (float(loss_fn(logits, labels)),
                float((logits.argmax(1) == labels).float().mean()))

    unknown = vocab.index[UNKNOWN]

    @torch.no_grad()
    def classify_lines(lines):
        for line in lines:
            ids = torch.tensor([[vocab.index.get(c, unknown) for c in line]])
            probs = torch.softmax(net(ids, torch.tensor([ids.shape[1]])), dim=1)[0]
            best = int(probs.argmax())
            f"{best}\t{float(probs[best]):.4f}\n"

    return step, scores, predict_one_by_one, classify_lines


def timed_rate(step, batches, steps):
    """Real characters a second over ``steps`` batches (after one warm-up step)."""
    step(batches[0])
    chars, started = 0, time.perf_counter()
    for b in batches[1:steps + 1]:
        step(b)
        chars += int(b.lengths.sum())
    return chars / (time.perf_counter() - started)


def trained_for(step, stream, seconds):
    """Train for ``seconds`` on batches from the stream; returns the steps taken."""
    started, n = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        step(next(stream))
        n += 1
    return n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="surnames")
    p.add_argument("--cell", default="gru", choices=["rnn", "lstm", "gru"])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--max-chars", type=int, default=1024)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=30, help="timed steps a round")
    p.add_argument("--budget", type=float, default=60, help="training seconds each")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lines", type=int, default=0,
                   help="also classify this many lines (the validation texts repeated)")
    p.add_argument("--torch-lines", type=int, default=3000,
                   help="time PyTorch's per-line loop on at most this many of the lines")
    p.add_argument("--at-steps", default="",
                   help="compare learning per step instead: validate after these steps "
                        "(comma-separated), nothing timed")
    p.add_argument("--torch-one-hot", action="store_true",
                   help="PyTorch reads one-hot characters (no embedding), as rnngen does")
    p.add_argument("--seeds", type=int, default=3,
                   help="seeds each side for --budget's accuracy and for --at-steps")
    args = p.parse_args()

    import torch

    from rnngen import config, threads
    from rnngen.tasks import classify

    torch.set_num_threads(args.threads)
    threads.use(args.threads)
    cfg = config.from_dict({"data": {"corpus": args.data}, "model": {"task": "classify"}})
    data = classify.load(cfg)
    from rnngen.labelled.encode import encode

    train = encode(data.vocab, data.train.texts, data.train.labels)
    val = encode(data.vocab, data.val.texts, data.val.labels)
    if args.at_steps:
        return per_step(args, data, train, val)
    batches = list(itertools.islice(batches_for(train, args.batch, args.max_chars, seed=7),
                                    args.steps + 1))
    sides = {"rnngen": rnngen_side(args, data, val),
             "torch": torch_side(args, data.vocab, len(data.classes), val)}
    rates = {k: [] for k in sides}
    for r in range(args.rounds):
        for name in (("rnngen", "torch") if r % 2 == 0 else ("torch", "rnngen")):
            rates[name].append(timed_rate(sides[name][0], batches, args.steps))
    ratio = [a / b for a, b in zip(rates["rnngen"], rates["torch"])]
    print(f"training chars/s: rnngen {statistics.median(rates['rnngen']):,.0f}, torch "
          f"{statistics.median(rates['torch']):,.0f}; median of paired ratios "
          f"{statistics.median(ratio):.2f}x")
    budget(args, data, train, val)
    speeds = {}
    for name, (_, _, classify_all, _) in sides.items():
        started = time.perf_counter()
        classify_all()
        speeds[name] = len(val) / (time.perf_counter() - started)
    print(f"classifying {len(val):,} texts: rnngen batched {speeds['rnngen']:,.0f}/s, torch "
          f"one by one {speeds['torch']:,.0f}/s: {speeds['rnngen'] / speeds['torch']:.1f}x")
    if args.lines:
        lines_rates(sides, data.val.texts, args.lines, args.torch_lines)


def budget(args, data, train, val):
    """For each seed, both sides from that seed's start train --budget seconds on the
    same stream of batches (taking turns at going first); prints each run's steps and
    validation accuracy, and the medians over seeds. One run's accuracy moves by a
    point or two with the seed alone, so one run each decides nothing."""
    found = {"rnngen": [], "torch": []}
    for seed in range(1, args.seeds + 1):
        sides = {"rnngen": rnngen_side(args, data, val, seed),
                 "torch": torch_side(args, data.vocab, len(data.classes), val, seed)}
        for name in (("rnngen", "torch") if seed % 2 else ("torch", "rnngen")):
            step, scores, *_ = sides[name]
            stream = batches_for(train, args.batch, args.max_chars, seed)
            n = trained_for(step, stream, args.budget)
            found[name].append((n, scores()[1]))
            print(f"seed {seed}, {name}: {n} steps in {args.budget:.0f} s; validation "
                  f"accuracy {found[name][-1][1]:.4f}")
    print(f"validation accuracy after {args.budget:.0f} s of training, median of "
          f"{args.seeds} seeds: " + ", ".join(
              f"{name} {spread([a for _, a in runs])}, "
              f"{statistics.median(n for n, _ in runs):.0f} steps"
              for name, runs in found.items()))


def per_step(args, data, train, val):
    """Both sides from each seed's start on the same batches; prints, after each of
    --at-steps, the medians over seeds of the validation loss and accuracy."""
    at = sorted({int(s) for s in args.at_steps.split(",")})
    found = {}  # (side, step) -> [(loss, accuracy) per seed]
    for seed in range(1, args.seeds + 1):
        stream = list(itertools.islice(
            batches_for(train, args.batch, args.max_chars, seed), at[-1]))
        sides = {"rnngen": rnngen_side(args, data, val, seed),
                 "torch": torch_side(args, data.vocab, len(data.classes), val, seed)}
        for name, (step, scores, *_) in sides.items():
            for n, b in enumerate(stream, 1):
                step(b)
                if n in at:
                    found.setdefault((name, n), []).append(scores())
    print(f"median over {args.seeds} seeds (and their range), {args.cell} {args.hidden}"
          f"{' bidirectional' if args.bidirectional else ''}, batches of {args.batch}, "
          f"lr {args.lr}; validation loss (nats per text) and accuracy")
    print("| steps | rnngen loss | torch loss | rnngen accuracy | torch accuracy |")
    print("|---:|---:|---:|---:|---:|")
    for n in at:
        cells = [spread([x[k] for x in found[(name, n)]]) for k in (0, 1)
                 for name in ("rnngen", "torch")]
        print(f"| {n} | " + " | ".join(cells) + " |")


def spread(values):
    """'median (lowest to highest)' of a few values."""
    return f"{statistics.median(values):.4f} ({min(values):.3f} to {max(values):.3f})"


def lines_rates(sides, texts, n, torch_n):
    """Lines a second classifying n lines (texts repeated), rnngen on all of them and
    torch on the first torch_n; prints both and the ratio."""
    lines = [texts[i % len(texts)] for i in range(n)]
    timed = {"rnngen": lines, "torch": lines[:torch_n]}
    rates = {}
    for name, part in timed.items():
        started = time.perf_counter()
        sides[name][3](part)
        rates[name] = len(part) / (time.perf_counter() - started)
    print(f"classifying {n:,} lines: rnngen (classify_lines, as rnngen classify) "
          f"{rates['rnngen']:,.0f}/s, torch one line at a time {rates['torch']:,.0f}/s "
          f"(timed on the first {len(timed['torch']):,} lines, its rate taken for all): "
          f"{rates['rnngen'] / rates['torch']:.1f}x")


if __name__ == "__main__":
    main()
