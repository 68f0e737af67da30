"""Baselines without a network for sequence classification: character n-grams.

The yardstick a recurrent classifier must beat: multinomial naive Bayes and
logistic regression on counts of character n-grams (1 to 4 by default, the text
padded with one boundary mark each side so that prefixes and suffixes count), pure
NumPy, trained on the same stratified split a classify run uses
(rnngen.labelled.split.stratified_split with data.val_fraction and train.seed).
It prints the class counts, then accuracy and macro-F1 (rnngen.metrics, as
``rnngen eval`` computes them) of each model on the validation split, with the
seconds each took to train, and the per-class table of the better one.

    python bench/bench_classify_baseline.py                     # the surnames data set
    python bench/bench_classify_baseline.py --corpus data.tsv --ngrams 2-5

The named 'surnames' set is built from faker (pip install 'rnngen-text[names]') on
first use and cached like tinyshakespeare; nothing is downloaded.
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rnngen import labelled, metrics
from rnngen.labelled.split import class_counts, stratified_split

REPO = Path(__file__).resolve().parent.parent
MARK = "\x02"  # boundary mark: "^smith$" lets n-grams see where a text starts and ends


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="surnames", help="labelled data: a named set or a path")
    p.add_argument("--val-fraction", type=float, default=0.1, help="as data.val_fraction")
    p.add_argument("--seed", type=int, default=1337, help="as train.seed: the split's seed")
    p.add_argument("--ngrams", default="1-4", help="n-gram orders, LO-HI")
    p.add_argument("--alpha", type=float, default=0.1, help="naive Bayes additive smoothing")
    p.add_argument("--steps", type=int, default=300, help="logistic regression: Adam steps")
    p.add_argument("--lr", type=float, default=0.05, help="logistic regression: learning rate")
    p.add_argument("--l2", type=float, default=1e-4, help="logistic regression: L2 penalty")
    return p.parse_args(argv)


def ngrams(text, lo, hi):
    padded = MARK + text + MARK
    return [padded[i:i + n] for n in range(lo, hi + 1) for i in range(len(padded) - n + 1)]


class Features:
    """Sparse n-gram counts, rows as CSR (indptr, indices, counts); the n-gram
    vocabulary comes from the training texts, unseen n-grams are left out."""

    def __init__(self, texts, lo, hi):
        self.lo, self.hi = lo, hi
        self.index = {}
        for text in texts:
            for g in ngrams(text, lo, hi):
                self.index.setdefault(g, len(self.index))

    def __call__(self, texts):
        indptr, indices = [0], []
        for text in texts:
            ids = [self.index[g] for g in ngrams(text, self.lo, self.hi) if g in self.index]
            indices += ids
            indptr.append(len(indices))
        indptr, indices = np.array(indptr), np.array(indices, dtype=np.int64)
        rows = np.repeat(np.arange(len(texts)), np.diff(indptr))
        # merge repeated n-grams of a row into one (row, feature, count) entry
        keys, counts = np.unique(rows * len(self.index) + indices, return_counts=True)
        return keys // len(self.index), keys % len(self.index), counts.astype(np.float64)


def matmul(X, W, n):
    """(n, K) = sparse X (rows, cols, vals) @ W (F, K): a weighted bincount per column
    (K is small; np.add.at over rows would be many times slower)."""
    rows, cols, vals = X
    return np.stack([np.bincount(rows, weights=vals * W[cols, j], minlength=n)
                     for j in range(W.shape[1])], axis=1)


def matmul_t(X, G, n_features):
    """(F, K) = X^T (F, n) @ G (n, K), for X as in matmul."""
    rows, cols, vals = X
    return np.stack([np.bincount(cols, weights=vals * G[rows, j], minlength=n_features)
                     for j in range(G.shape[1])], axis=1)


def naive_bayes(X, y, n_features, k, alpha):
    """Multinomial naive Bayes: (log P(feature | class) (F, K), log P(class) (K,))."""
    rows, cols, vals = X
    counts = matmul_t(X, np.eye(k)[y], n_features)  # n-gram counts per class
    log_p = np.log(counts + alpha) - np.log((counts + alpha).sum(axis=0))
    prior = np.log(np.bincount(y, minlength=k) / len(y))
    return log_p, prior


def logistic_regression(X, y, n, n_features, k, steps, lr, l2):
    """Softmax regression on row-normalised counts, full-batch Adam: W (F, K), b (K,)."""
    rows, cols, vals = X
    norm = np.sqrt(np.bincount(rows, weights=vals ** 2, minlength=n))
    Xn = (rows, cols, vals / norm[rows])
    W, b = np.zeros((n_features, k)), np.zeros(k)
    m = [np.zeros_like(W), np.zeros_like(b)]
    v = [np.zeros_like(W), np.zeros_like(b)]
    onehot = np.eye(k)[y]
    for t in range(1, steps + 1):
        logits = matmul(Xn, W, n) + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / n  # d mean cross-entropy / d logits
        grads = [matmul_t(Xn, g, n_features) + l2 * W, g.sum(axis=0)]
        for i, (param, grad) in enumerate(zip((W, b), grads)):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad ** 2
            param -= lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
    return lambda X_, n_: _normalised_scores(X_, n_, W, b)


def _normalised_scores(X, n, W, b):
    rows, cols, vals = X
    norm = np.sqrt(np.bincount(rows, weights=vals ** 2, minlength=n))
    return matmul((rows, cols, vals / np.maximum(norm[rows], 1e-12)), W, n) + b


def commit():
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main(argv=None):
    args = parse_args(argv)
    lo, hi = (int(x) for x in args.ngrams.split("-"))
    data = labelled.load(args.corpus)
    train, val = stratified_split(data.labels, args.val_fraction, args.seed)
    k = len(data.classes)
    y_train, y_val = data.labels[train], data.labels[val]
    print(f"{data.source}: {len(data):,} examples, {k} classes; split seed {args.seed}, "
          f"val_fraction {args.val_fraction}; commit {commit()}")
    for line in class_counts(data.classes, y_train, y_val):
        print("  " + line)

    t0 = time.perf_counter()
    features = Features([data.texts[i] for i in train], lo, hi)
    X_train = features([data.texts[i] for i in train])
    X_val = features([data.texts[i] for i in val])
    f = len(features.index)
    print(f"{f:,} distinct character {lo}-{hi}-grams in training "
          f"({time.perf_counter() - t0:.1f} s to count)\n")

    results = {}
    majority = np.full(len(val), np.bincount(y_train).argmax())
    results["majority class"] = (metrics.evaluate(y_val, majority, data.classes), 0.0)
    t0 = time.perf_counter()
    log_p, prior = naive_bayes(X_train, y_train, f, k, args.alpha)
    seconds = time.perf_counter() - t0
    predicted = (matmul(X_val, log_p, len(val)) + prior).argmax(axis=1)
    results[f"naive Bayes (alpha {args.alpha})"] = (
        metrics.evaluate(y_val, predicted, data.classes), seconds)
    t0 = time.perf_counter()
    scores = logistic_regression(X_train, y_train, len(train), f, k, args.steps, args.lr,
                                 args.l2)
    seconds = time.perf_counter() - t0
    predicted = scores(X_val, len(val)).argmax(axis=1)
    results[f"logistic regression ({args.steps} Adam steps)"] = (
        metrics.evaluate(y_val, predicted, data.classes), seconds)

    width = max(len(name) for name in results)
    print(f"{'model':<{width}}  accuracy  macro-F1  train s")
    for name, (summary, seconds) in results.items():
        print(f"{name:<{width}}  {summary['accuracy']:8.4f}  {summary['macro_f1']:8.4f}  "
              f"{seconds:7.2f}")
    best = max(results, key=lambda name: results[name][0]["macro_f1"])
    print(f"\n{best}, on the {len(val):,} validation examples:")
    for line in metrics.format_summary(results[best][0]):
        print("  " + line)


if __name__ == "__main__":
    sys.exit(main())
