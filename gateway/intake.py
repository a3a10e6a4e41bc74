"""The start of the data path: a frame from a transport, looked up, counted, decoded.

Intake finds the device a frame came from and its profile, keeps each device's link status
(last seen, signal, battery), decodes the bytes and keeps those it cannot decode in the quarantine.
What it accepts goes on to assembly (:mod:`gateway.assembly`) and the pipeline.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drivers import events
from drivers import registry as profiles
from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Decoded
from drivers.source import LinkEvent
from gateway.quarantine import Quarantine
from gateway.registry import DeviceEntry, RegistrySnapshot


def find_device(snapshot: RegistrySnapshot, source: str) -> DeviceEntry | None:
    """The device a frame's or a link's ``source`` names: its id (a watch), else its address."""
    return snapshot.device(source) or snapshot.device_at(source)


@dataclass
class DeviceStatus:
    source: str
    state: str = "unknown"
    last_seen: datetime | None = None
    rssi: int | None = None
    battery_pct: int | None = None
    detail: str = ""


@dataclass
class Counters:
    frames: Counter[str] = field(default_factory=Counter)
    decode_errors: Counter[str] = field(default_factory=Counter)
    decode_error_categories: Counter[tuple[str, str]] = field(default_factory=Counter)  # (profile, category)
    readings: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    unknown_sources: int = 0
    api_refused: int = 0
    unsynced_forgotten: int = 0  # readings too many to re-time once the clock is synchronised


@dataclass(frozen=True, slots=True)
class Accepted:
    """A decoded frame. ``device`` is None for a source nobody provisioned: such frames are decoded
    (for ``devices scan``, and for the reply a device expects) but not stored."""

    device: DeviceEntry | None
    decoded: Decoded


class Intake:
    def __init__(
        self,
        device_for: Callable[[str], DeviceEntry | None],
        quarantine: Quarantine,
        counters: Counters,
        logger: logging.Logger,
    ) -> None:
        self._device_for = device_for
        self.quarantine = quarantine
        self.counters = counters
        self.devices: dict[str, DeviceStatus] = {}
        self.log = logger

    def frame(self, raw: RawFrame) -> Accepted | None:
        """The decoded frame, or None when it has no profile or could not be decoded."""
        device = self._device_for(raw.source)
        profile = profiles.for_frame(raw.transport, raw.channel, device.profile if device else None)
        tag = device.id if device else raw.source
        status = self.devices.setdefault(tag, DeviceStatus(source=raw.source))
        status.last_seen = raw.received_at
        if raw.rssi is not None:
            status.rssi = raw.rssi
        if profile is None:
            self.counters.unknown_sources += 1
            self.log.debug("[%s] frame from an unprovisioned source ignored (%d bytes)", tag, len(raw.data))
            return None
        self.counters.frames[profile.name] += 1
        try:
            decoded = profile.decode(raw)
        except DecodeError as e:
            self.counters.decode_errors[profile.name] += 1
            self.counters.decode_error_categories[profile.name, e.category] += 1
            self.quarantine.keep(
                raw, device_id=device.id if device else None, profile=profile.name, error=str(e)
            )
            self.log.warning("[%s] %s frame rejected: %s; raw %s", tag, profile.name, e, raw.data.hex())
            return None
        except Exception:  # a decoder bug must not take the daemon down; keep the bytes
            self.counters.decode_errors[profile.name] += 1
            self.counters.decode_error_categories[profile.name, "decoder_crashed"] += 1
            self.quarantine.keep(
                raw, device_id=device.id if device else None, profile=profile.name, error="decoder crashed"
            )
            self.log.exception("[%s] %s decoder failed; raw %s", tag, profile.name, raw.data.hex())
            return None
        if device is None:
            self.counters.unknown_sources += 1
            return Accepted(None, decoded)
        for ev in decoded.events:
            if ev.kind == events.BATTERY:
                pct = events.battery_percent(ev)
                status.battery_pct = int(pct) if pct is not None else status.battery_pct
        return Accepted(device, decoded)

    def link(self, event: LinkEvent, device: DeviceEntry | None) -> str:
        """Record a device's link state; returns the name it is shown under."""
        tag = device.id if device else event.source
        status = self.devices.setdefault(tag, DeviceStatus(source=event.source))
        status.state = event.state
        status.detail = event.detail
        if event.rssi is not None:
            status.rssi = event.rssi
        return tag

    def device_view(self) -> list[dict[str, Any]]:
        return [
            {
                "device": k,
                "source": s.source,
                "state": s.state,
                "last_seen": s.last_seen.isoformat() if s.last_seen else None,
                "rssi": s.rssi,
                "battery_pct": s.battery_pct,
            }
            for k, s in sorted(self.devices.items())
        ]
