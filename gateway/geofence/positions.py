"""Turning decoded positions into engine fixes (NMEA, BLE Location and Speed, watch, API).

All position sources decode to a ``position`` :class:`~drivers.measurement.Measurement` with
``latitude``/``longitude`` in degrees and, when known, ``accuracy_m``. The caller passes the
time it resolved for the reading (device time when trusted, else receive time), aware UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime

from drivers.measurement import Measurement, Value
from gateway.geofence.engine import Fix

#: Flags of positions that are not a current, measured one (BLE Location and Speed statuses;
#: NMEA dead reckoning, manual input and simulator fixes): kept as readings, never fenced.
NOT_CURRENT = frozenset(
    {
        "position_estimated",
        "position_last_known",
        "position_no_position",
        "position_manual",
        "position_simulated",
    }
)


def is_current(flags: Iterable[str]) -> bool:
    """Whether a position with these flags is a current, measured fix (one for the geofences)."""
    return NOT_CURRENT.isdisjoint(flags)


def fix_from_values(
    resident_id: str, at: datetime, values: Mapping[str, Value | float], source: str
) -> Fix | None:
    """A fix from position values (``Value`` objects or plain numbers); None if incomplete."""

    def number(key: str) -> float | None:
        v = values.get(key)
        x = v.value if isinstance(v, Value) else v
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            return None
        return float(x)

    lat, lon = number("latitude"), number("longitude")
    if lat is None or lon is None or not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return Fix(resident_id, at, lat, lon, number("accuracy_m"), source)


def fix_from_measurement(resident_id: str, m: Measurement, at: datetime, source: str) -> Fix | None:
    """A fix from a decoded ``position`` measurement; None for other kinds, for positions that
    are not current (:data:`NOT_CURRENT`), and for incomplete ones."""
    if m.kind != "position" or not is_current(m.flags):
        return None
    return fix_from_values(resident_id, at, m.values, source)
