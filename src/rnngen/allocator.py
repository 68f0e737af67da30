"""Keep freed memory for reuse instead of handing it back to the OS (glibc only).

A training step allocates a dozen (T, N, H) arrays of ~13 MB each. By default
glibc serves blocks that large with fresh mmap()s and unmaps them when freed, so
every step touches ~4,000 new pages and pays a page fault (and zeroing) for each:
10-20% of a step at hidden 512. Raising the mmap and trim thresholds makes malloc
reuse the same heap memory step after step. Peak memory is unchanged: the blocks
were needed anyway. On other C libraries this does nothing.
"""
import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
M_MMAP_THRESHOLD = -3
LIMIT = 1 << 30  # blocks up to 1 GiB come from the heap and stay there when freed

_done = False


def keep_freed_memory():
    """Apply the thresholds once per process; returns True if glibc took them."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    _done = bool(mallopt(M_MMAP_THRESHOLD, LIMIT)) and bool(mallopt(M_TRIM_THRESHOLD, LIMIT))
    return _done
