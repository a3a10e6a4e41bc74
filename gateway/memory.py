"""Hand freed heap memory back to the system (glibc ``malloc_trim``).

CPython frees objects into glibc's heap, which keeps the pages; on a 512 MB Pi with a 60 MB
budget for the daemon, the garbage left by start-up (module compilation, schema building)
and by bursts of readings is worth returning. A no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        fn = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


def settle() -> None:
    """After start-up: collect, move every surviving object out of the collector's sight
    (``gc.freeze``: later collections no longer walk the modules, schemas and config loaded at
    start), and return the freed heap to the system."""
    gc.collect()
    gc.freeze()
    trim()


def trim(*, collect: bool = False) -> bool:
    """Return free heap pages to the system; True when the C library released any."""
    if collect:
        gc.collect()
    fn = _malloc_trim()
    return bool(fn(0)) if fn is not None else False
