"""A device profile: how a device is recognised, reached and decoded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    """Connect step: download the device's stored records through its Record Access Control Point
    (RACP, 0x2A52; brief section 8). The transport enables indications on the ``records``
    characteristics and on ``racp``, writes ``request`` (by default op code 0x01 "report stored
    records", operator 0x01 "all records"), hands every record on as a frame of its
    characteristic (decoded by that characteristic's profile, like a live one) and waits for the
    RACP response code (0x06) to the request: success, or "no records found". Any other response
    code, no response within ``timeout_s`` (then it writes "abort", ``03 00``) or a failed write
    is logged naming the step; the connection and the other steps carry on. Skipped when the
    device has no ``racp``."""

    racp: str
    records: tuple[str, ...] = ()
    request: bytes = b"\x01\x01"
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if len(self.request) < 2:
            raise ValueError("an RACP request is an op code and an operator")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")


ConnectStep = SetTime | Read | Subscribe | RequestStored
"""What the BLE transport does, in order, on every connection to a device (``Profile.connect``)."""


@dataclass(frozen=True, slots=True)
class MergeInto:
    """How readings of this device are put together (assembly, ``drivers.ble.merge``): the device
    sends its ``part`` reading on its own (another characteristic), and it belongs to the ``into``
    reading sent just before or after it. Held up to the merger's pair window for each other
    (either order), the two become one ``into`` reading (the ``into`` values win; device time and
    user from whichever has them); an unpaired ``part`` is released as it is when the window
    ends. Body-composition scales: ``MergeInto(part="weight", into="body_composition")``."""

    part: str
    into: str

    def __post_init__(self) -> None:
        if not self.part or not self.into or self.part == self.into:
            raise ValueError(f"MergeInto needs two different kinds, got {self.part!r} and {self.into!r}")


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
    subscribe, request stored records). ``merge`` says how the device's readings are put
    together before the pipeline (:class:`MergeInto`), read by ``drivers.ble.merge``.
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
    merge: MergeInto | None = None
    serial: SerialSettings | None = None
    framer: Callable[[], Framer] | None = None
    decode_sequence: Callable[[Sequence[RawFrame]], Decoded] | None = None
    provisional: bool = False
    notes: str = ""
