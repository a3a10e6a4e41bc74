"""When a zone is watched: weekly time windows in a named time zone.

A window is ``[from, to)`` local time starting on each listed day; when ``to`` is not after
``from`` the window runs overnight and ends on the next day (``mon 20:00-06:00`` is Monday
20:00 to Tuesday 06:00). Without ``from``/``to`` a window is the whole listed day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.geofence.errors import ZoneError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_KEYS = frozenset({"days", "from", "to", "tz"})


@dataclass(frozen=True, slots=True)
class Schedule:
    tz: str
    days: frozenset[int] = frozenset(range(7))  # 0 = Monday; the day a window starts
    start: time | None = None  # None (with end None) = the whole day
    end: time | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def _window(self, day: date, tzinfo: ZoneInfo) -> tuple[datetime, datetime]:
        if self.start is None or self.end is None:
            begin = datetime.combine(day, time(0), tzinfo=tzinfo)
            return begin, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tzinfo)
        begin = datetime.combine(day, self.start, tzinfo=tzinfo)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return begin, datetime.combine(end_day, self.end, tzinfo=tzinfo)

    def _windows_around(self, at: datetime, days_after: int) -> list[tuple[datetime, datetime]]:
        tzinfo = self.zone
        local_day = at.astimezone(tzinfo).date()
        out = []
        for offset in range(-1, days_after + 1):
            day = local_day + timedelta(days=offset)
            if day.weekday() in self.days:
                begin, end = self._window(day, tzinfo)
                out.append((begin.astimezone(UTC), end.astimezone(UTC)))
        return out

    def is_active(self, at: datetime) -> bool:
        return any(begin <= at < end for begin, end in self._windows_around(at, 0))

    def next_active(self, at: datetime) -> datetime | None:
        """``at`` itself when active, else the start of the next window (None: never)."""
        best: datetime | None = None
        for begin, end in self._windows_around(at, 8):
            if begin <= at < end:
                return at
            if begin > at and (best is None or begin < best):
                best = begin
        return best

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"days": [DAY_NAMES[d] for d in sorted(self.days)]}
        if self.start is not None and self.end is not None:
            out["from"] = self.start.strftime("%H:%M")
            out["to"] = self.end.strftime("%H:%M")
        out["tz"] = self.tz
        return out


def _hhmm(value: Any, field: str) -> time:
    if isinstance(value, str) and len(value) == 5 and value[2] == ":":
        hh, mm = value[:2], value[3:]
        if hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60:
            return time(int(hh), int(mm))
    raise ZoneError(f'expected a time of day as "HH:MM" (00:00 to 23:59), got {value!r}', field=field)


def parse_schedule(value: Any, field: str = "schedule") -> Schedule:
    """Parse ``{"days": [...], "from": "HH:MM", "to": "HH:MM", "tz": "Area/City"}``."""
    if not isinstance(value, dict):
        raise ZoneError(f"expected an object with days, from, to and tz, got {value!r}", field=field)
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise ZoneError(f"unknown key {unknown[0]!r}; allowed: days, from, to, tz", field=field)
    tz = value.get("tz")
    if not isinstance(tz, str) or not tz:
        raise ZoneError('a schedule needs a time zone, e.g. "Asia/Shanghai"', field=f"{field}.tz")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ZoneError(
            f"unknown time zone {tz!r}; use an IANA name like Asia/Shanghai", field=f"{field}.tz"
        ) from None
    days = frozenset(range(7))
    if "days" in value:
        raw = value["days"]
        if not isinstance(raw, list) or not raw:
            raise ZoneError(f"expected a non-empty list of {', '.join(DAY_NAMES)}", field=f"{field}.days")
        picked = set()
        for i, d in enumerate(raw):
            name = d.lower() if isinstance(d, str) else d
            if name not in DAY_NAMES:
                raise ZoneError(
                    f"expected one of {', '.join(DAY_NAMES)}, got {d!r}", field=f"{field}.days[{i}]"
                )
            picked.add(DAY_NAMES.index(name))
        days = frozenset(picked)
    has_from, has_to = "from" in value, "to" in value
    if has_from != has_to:
        missing = "to" if has_from else "from"
        raise ZoneError("give both from and to, or neither for whole days", field=f"{field}.{missing}")
    start = end = None
    if has_from:
        start = _hhmm(value["from"], f"{field}.from")
        end = _hhmm(value["to"], f"{field}.to")
        if start == end:
            raise ZoneError("from and to are equal; omit both for whole days", field=f"{field}.to")
    return Schedule(tz=tz, days=days, start=start, end=end)
