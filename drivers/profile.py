"""A device profile: how a device is recognised, reached and decoded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from drivers.frames import RawFrame, TransportKind
from drivers.measurement import Decoded


class Framer(Protocol):
    """Cuts a byte stream into frames: ``feed(bytes) -> frames``; keeps the remainder."""

    def feed(self, data: bytes) -> list[bytes]: ...

    @property
    def pending(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class BleMatch:
    """Rules that tie a BLE advertisement to this profile (any one matching is enough)."""

    service_uuids: tuple[str, ...] = ()
    service_data_uuids: tuple[str, ...] = ()
    manufacturer_ids: tuple[int, ...] = ()
    name_patterns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SerialSettings:
    baudrate: int = 9600
    bytesize: int = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1


ConnectPolicy = Literal["advert_only", "connect_on_advert", "stay_connected", "poll", "none"]


@dataclass(frozen=True, slots=True)
class Profile:
    """One device profile, declared once per file under ``drivers/profiles/``.

    ``name`` is the protocol name used by conformance vectors and ``hutgw decode``
    (``tanita.serial``, ``gatt.blood_pressure_measurement``, ...). ``decode`` is pure: no I/O,
    no clock; it raises :class:`drivers.errors.DecodeError`. ``decode_sequence`` exists for
    protocols whose unit is several frames (BCM two-part records). ``framer`` builds a fresh
    stream framer for byte-stream transports (serial, TCP).
    """

    name: str
    title: str
    transport: TransportKind
    decode: Callable[[RawFrame], Decoded]
    exposes: tuple[str, ...] = ()
    ble: BleMatch | None = None
    gatt_characteristics: tuple[str, ...] = ()
    connect_policy: ConnectPolicy = "none"
    serial: SerialSettings | None = None
    framer: Callable[[], Framer] | None = None
    decode_sequence: Callable[[Sequence[RawFrame]], Decoded] | None = None
    provisional: bool = False
    notes: str = ""
    tags: tuple[str, ...] = field(default=())
