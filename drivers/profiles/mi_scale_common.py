"""Shared presentation of the Xiaomi scale advertisements (brief section 9); no profile here."""

from __future__ import annotations

from typing import Any

from drivers.errors import DecodeError
from drivers.gatt import present
from drivers.gatt.date_time import DateTime
from drivers.measurement import KG, OHM, Measurement, Value

UNIT_DIVISOR = {"kg": 200, "lb": 100, "jin": 100}
UNIT_TO_KG = {"kg": 1.0, "lb": present.LB_TO_KG, "jin": present.JIN_TO_KG}


def service_data(data: bytes, size: int, model: str) -> bytes:
    """``data`` when it is exactly ``size`` bytes (the only length a scale sends)."""
    if len(data) != size:
        raise DecodeError(
            "truncated" if not data else "bad_length",
            f"{model} service data is {size} bytes, got {len(data)}",
            field="service_data",
        )
    return data


def weight_fields(raw: int, unit: str) -> dict[str, Any]:
    weight = raw / UNIT_DIVISOR[unit]
    return {"unit": unit, "weight": weight, "weight_kg": weight * UNIT_TO_KG[unit]}


def timestamp(data: bytes) -> DateTime:
    """Year uint16 LE then month, day, hour, minute, second (same order as GATT Date Time)."""
    return DateTime(int.from_bytes(data[0:2], "little"), data[2], data[3], data[4], data[5], data[6])


UNSET_CLOCK_YEARS = (1970, 2000)


def final_measurement(fields: dict[str, Any], stamp: DateTime, impedance: int | None) -> Measurement | None:
    """A weight (or body composition with impedance) only when stabilized and not load-removed.

    Scales whose clock was never set report 1970/2000: then there is no device time (the
    gateway uses the receive time); the raw stamp stays in ``extras["device_timestamp"]`` so
    that re-advertised results still de-duplicate.
    """
    if not fields["final"] or fields["weight_kg"] <= 0:
        return None
    values = {"weight": Value(fields["weight_kg"], KG)}
    when, note = present.device_time(stamp)
    if when is not None and when.year in UNSET_CLOCK_YEARS:
        note = f"device clock not set (year {when.year})"
        when = None
    extras = {"reported_unit": fields["unit"], "device_timestamp": fields["timestamp"]["iso"]}
    if impedance:
        values["impedance"] = Value(float(impedance), OHM)
        return Measurement("body_composition", values, when, note, extras=extras)
    return Measurement("weight", values, when, note, extras=extras)
