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
    # the formula's operations in its order, through two scratch arrays rather than six
    m *= b1
    tmp = dw * (1 - b1)
    m += tmp
    v *= b2
    np.multiply(dw, dw, out=tmp)
    tmp *= 1 - b2
    v += tmp
    step = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    wd = config.get("weight_decay", 0.0)
    if wd and w.ndim > 1:  # decay weights, not biases
        w *= 1 - lr * wd
    np.sqrt(v, out=tmp)
    tmp += config.get("epsilon", 1e-8)
    delta = m * step
    delta /= tmp
    w -= delta
    return w, config


RULES = {"sgd": sgd, "adagrad": adagrad, "rmsprop": rmsprop, "adam": adam}

# a parameter with fewer numbers is updated whole: below this a thread's hand-off costs
# more than half the update saves (an (H, 3H) W_hh at H=128 took twice as long split
# in two as whole on the 2-core machine; bench/bench_classify.py's step spent a tenth
# of its time there)
MIN_SPLIT_SIZE = 1 << 18


def update_all(rule, params, grads, configs, learning_rate, map_fn=map, parts=1,
               min_split=MIN_SPLIT_SIZE):
    """Apply ``rule`` to every parameter, params[name] by grads[name] with configs[name]
    (whose learning_rate is set here).

    With parts > 1, each parameter of at least ``min_split`` numbers whose state
    already exists (from the second step on) is cut into ``parts`` slices of rows, and
    ``map_fn`` (the trainer's thread pool) runs slice k of every parameter as job k.
    Every rule is element-wise, so the slices give the whole update exactly; the update
    is a dozen passes over memory that would otherwise keep one core busy while the
    other waits. When nothing is cut, the update runs here, in one piece.
    """
    jobs = [[] for _ in range(max(1, parts))]
    split = []  # (config, the config of its first slice)
    for name, w in params.items():
        config = configs[name]
        config["learning_rate"] = learning_rate
        if (parts < 2 or w.size < min_split or len(w) < parts
                or any(s not in config for s in rule.state)):
            jobs[0].append((w, grads[name], config))
            continue
        arrays = {key for key, value in config.items()
                  if getattr(value, "shape", None) == w.shape}
        edges = [len(w) * k // parts for k in range(parts + 1)]
        for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
            piece = {key: (value[a:b] if key in arrays else value)
                     for key, value in config.items()}
            jobs[k].append((w[a:b], grads[name][a:b], piece))
            if k == 0:
                split.append((config, piece, arrays))

    def run(job):
        for w, dw, config in job:
            rule(w, dw, config)

    list(map_fn(run, jobs) if split else map(run, jobs[:1]))
    for config, piece, arrays in split:  # counters (Adam's t) moved on in every slice alike
        for slot in rule.state:
            if slot not in arrays:
                config[slot] = piece[slot]


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
