"""Which advertisement payloads become frames: changes only.

BLE devices repeat the same advertisement many times a second; BTHome repeats a packet (same
packet id) several times on purpose and Xiaomi scales keep re-advertising the last result. A
payload is passed on when it differs from the previous one of the same (device, UUID), or when
the device was not heard for ``gap_s`` (a trigger-based button pressed again after a pause sends
the same bytes). Re-sending an unchanged payload periodically would repeat button events, so
liveness is reported by the transport as link events instead. Bounded memory.
"""

from __future__ import annotations

from collections import OrderedDict


class AdvertFilter:
    def __init__(self, gap_s: float = 10.0, capacity: int = 1024) -> None:
        self.gap_s = gap_s
        self._capacity = capacity
        self._last: OrderedDict[tuple[str, str], tuple[bytes, float]] = OrderedDict()

    def accept(self, device: str, uuid: str, data: bytes, at: float) -> bool:
        key = (device, uuid)
        previous = self._last.get(key)
        self._last[key] = (data, at)
        self._last.move_to_end(key)
        while len(self._last) > self._capacity:
            self._last.popitem(last=False)
        return previous is None or previous[0] != data or at - previous[1] >= self.gap_s
