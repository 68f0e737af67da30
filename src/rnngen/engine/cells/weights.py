"""Initial recurrent weights the cells share: per gate block, as cuDNN lays them out."""
import numpy as np


def orthogonal(rng, n):
    """A random (n, n) orthogonal matrix, uniformly distributed (Saxe et al., 2014)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # the sign fix makes q uniformly distributed


def recurrent(rng, H, gates, init, identity=None):
    """W_hh (H, gates*H) for ``init``:

    scaled:     uniform in +-1/sqrt(H), the PyTorch/LeCun default;
    orthogonal: each gate's (H, H) block a random orthogonal matrix;
    identity:   ``identity(H)`` builds it (cells that define it), else ValueError;
    gaussian is handled by the model (every weight N(0, scale^2)).
    """
    if init == "orthogonal":
        return np.hstack([orthogonal(rng, H) for _ in range(gates)])
    if init == "identity":
        if identity is None:
            raise ValueError("init 'identity' is defined for the tanh RNN only")
        return identity(H)
    bound = 1 / np.sqrt(H)
    return rng.uniform(-bound, bound, (H, gates * H))
