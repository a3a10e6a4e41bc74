"""Between intake and the pipeline: the parts of one reading put together, re-sent readings dropped.

Merging (two-part body composition, weight + body composition: :mod:`drivers.ble.merge`) is done
for Bluetooth frames only; other transports deliver whole readings. De-duplication
(:mod:`drivers.ble.dedup`) is done for every transport: cuffs re-indicate stored readings at
each connection, scales re-advertise their last result, and watches and serial devices re-send
stored records too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

from drivers import registry as profiles
from drivers.ble.dedup import Deduplicator
from drivers.ble.merge import MeasurementMerger, merge_rule
from drivers.frames import RawFrame
from drivers.measurement import Measurement
from gateway.intake import Counters
from gateway.registry import DeviceEntry

#: The transports whose frames may carry parts of one reading.
MERGED_TRANSPORTS = frozenset({"ble_gatt", "ble_adv"})


class Assembly:
    """``push`` a frame's measurements: what is ready now comes back with the raw frame it came
    from (the bytes of every frame a merged record came from, in arrival order); ``released``
    gives what was held and is due (or its device disconnected); ``fresh`` drops re-sent readings.
    """

    def __init__(self, monotonic: Callable[[], float], counters: Counters, logger: logging.Logger) -> None:
        self._monotonic = monotonic
        self.counters = counters
        self.log = logger
        self._merger = MeasurementMerger()
        self._dedup = Deduplicator()
        self._frames: dict[str, list[RawFrame]] = {}
        self._flush_requested: set[str] = set()

    def push(
        self, device: DeviceEntry, raw: RawFrame, measurements: Sequence[Measurement]
    ) -> tuple[RawFrame | None, list[Measurement]]:
        if raw.transport not in MERGED_TRANSPORTS:
            return raw, list(measurements)
        self._frames.setdefault(device.id, []).append(raw)
        ready = self._merger.push(
            device.id,
            measurements,
            self._monotonic(),
            merge=merge_rule(profiles.profiles().get(device.profile)),
        )
        return self._frame(device.id, ready), ready

    def disconnected(self, device_id: str) -> None:
        """The device's link dropped: what is held for it is released at the next ``released``."""
        self._flush_requested.add(device_id)

    def released(
        self, device: Callable[[str], DeviceEntry | None]
    ) -> Iterator[tuple[DeviceEntry, RawFrame | None, list[Measurement]]]:
        """Held measurements now due, per (still provisioned) device; lazily, so that the caller
        may store each batch before the next is taken."""
        for device_id in list(self._flush_requested):
            self._flush_requested.discard(device_id)
            entry = device(device_id)
            if entry is not None:
                ready = self._merger.flush(device_id)
                yield entry, self._frame(device_id, ready), ready
        by_device: dict[str, list[Measurement]] = {}
        for device_id, m in self._merger.due(self._monotonic()):
            by_device.setdefault(device_id, []).append(m)
        for device_id, ms in by_device.items():
            entry = device(device_id)
            if entry is not None:
                yield entry, self._frame(device_id, ms), ms

    def fresh(self, device_id: str, ready: Iterable[Measurement]) -> Iterator[Measurement]:
        """The measurements not already passed on (lazily: each is checked when it is taken)."""
        now = self._monotonic()
        for m in ready:
            if self._dedup.seen(device_id, m, now):
                self.counters.duplicates += 1
                self.log.debug("[%s] stored reading re-sent by the device, ignored", device_id)
                continue
            yield m

    def _frame(self, device_id: str, ready: list[Measurement]) -> RawFrame | None:
        if not ready:
            return None
        frames = self._frames.pop(device_id, [])
        if not frames:
            return None
        if len(frames) == 1:
            return frames[-1]
        return replace(frames[-1], data=b"".join(f.data for f in frames))
