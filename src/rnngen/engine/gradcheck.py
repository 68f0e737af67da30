"""Numerical gradients by centred finite differences, for checking backward passes."""
import numpy as np


def numerical_gradient(f, x, eps=1e-5):
    """d f() / d x by centred differences, perturbing x (any shape) in place.

    f takes no arguments and returns a scalar computed from the current x.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        plus = f()
        x[i] = old - eps
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic, numeric):
    """||a - n|| / (||a|| + ||n||), zero when both are zero."""
    num = np.linalg.norm(analytic - numeric)
    den = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if den == 0 else float(num / den)
