"""Freed heap goes back to the system (glibc malloc_trim through ctypes)."""

from __future__ import annotations

import gc

from gateway import memory


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        return int(f.read().split("VmRSS:")[1].split()[0])


def test_trim_returns_heap_that_free_alone_keeps() -> None:
    # ~50 MB of malloc-sized blocks (too big for pymalloc, too small for mmap), then one block
    # allocated after them: freeing the first ones leaves holes below it that glibc keeps.
    blocks = [bytes(1000 + i % 7) for i in range(50_000)]
    pin = bytes(1000)
    del blocks
    gc.collect()
    held = _rss_kb()
    assert memory.trim() is True
    assert _rss_kb() < held - 20_000
    del pin


def test_settle_freezes_start_up_objects() -> None:
    gc.unfreeze()
    try:
        memory.settle()
        assert gc.get_freeze_count() > 0  # long-lived objects are no longer walked by collections
    finally:
        gc.unfreeze()
