"""Device events, named once: every kind a decoder may emit, and the one shape of its detail.

A device event is something a device signalled that is not a stored measurement: a button
press, a watch's alarm, a battery level, a cuff's pressure while it inflates. Decoders build them
with the constructors here (:func:`battery`, :func:`cuff_pressure`, :func:`button`,
:func:`alarm`), never from a bare string; the gateway reads them by the same names
(``gateway/intake.py``: the battery level in the device's link status; ``gateway/core.py``: the
cuff pressure on the kiosk's event stream; ``gateway/pipeline.py``: the alerts they raise).
``tests/drivers/test_events.py`` decodes every vector of every profile and checks that each event
is one of these, in its one shape.

A leaf: it imports nothing of ours (:mod:`drivers.measurement` re-exports :class:`DeviceEvent`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

#: A watch's alarms (the terminal status bits of an ``AL`` frame, ``drivers/watch/messages.py``),
#: and ``alarm`` for an alarm frame that names none.
AlarmKind = Literal[
    "sos", "low_battery", "out_of_fence", "into_fence", "watch_taken_off", "fall_down", "alarm"
]
#: Every device event kind.
EventKind = Literal["battery", "cuff_pressure", "button", AlarmKind]

BATTERY: Final = "battery"
"""a battery level report; detail ``{PERCENT: 0-100}``"""
CUFF_PRESSURE: Final = "cuff_pressure"
"""a cuff's pressure while it inflates (display only); detail ``{PRESSURE_MMHG: mmHg}``"""
BUTTON: Final = "button"
"""a button event (BTHome); detail ``{BUTTON_EVENT: "press" | ..., "button_index", "packet_id"}``"""
SOS: Final = "sos"
LOW_BATTERY: Final = "low_battery"
OUT_OF_FENCE: Final = "out_of_fence"
INTO_FENCE: Final = "into_fence"
WATCH_TAKEN_OFF: Final = "watch_taken_off"
FALL_DOWN: Final = "fall_down"
ALARM: Final = "alarm"
"""an alarm frame that says no more (detail: where, as far as known)"""

KINDS: Final[frozenset[str]] = frozenset(get_args(EventKind))
ALARM_KINDS: Final[frozenset[str]] = frozenset(get_args(AlarmKind))

# The detail keys the gateway reads.
PERCENT: Final = "percent"
"""the battery level, 0-100 (every driver: GATT Battery Level, BTHome, the watches)"""
PRESSURE_MMHG: Final = "pressure_mmhg"
"""the cuff pressure in mmHg (the kiosk's ``cuff_pressure`` event carries it as is)"""
BUTTON_EVENT: Final = "event"
"""what the button did (BTHome's names: ``press``, ``double_press``, ``long_press``, ...)"""


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something a device signalled that is not a stored measurement (see the module docstring);
    build it with this module's constructors."""

    kind: EventKind
    detail: Mapping[str, Any] = field(default_factory=dict)


def battery(percent: int | float) -> DeviceEvent:
    return DeviceEvent(BATTERY, {PERCENT: percent})


def cuff_pressure(mmhg: float) -> DeviceEvent:
    return DeviceEvent(CUFF_PRESSURE, {PRESSURE_MMHG: mmhg})


def button(event: str, button_index: int, packet_id: int | None) -> DeviceEvent:
    return DeviceEvent(BUTTON, {BUTTON_EVENT: event, "button_index": button_index, "packet_id": packet_id})


def alarm(kind: AlarmKind, where: Mapping[str, Any]) -> DeviceEvent:
    """A watch's alarm; ``where``: its position as far as known (``valid``, ``latitude``,
    ``longitude``, ``time_utc``, ...), which the alert carries."""
    return DeviceEvent(kind, dict(where))


def battery_percent(event: DeviceEvent) -> float | None:
    """The battery level a ``battery`` event reports (None if it is not a finite number)."""
    value = event.detail.get(PERCENT)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
