"""Update rules, gradient clipping and learning-rate schedules.

Every rule has one signature, ``update(w, dw, config) -> (w, config)`` as in CS231n:
``config`` holds the hyperparameters (``learning_rate`` is set by the trainer each
step) and the rule's own state arrays, which it creates on first use. Updates are in
place, since the caller owns the parameter arrays; ``w`` is returned for symmetry.

Each rule says which of its config entries are state (saved in checkpoints and
restored on resume) rather than hyperparameters: ``rule.state``.
"""
import math

import numpy as np


def keeps(*slots):
    """Declare the config entries a rule keeps as state between steps."""
    def mark(rule):
        rule.state = slots
        return rule

    return mark


@keeps("velocity")
def sgd(w, dw, config):
    """Plain stochastic gradient descent, optionally with momentum."""
    momentum = config.get("momentum", 0.0)
    if momentum:
        v = config.setdefault("velocity", np.zeros_like(w))
        v *= momentum
        v -= config["learning_rate"] * dw
        w += v
    else:
        w -= config["learning_rate"] * dw
    return w, config


@keeps("cache")
def adagrad(w, dw, config):
    """Adagrad: per-weight steps shrink with the sum of squared gradients."""
    cache = config.setdefault("cache", np.zeros_like(w))
    cache += dw * dw
    w -= config["learning_rate"] * dw / (np.sqrt(cache) + config.get("epsilon", 1e-8))
    return w, config


@keeps("cache")
def rmsprop(w, dw, config):
    """RMSProp: steps scaled by a running mean of squared gradients."""
    decay = config.get("decay_rate", 0.99)
    cache = config.setdefault("cache", np.zeros_like(w))
    cache *= decay
    cache += (1 - decay) * dw * dw
    w -= config["learning_rate"] * dw / (np.sqrt(cache) + config.get("epsilon", 1e-8))
    return w, config


@keeps("m", "v", "t")
def adam(w, dw, config):
    """Adam with bias correction; ``weight_decay`` > 0 makes it AdamW (decoupled)."""
    b1, b2 = config.get("beta1", 0.9), config.get("beta2", 0.999)
    m = config.setdefault("m", np.zeros_like(w))
    v = config.setdefault("v", np.zeros_like(w))
    t = config["t"] = config.get("t", 0) + 1
    lr = config["learning_rate"]
    m *= b1
    m += (1 - b1) * dw
    v *= b2
    v += (1 - b2) * (dw * dw)
    step = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    wd = config.get("weight_decay", 0.0)
    if wd and w.ndim > 1:  # decay weights, not biases
        w *= 1 - lr * wd
    w -= step * m / (np.sqrt(v) + config.get("epsilon", 1e-8))
    return w, config


RULES = {"sgd": sgd, "adagrad": adagrad, "rmsprop": rmsprop, "adam": adam}


def clip_by_value(grads, limit):
    """Clamp every gradient entry to [-limit, limit] in place (char-rnn's +-5)."""
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)


def global_norm(grads):
    """The L2 norm of all gradients taken together, as a 0-d array on their device:
    summed there, so that reading it costs one transfer, not one per parameter."""
    squares = [np.vdot(g.ravel(), g.ravel()) for g in grads.values()]
    return np.sqrt(np.stack(squares).astype(np.float64).sum())


def clip_by_norm(grads, max_norm):
    """Scale all gradients in place so their global norm is at most max_norm.

    Returns the norm before clipping (a float: the one value read back).
    """
    norm = float(global_norm(grads))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= scale
    return norm


def learning_rate(step, base, schedule="constant", total_steps=1, warmup_steps=0,
                  decay=1.0, decay_every=1, min_lr=0.0):
    """The learning rate for 0-based ``step``.

    constant: base.  step: base * decay ** (step // decay_every) (char-rnn's
    learning_rate_decay).  cosine: from base down to min_lr at total_steps.
    A linear warmup over the first warmup_steps applies to all three.
    """
    if warmup_steps and step < warmup_steps:
        return base * (step + 1) / warmup_steps
    if schedule == "constant":
        return base
    if schedule == "step":
        return max(min_lr, base * decay ** (step // decay_every))
    if schedule == "cosine":
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {schedule!r}")
