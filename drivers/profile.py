"""A device profile: how a device is recognised, reached and decoded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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


@dataclass(frozen=True, slots=True)
class SetTime:
    """Connect step: write the gateway's local time to ``char`` (``encode(local_now)``) when the
    device has it writable and the gateway clock is synchronised. The first ``SetTime`` whose
    characteristic is present and writable sets the clock; later ones are skipped."""

    char: str
    encode: Callable[[datetime], bytes]


@dataclass(frozen=True, slots=True)
class Read:
    """Connect step: read ``char`` once (when present and readable) and hand it on as a frame."""

    char: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Connect step: enable notifications/indications on ``char`` (when the device offers them)."""

    char: str


@dataclass(frozen=True, slots=True)
class RequestStored:
    """Connect step: subscribe to the Record Access Control Point ``racp`` and write ``request``
    (by default "report stored records: all records") so the device sends its stored records."""

    racp: str
    request: bytes = b"\x01\x01"


ConnectStep = SetTime | Read | Subscribe | RequestStored
"""What the BLE transport does, in order, on every connection to a device (``Profile.connect``)."""

ConnectPolicy = Literal["advert_only", "connect_on_advert", "stay_connected", "poll", "none"]


@dataclass(frozen=True, slots=True)
class Profile:
    """One device profile, declared once per file under ``drivers/profiles/``.

    ``name`` is the protocol name used by conformance vectors and ``hutgw decode``
    (``tanita.serial``, ``gatt.blood_pressure_measurement``, ...). ``decode`` is pure: no I/O,
    no clock; it raises :class:`drivers.errors.DecodeError`. ``decode_sequence`` exists for
    protocols whose unit is several frames (BCM two-part records). ``framer`` builds a fresh
    stream framer for byte-stream transports (serial, TCP). ``connect`` is what the BLE
    transport does, in order, on each connection (:data:`ConnectStep`: set the clock, read,
    subscribe, request stored records).
    """

    name: str
    title: str
    transport: TransportKind
    decode: Callable[[RawFrame], Decoded]
    exposes: tuple[str, ...] = ()
    ble: BleMatch | None = None
    gatt_characteristics: tuple[str, ...] = ()
    connect_policy: ConnectPolicy = "none"
    connect: tuple[ConnectStep, ...] = ()
    serial: SerialSettings | None = None
    framer: Callable[[], Framer] | None = None
    decode_sequence: Callable[[Sequence[RawFrame]], Decoded] | None = None
    provisional: bool = False
    notes: str = ""
    tags: tuple[str, ...] = field(default=())
