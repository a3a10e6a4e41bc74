"""What a decoder returns: decoded fields plus typed measurements and device events.

Device events, their kinds and their constructors are :mod:`drivers.events`'s (``DeviceEvent`` is
re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drivers.events import DeviceEvent as DeviceEvent
from drivers.kinds import Value as Value

# UCUM unit codes used across drivers.
MMHG = "mm[Hg]"
KPA = "kPa"
PER_MIN = "/min"
KG = "kg"
PERCENT = "%"
OHM = "Ohm"
KJ = "kJ"
KCAL = "kcal"
KG_PER_M2 = "kg/m2"
CM = "cm"
M = "m"
DEG = "deg"
YEAR = "a"
MS = "ms"
M_PER_S = "m/s"
KM_PER_H = "km/h"
CEL = "Cel"


@dataclass(frozen=True, slots=True)
class Measurement:
    """A measurement a device reported, before the gateway attributes or checks it.

    ``kind`` is one of the gateway's reading kinds (``blood_pressure``, ``weight``,
    ``body_composition``, ``heart_rate``, ``position``, ...). ``device_time`` is the device's
    own clock: naive when the device gives local time without zone, aware (UTC) when the
    protocol says UTC, ``None`` when absent, unknown or invalid (``device_time_note`` says
    which). ``user_index`` is a multi-user device's user slot (BLE User ID), if any.
    """

    kind: str
    values: Mapping[str, Value]
    device_time: datetime | None = None
    device_time_note: str | None = None
    user_index: int | None = None
    flags: tuple[str, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decoded:
    """The result of decoding one frame.

    ``fields`` is the decoded record in the conventions of the protocol brief, section 0
    (what ``hutgw decode`` prints and what conformance vectors compare). ``reply`` is what
    the transport must send back to the device, if anything (watch protocol).
    """

    fields: Mapping[str, Any]
    measurements: tuple[Measurement, ...] = ()
    events: tuple[DeviceEvent, ...] = ()
    reply: bytes | None = None
