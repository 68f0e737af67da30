"""Which array module an engine call runs on, taken from the arrays it was given.

The engine never imports a GPU library (thinc's ``ops.xp`` idea, without the
object): ``xp_of`` returns the top-level module that defines the first array's
type, so CuPy arrays give ``cupy`` and NumPy arrays give ``numpy``; any module
that mirrors NumPy's functions works the same way (the tests' stand-in device is
one). Functions that take no array create host NumPy arrays unless told ``xp``.
"""
import sys

import numpy as np


def xp_of(*arrays):
    """The array module of the first array among ``arrays`` (numpy if none)."""
    for a in arrays:
        if hasattr(a, "shape") and hasattr(a, "dtype"):
            top = type(a).__module__.partition(".")[0]
            if top != "numpy" and top in sys.modules:
                return sys.modules[top]
            return np
    return np


def to_host(a):
    """A NumPy copy (or the array itself, when it is already NumPy's)."""
    if type(a) is np.ndarray:
        return a
    get = getattr(a, "get", None)  # cupy.ndarray.get() copies to the host
    return np.asarray(get() if get is not None else a)
