"""Date Time 0x2A08 (protocol brief, section 2.2): 7 bytes of device-local time, no zone."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drivers.errors import DecodeError

SIZE = 7


@dataclass(frozen=True, slots=True)
class DateTime:
    year: int
    month: int
    day: int
    hours: int
    minutes: int
    seconds: int

    @property
    def known(self) -> bool:
        """Year, month and day all non-zero (0 means "not known")."""
        return self.year != 0 and self.month != 0 and self.day != 0

    @property
    def valid(self) -> bool:
        """Every field in its defined range and, when known, a real Gregorian date."""
        if not (self.year == 0 or 1582 <= self.year <= 9999):
            return False
        if not (0 <= self.month <= 12 and 0 <= self.day <= 31):
            return False
        if not (0 <= self.hours <= 23 and 0 <= self.minutes <= 59 and 0 <= self.seconds <= 59):
            return False
        if self.known:
            return self.day <= calendar.monthrange(self.year, self.month)[1]
        return True

    def to_datetime(self) -> datetime | None:
        """A naive datetime (the device's local clock), only when known and valid."""
        if not (self.known and self.valid):
            return None
        return datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)

    def note(self) -> str | None:
        """Why :meth:`to_datetime` is ``None`` (for ``Measurement.device_time_note``)."""
        if not self.valid:
            return "device timestamp invalid"
        if not self.known:
            return "device clock not set (date unknown)"
        return None

    def fields(self) -> dict[str, Any]:
        dt = self.to_datetime()
        return {
            "year": self.year,
            "month": self.month,
            "day": self.day,
            "hours": self.hours,
            "minutes": self.minutes,
            "seconds": self.seconds,
            "known": self.known,
            "valid": self.valid,
            "iso": dt.isoformat() if dt is not None else None,
        }

    def encode(self) -> bytes:
        return self.year.to_bytes(2, "little") + bytes(
            (self.month, self.day, self.hours, self.minutes, self.seconds)
        )

    @classmethod
    def from_datetime(cls, value: datetime) -> DateTime:
        return cls(value.year, value.month, value.day, value.hour, value.minute, value.second)


def from_bytes(data: bytes, field: str = "timestamp") -> DateTime:
    """Exactly 7 bytes (callers slice embedded copies)."""
    if len(data) != SIZE:
        raise DecodeError(
            "truncated" if not data else "bad_length",
            f"Date Time needs 7 bytes, got {len(data)}",
            field=field,
        )
    return DateTime(int.from_bytes(data[0:2], "little"), data[2], data[3], data[4], data[5], data[6])
