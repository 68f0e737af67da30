"""Classification metrics: accuracy, per-class precision and recall, macro-F1, the
confusion matrix, and their text form for ``rnngen eval`` and the report.

Conventions (as scikit-learn's with zero_division=0): a class never predicted has
precision 0, one with no true examples recall 0, and F1 0 when precision and recall
are both 0. Macro-F1 averages F1 over the classes that occur among the true labels
or the predictions: a class absent from both says nothing about this evaluation
and does not pull the average down. Every number is a finite float, fit for JSON.
"""
import numpy as np

from .errors import OptionError


def confusion(y_true, y_pred, k):
    """(K, K) int: row i, column j counts examples of class i predicted as j."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise OptionError(f"true and predicted labels differ in shape: {y_true.shape} and "
                          f"{y_pred.shape}")
    for y in (y_true, y_pred):
        if len(y) and not (0 <= y.min() and y.max() < k):
            raise OptionError(f"labels must be class indices in [0, {k})")
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def _ratio(a, b):
    return np.divide(a, b, out=np.zeros(len(a)), where=b > 0)


def scores(matrix):
    """{accuracy, macro_f1, precision (K,), recall (K,), f1 (K,), support (K,)} of a
    confusion matrix."""
    matrix = np.asarray(matrix)
    hits = np.diag(matrix).astype(float)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    precision, recall = _ratio(hits, predicted), _ratio(hits, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    present = (support + predicted) > 0
    total = matrix.sum()
    return {"accuracy": float(hits.sum() / total) if total else 0.0,
            "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
            "precision": precision, "recall": recall, "f1": f1, "support": support}


def evaluate(y_true, y_pred, classes):
    """The JSON-ready summary ``rnngen eval`` prints for a classifier: accuracy and
    macro_f1 at the top, then per_class (class, precision, recall, f1, support) and the
    confusion matrix (rows true, columns predicted, both in classes' order)."""
    matrix = confusion(y_true, y_pred, len(classes))
    s = scores(matrix)
    per_class = [{"class": name, "precision": float(p), "recall": float(r), "f1": float(f),
                  "support": int(n)}
                 for name, p, r, f, n in zip(classes, s["precision"], s["recall"], s["f1"],
                                             s["support"])]
    return {"accuracy": s["accuracy"], "macro_f1": s["macro_f1"], "examples": int(matrix.sum()),
            "classes": list(classes), "per_class": per_class, "confusion": matrix.tolist()}


def format_summary(summary):
    """Lines of text for an evaluate() summary: the two headline numbers, a table of
    precision and recall per class, and the confusion matrix (rows: true class)."""
    classes = summary["classes"]
    width = max(len(c) for c in classes + ["class"])
    lines = [f"accuracy {summary['accuracy']:.4f}  macro-F1 {summary['macro_f1']:.4f}  "
             f"({summary['examples']:,} examples)", "",
             f"{'class':<{width}}  precision  recall      F1  support"]
    for row in summary["per_class"]:
        lines.append(f"{row['class']:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  "
                     f"{row['f1']:6.4f}  {row['support']:7,}")
    cell = max(5, *(len(f"{n:,}") for r in summary["confusion"] for n in r))
    labels = [f"{i:>{cell}}" for i in range(len(classes))]
    lines += ["", "confusion (rows: true class; columns: predicted, numbered as the rows)",
              f"{'':<{width}}    " + " ".join(labels)]
    for i, (name, counts) in enumerate(zip(classes, summary["confusion"])):
        lines.append(f"{name:<{width}} {i:>2} " + " ".join(f"{n:>{cell},}" for n in counts))
    return lines
