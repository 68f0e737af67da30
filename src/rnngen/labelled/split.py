"""Validation for labelled data: a stratified split, or a separate file, and the class
counts a run shows before it trains."""
import numpy as np

from ..errors import CorpusError, OptionError


def stratified_split(labels, val_fraction, seed):
    """(train_index, val_index): each class gives round(n_c * val_fraction) of its n_c
    examples to validation, but always keeps at least one for training.

    labels: (N,) int class indices. The same labels, fraction and seed give the same
    split (a Generator made from seed here, so a training run and a baseline on the
    same seed agree). Both index arrays are sorted. CorpusError when validation
    would be empty.
    """
    if not 0 < val_fraction < 1:
        raise OptionError(f"the validation fraction must be in (0, 1), got {val_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    val = []
    for k in range(int(labels.max()) + 1 if len(labels) else 0):
        members = np.flatnonzero(labels == k)
        take = min(int(np.floor(len(members) * val_fraction + 0.5)), len(members) - 1)
        if take > 0:
            val.append(rng.permutation(members)[:take])
    val = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.intp)
    if not len(val):
        raise CorpusError(f"{len(labels)} examples at data.val_fraction {val_fraction} leave "
                          "no validation example; raise data.val_fraction, add examples, "
                          "or give a validation file")
    keep = np.ones(len(labels), dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep), val


def align(val, classes):
    """val (a Labelled read from a validation file) relabelled onto the training
    classes; CorpusError naming the first example whose class training lacks."""
    index = {name: k for k, name in enumerate(classes)}
    unknown = [k for k, name in enumerate(val.classes) if name not in index]
    if unknown:
        first = int(np.flatnonzero(np.isin(val.labels, unknown))[0])
        raise CorpusError(f"{val.where(first)}: class {val.classes[val.labels[first]]!r} is not "
                          f"among the training classes ({', '.join(classes)}); remove it or "
                          "add examples of it to the training data")
    remap = np.array([index[name] for name in val.classes], dtype=np.intp)
    return type(val)(val.texts, remap[val.labels], tuple(classes), val.source, val.lines,
                     val.files)


def class_counts(classes, train_labels, val_labels):
    """One line per class: its name, then its training and validation examples."""
    train = np.bincount(train_labels, minlength=len(classes))
    val = np.bincount(val_labels, minlength=len(classes))
    width = max(len(c) for c in classes)
    digits = len(f"{max(train.max(), val.max()):,}")
    return [f"{name:<{width}}  train {t:>{digits},}  val {v:>{digits},}"
            for name, t, v in zip(classes, train, val)]
