"""UUIDv7: the implementation is :mod:`buffer.ids`; import it from there.

Kept as a re-export for the callers not moved yet (gateway/pipeline.py, bench/county.py).
"""

from __future__ import annotations

from buffer.ids import uuid7, uuid7_time_ms

__all__ = ["uuid7", "uuid7_time_ms"]
