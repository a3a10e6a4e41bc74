"""A FrameSink for tests that records frames and link events and decodes like the gateway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from drivers import registry
from drivers.ble.dedup import Deduplicator
from drivers.ble.merge import MeasurementMerger, merge_rule
from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import DeviceEvent, Measurement
from drivers.source import LinkEvent


class RealClock:
    """Wall and monotonic time of this machine; ``synced`` as the test says."""

    def __init__(self, synced: bool = True) -> None:
        self._synced = synced

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def synced(self) -> bool:
        return self._synced


class RecordingSink:
    def __init__(self, device_profiles: dict[str, str], *, pair_window_s: float = 2.0) -> None:
        self.device_profiles = {a.upper(): p for a, p in device_profiles.items()}
        self.frames: list[RawFrame] = []
        self.links: list[LinkEvent] = []
        self.measurements: list[tuple[str, Measurement]] = []
        self.events: list[tuple[str, DeviceEvent]] = []
        self.errors: list[tuple[RawFrame, DecodeError]] = []
        self.duplicates = 0
        self.merger = MeasurementMerger(fragment_window_s=pair_window_s, pair_window_s=pair_window_s)
        self.dedup = Deduplicator()

    async def frame(self, frame: RawFrame) -> bytes | None:
        self.frames.append(frame)
        device_profile = self.device_profiles.get(frame.source)
        profile = registry.for_frame(frame.transport, frame.channel, device_profile)
        assert profile is not None, f"no profile for {frame}"
        try:
            decoded = profile.decode(frame)
        except DecodeError as e:
            self.errors.append((frame, e))
            return None
        self.events.extend((frame.source, e) for e in decoded.events)
        rule = merge_rule(registry.profiles().get(device_profile or ""))
        ready = self.merger.push(frame.source, decoded.measurements, time.monotonic(), merge=rule)
        self._accept(frame.source, ready)
        return None

    def link(self, event: LinkEvent) -> None:
        self.links.append(event)
        if event.state == "disconnected":
            self._accept(event.source, self.merger.flush(event.source))

    def _accept(self, device: str, ready: list[Measurement]) -> None:
        for m in ready:
            if self.dedup.seen(device, m, time.monotonic()):
                self.duplicates += 1
            else:
                self.measurements.append((device, m))

    def link_states(self, source: str) -> list[str]:
        return [e.state for e in self.links if e.source == source]


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for ``condition`` (an event happening, not a speed check); fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
