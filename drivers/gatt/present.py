"""Small helpers shared by the GATT profiles to present walked values (brief section 0)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drivers.gatt.date_time import DateTime
from drivers.gatt.ieee11073 import MedFloat

KPA_TO_MMHG = 7.50061683
LB_TO_KG = 0.45359237
JIN_TO_KG = 0.5
IN_TO_M = 0.0254
UNKNOWN_USER = 0xFF


def scaled(raw: int, numerator: int, denominator: int) -> float:
    """``raw x numerator / denominator`` rounded once (0.005 kg steps stay exact decimals)."""
    return raw * numerator / denominator


def timestamp_fields(value: DateTime | None) -> dict[str, Any] | None:
    return None if value is None else value.fields()


def device_time(value: DateTime | None, *, utc: bool = False) -> tuple[datetime | None, str | None]:
    """``(device_time, device_time_note)`` for a Measurement: naive local time unless ``utc``."""
    if value is None:
        return None, "no device timestamp"
    dt = value.to_datetime()
    if dt is None:
        return None, value.note()
    return (dt.replace(tzinfo=UTC) if utc else dt), None


def user_index(user_id: int | None) -> int | None:
    """A multi-user device's user slot; 0xFF means "unknown user"."""
    return None if user_id is None or user_id == UNKNOWN_USER else user_id


def number(value: MedFloat | None) -> float | None:
    return None if value is None else value.number


def medfloat_field(value: MedFloat | None) -> float | str | None:
    return None if value is None else value.field()


def raw_stamp(value: DateTime | None) -> str | None:
    """The device's time stamp as written (even when unknown or invalid), for de-duplication.

    ``None`` when absent or all zero (a clock never set tells readings apart by nothing).
    """
    if value is None or not any(
        (value.year, value.month, value.day, value.hours, value.minutes, value.seconds)
    ):
        return None
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hours:02d}:{value.minutes:02d}:{value.seconds:02d}"
    )


def stamp_extras(value: DateTime | None, **extras: object) -> dict[str, object]:
    """``extras`` plus ``device_timestamp`` (see :func:`raw_stamp`) when there is one."""
    stamp = raw_stamp(value)
    return extras if stamp is None else {**extras, "device_timestamp": stamp}
