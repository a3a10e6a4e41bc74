"""De-duplication of re-sent stored readings: by device, device time stamp, kind and values.

Cuffs re-indicate every stored reading at each connection and Xiaomi scales re-advertise their
last result; the county must get each measurement once. Memory is bounded (LRU of ``capacity``
keys). A reading without any device time stamp can only be told apart by its values, so it is
a duplicate only within ``untimed_window_s`` of the previous identical one, and only for spot
measurements (``untimed_kinds``): a heart-rate stream repeats values legitimately.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from drivers.kinds import SPOT_KINDS
from drivers.measurement import Measurement

ValuesKey = tuple[tuple[str, float, str], ...]
Key = tuple[str, str, str | None, ValuesKey]


def reading_key(device: str, m: Measurement) -> Key:
    """What makes two readings "the same": device, kind, device time stamp and every value."""
    if m.device_time is not None:
        stamp: str | None = m.device_time.isoformat()
    else:
        raw = m.extras.get("device_timestamp")
        stamp = str(raw) if raw is not None else None
    values = tuple(sorted((name, round(v.value, 6), v.unit) for name, v in m.values.items()))
    return (device, m.kind, stamp, values)


class Deduplicator:
    """``seen(device, measurement, at)`` is True for a reading already passed on.

    ``at`` is a monotonic time in seconds (injected; no clock is read here).
    """

    def __init__(
        self,
        capacity: int = 4096,
        untimed_window_s: float = 120.0,
        untimed_kinds: frozenset[str] = SPOT_KINDS,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._untimed_window_s = untimed_window_s
        self._untimed_kinds = untimed_kinds
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, device: str, measurement: Measurement, at: float) -> bool:
        key = reading_key(device, measurement)
        if key[2] is None and measurement.kind not in self._untimed_kinds:
            return False
        previous = self._seen.get(key)
        self._seen[key] = at
        self._seen.move_to_end(key)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        if previous is None:
            return False
        if key[2] is None:
            return at - previous <= self._untimed_window_s
        return True
