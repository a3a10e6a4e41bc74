"""Which advertisement payloads become frames: only changes, plus a periodic repeat.

BLE devices repeat the same advertisement many times a second; BTHome repeats a packet (same
packet id) several times on purpose and Xiaomi scales keep re-advertising the last result. A
payload is passed on when it differs from the last one passed for the same (device, UUID) or
when ``repeat_s`` has gone by (so that a stuck device still shows as alive). Bounded memory.
"""

from __future__ import annotations

from collections import OrderedDict


class AdvertFilter:
    def __init__(self, repeat_s: float = 60.0, capacity: int = 1024) -> None:
        self.repeat_s = repeat_s
        self._capacity = capacity
        self._last: OrderedDict[tuple[str, str], tuple[bytes, float]] = OrderedDict()

    def accept(self, device: str, uuid: str, data: bytes, at: float) -> bool:
        key = (device, uuid)
        previous = self._last.get(key)
        if previous is not None and previous[0] == data and at - previous[1] < self.repeat_s:
            return False
        self._last[key] = (data, at)
        self._last.move_to_end(key)
        while len(self._last) > self._capacity:
            self._last.popitem(last=False)
        return True
