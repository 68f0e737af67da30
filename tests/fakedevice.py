"""A stand-in device for the device-path tests, with NumPy underneath.

Its arrays (DeviceArray) behave as a GPU library's would where it matters to the
engine: an operation that mixes them with a host NumPy array (more than a scalar)
raises HostMix, as CuPy does, instead of silently computing on the host; indexing
with a host array is refused too; and every read back to the host (float(),
int(), bool(), .item(), .tolist(), .get()) is counted in ``reads``, and every copy
of a host array to the device in ``sends``, so a test can bound the transfers of a
training step or of scoring. The module mirrors NumPy's functions
(``fakedevice.zeros`` ...), so ``engine.backend.xp_of`` returns it for its arrays.
"""
import numpy as np

reads = 0  # reads back to the host since import (tests take differences)
sends = 0  # host arrays copied to the device since import


class HostMix(TypeError):
    """A host array met a device array in one operation."""


def _unwrap(x):
    if isinstance(x, DeviceArray):
        return x.view(np.ndarray)
    if isinstance(x, np.ndarray) and x.size > 1:
        raise HostMix(f"a host array of shape {x.shape} met a device array")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _wrap(x):
    if isinstance(x, np.ndarray) and not isinstance(x, DeviceArray):
        return x.view(DeviceArray)
    if isinstance(x, np.generic):  # reductions give 0-d device arrays, as CuPy's do
        return np.asarray(x).view(DeviceArray)
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def _read():
    global reads
    reads += 1


class DeviceArray(np.ndarray):
    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        args = _unwrap(inputs)
        if out is not None:
            kwargs["out"] = _unwrap(out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    def __getitem__(self, index):
        return _wrap(np.ndarray.__getitem__(self.view(np.ndarray), _unwrap(index)))

    def __setitem__(self, index, value):
        np.ndarray.__setitem__(self.view(np.ndarray), _unwrap(index), _unwrap(value))

    def __float__(self):
        _read()
        return float(self.view(np.ndarray))

    def __int__(self):
        _read()
        return int(self.view(np.ndarray))

    __index__ = __int__

    def __bool__(self):
        _read()
        return bool(self.view(np.ndarray))

    def item(self, *args):
        _read()
        return self.view(np.ndarray).item(*args)

    def tolist(self):
        _read()
        return self.view(np.ndarray).tolist()

    def get(self):
        """A host copy, as cupy.ndarray.get() gives."""
        _read()
        return self.view(np.ndarray).copy()


def asarray(a, dtype=None):
    """Host -> device (a copy, as a transfer is)."""
    global sends
    if isinstance(a, DeviceArray):
        return a if dtype is None else a.astype(dtype)
    sends += 1
    return np.array(a, dtype=dtype).view(DeviceArray)


def array(a, dtype=None, copy=True):
    return asarray(np.array(a.view(np.ndarray) if isinstance(a, DeviceArray) else a,
                            dtype=dtype))


class _Ufunc:
    def __init__(self, ufunc):
        self.ufunc = ufunc

    def __call__(self, *args, **kwargs):
        return getattr(np, self.ufunc.__name__)(*args, **kwargs)

    def at(self, a, indices, b=None):
        self.ufunc.at(_unwrap(a), _unwrap(indices), _unwrap(b))


def __getattr__(name):
    obj = getattr(np, name)
    if isinstance(obj, np.ufunc):
        return _Ufunc(obj)
    if isinstance(obj, type) or not callable(obj):
        return obj  # dtypes and constants

    def on_device(*args, **kwargs):
        return _wrap(obj(*_unwrap(args), **_unwrap(kwargs)))

    return on_device
