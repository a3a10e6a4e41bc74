"""The one frame type every transport emits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

TransportKind = Literal["ble_gatt", "ble_adv", "serial", "tcp", "text"]


@dataclass(frozen=True, slots=True)
class RawFrame:
    """Bytes exactly as one transport received them.

    ``source`` is the device address (BLE MAC, serial port path, watch id); ``channel`` is
    what the bytes arrived on (a GATT characteristic UUID, an advertisement service-data
    UUID, a TCP peer); ``received_at`` is stamped by the transport (timezone-aware UTC),
    ``monotonic`` too, so that decoders never read a clock.
    """

    transport: TransportKind
    source: str
    data: bytes
    received_at: datetime
    channel: str | None = None
    monotonic: float = 0.0
    rssi: int | None = None
