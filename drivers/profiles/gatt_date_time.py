"""``gatt.date_time`` (0x2A08) and ``gatt.current_time`` (0x2A2B)."""

from __future__ import annotations

from datetime import datetime

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.gatt import date_time, uuids
from drivers.gatt.walker import Bit, bits
from drivers.measurement import Decoded
from drivers.profile import Profile, SetTime

CURRENT_TIME_SIZE = 10
ADJUST_REASON = (
    Bit("manual_time_update", 0),
    Bit("external_reference_time_update", 1),
    Bit("change_of_time_zone", 2),
    Bit("change_of_dst", 3),
)
DAY_NAMES = ("unknown", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def decode_date_time(frame: RawFrame) -> Decoded:
    return Decoded(fields=date_time.from_bytes(frame.data).fields())


def decode_current_time(frame: RawFrame) -> Decoded:
    data = frame.data
    if len(data) != CURRENT_TIME_SIZE:
        raise DecodeError(
            "truncated" if not data else "bad_length",
            f"Current Time needs {CURRENT_TIME_SIZE} bytes, got {len(data)}",
            field="current_time",
        )
    stamp = date_time.from_bytes(data[:7])
    day_of_week, fractions, reason = data[7], data[8], data[9]
    return Decoded(
        fields={
            "timestamp": stamp.fields(),
            "day_of_week": day_of_week,
            "day_of_week_name": DAY_NAMES[day_of_week] if day_of_week < len(DAY_NAMES) else "reserved",
            "fractions256": fractions,
            "fraction_s": fractions / 256,
            "adjust_reason": bits(reason, ADJUST_REASON),
            "valid": stamp.valid and day_of_week <= 7,
        }
    )


def encode_current_time(
    stamp: date_time.DateTime, day_of_week: int, fractions256: int = 0, adjust_reason: int = 0x01
) -> bytes:
    """The value the gateway writes to set a device clock (manual time update by default)."""
    return stamp.encode() + bytes((day_of_week, fractions256, adjust_reason))


def current_time_value(local: datetime) -> bytes:
    """Current Time for the local time ``local`` (the ``SetTime`` encoder)."""
    return encode_current_time(
        date_time.DateTime.from_datetime(local), local.isoweekday(), int(local.microsecond * 256 / 1_000_000)
    )


def date_time_value(local: datetime) -> bytes:
    """Date Time for the local time ``local`` (the ``SetTime`` encoder)."""
    return date_time.DateTime.from_datetime(local).encode()


SET_CLOCK = (SetTime(uuids.CURRENT_TIME, current_time_value), SetTime(uuids.DATE_TIME, date_time_value))
"""The connect steps that set a device clock: Current Time, else a writable Date Time."""


PROFILES = (
    Profile(
        name="gatt.date_time",
        title="Date Time (0x2A08)",
        transport="ble_gatt",
        decode=decode_date_time,
        gatt_characteristics=(uuids.DATE_TIME,),
    ),
    Profile(
        name="gatt.current_time",
        title="Current Time (0x2A2B)",
        transport="ble_gatt",
        decode=decode_current_time,
        gatt_characteristics=(uuids.CURRENT_TIME,),
    ),
)
