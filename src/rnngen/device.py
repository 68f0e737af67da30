"""The device a run computes on, chosen once, at the edge (thinc's ops idea).

``select("cpu")`` is NumPy; ``select("cuda")`` is CuPy on an NVIDIA GPU, an optional
extra (pip install 'rnngen-text[cuda12]' or 'rnngen-text[cuda13]') imported only when
asked for (extras.require). The service layer moves parameters, optimizer state, the
carried state and the corpus ids to the device once; the engine takes its array
module from those arrays. Checkpoints and everything on disk stay host NumPy, so a
checkpoint trained on one device samples, evaluates and resumes on the other.
"""
from dataclasses import dataclass

import numpy as np

from . import extras
from .engine import layers
from .engine.backend import to_host
from .errors import DeviceError

DEVICES = ("cpu", "cuda")
# the extras that install CuPy, one per CUDA major version
CUDA_EXTRAS = ("cuda12", "cuda13")
ADVICE = ("whichever matches your CUDA version (https://docs.cupy.dev/en/stable/install.html), "
          "or use --device cpu")


@dataclass(frozen=True)
class Device:
    name: str
    xp: object  # the array module: numpy, cupy, or a stand-in with NumPy's functions

    @property
    def is_host(self):
        """True when arrays live in host memory as plain NumPy arrays."""
        return self.xp is np

    def to_device(self, a):
        return a if self.is_host else self.xp.asarray(a)

    def to_host(self, a):
        return to_host(a)

    def mask_bits(self, rng, seed, step):
        """Where a training step's dropout bits come from. On the host, the run's
        NumPy generator, as always. On a device, counter-based bits (SplitMix64 of
        seed, step and position) made there: no transfer inside the step, and a
        resume is exact on any device without saving generator state."""
        if self.is_host:
            return layers.GeneratorBits(rng)
        return layers.CounterBits(seed, step, self.xp)


CPU = Device("cpu", np)


def select(name):
    """The Device for a name in DEVICES; DeviceError when it cannot be used here."""
    if name == "cpu":
        return CPU
    if name != "cuda":
        raise DeviceError(f"unknown device {name!r}; use one of {', '.join(DEVICES)}")
    cupy = extras.require("cupy", CUDA_EXTRAS, "--device cuda", ADVICE)
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDA driver or runtime missing or broken
        raise DeviceError(f"--device cuda: CuPy cannot reach a GPU ({type(e).__name__}: {e}); "
                          "check the NVIDIA driver, or use --device cpu") from None
    if count < 1:
        raise DeviceError("--device cuda: no NVIDIA GPU is visible; use --device cpu")
    return Device("cuda", cupy)
