"""Replay a recorded trace through the engine, as technicians do to tune the settings.

Fixes are read from CSV (header ``resident_id,time,latitude,longitude,accuracy_m``; extra
columns ignored) or JSON lines (objects with the same keys). File order is arrival order
and time advances with the fixes: before each fix the engine is ticked to that fix's time,
so a long gap yields ``signal_lost`` (at the last fix plus T) before the fix after the gap.
Times are ISO 8601; a time without an offset is taken as UTC. An empty or missing
``accuracy_m`` means the device reported none (the engine then assumes
``default_accuracy_m``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.geofence.engine import FenceEvent, FenceSettings, Fix, GeofenceEngine
from gateway.geofence.errors import GeofenceError
from gateway.geofence.zones import Zone

REQUIRED = ("resident_id", "time", "latitude", "longitude")


class FixFileError(GeofenceError):
    """A fix file cannot be read; the message names the line and the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="fix that line (or remove it) and run the replay again")


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 time, got {value!r}")
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"expected an ISO 8601 time, got {value!r}") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _float(value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"expected a number from {lo:g} to {hi:g}, got {value!r}")
    return v


def parse_fix(item: dict[str, Any], where: str, source: str) -> Fix:
    """One fix from a CSV row or JSON object; errors name ``where`` and the field."""
    for key in REQUIRED:
        if item.get(key) in (None, ""):
            raise FixFileError(f"{where}: {key}: missing")
    rid = item["resident_id"]
    if not isinstance(rid, str):
        raise FixFileError(f"{where}: resident_id: expected a string, got {rid!r}")
    fields: dict[str, Any] = {}
    for key, conv in (
        ("time", _time),
        ("latitude", lambda v: _float(v, -90.0, 90.0)),
        ("longitude", lambda v: _float(v, -180.0, 180.0)),
    ):
        try:
            fields[key] = conv(item[key])
        except ValueError as e:
            raise FixFileError(f"{where}: {key}: {e}") from None
    acc_raw = item.get("accuracy_m")
    accuracy: float | None = None
    if acc_raw not in (None, ""):
        try:
            accuracy = _float(acc_raw, 0.0, math.inf)
        except ValueError as e:
            raise FixFileError(f"{where}: accuracy_m: {e}") from None
    return Fix(rid.strip(), fields["time"], fields["latitude"], fields["longitude"], accuracy, source)


def read_fixes(path: Path) -> list[Fix]:
    """All fixes of a ``.csv`` or ``.jsonl`` file, in file order."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise FixFileError(f"{path}: expected a .csv or .jsonl file, got {suffix or 'no extension'!r}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FixFileError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise FixFileError(f"cannot read {path}: {e}") from None
    source = f"replay:{path.name}"
    fixes: list[Fix] = []
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise FixFileError(
                f"{path}: the header has no {missing[0]!r} column"
                " (expected resident_id,time,latitude,longitude,accuracy_m)"
            )
        for row in reader:
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            fixes.append(parse_fix(row, f"{path} line {reader.line_num}", source))
        return fixes
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise FixFileError(f"{path} line {lineno}: not JSON ({e.msg})") from None
        if not isinstance(item, dict):
            raise FixFileError(f"{path} line {lineno}: expected a JSON object")
        fixes.append(parse_fix(item, f"{path} line {lineno}", source))
    return fixes


def replay(zones: Iterable[Zone], fixes: Iterable[Fix], settings: FenceSettings) -> Iterator[FenceEvent]:
    engine = GeofenceEngine(zones, settings)
    for fix in fixes:
        yield from engine.tick(fix.at)
        yield from engine.process(fix)


def event_json(ev: FenceEvent) -> dict[str, Any]:
    f = ev.fix
    return {
        "resident_id": ev.resident_id,
        "zone": ev.zone_name,
        "event": ev.event,
        "at": iso(ev.at),
        "fix": {
            "time": iso(f.at),
            "latitude": f.latitude,
            "longitude": f.longitude,
            "accuracy_m": f.accuracy_m,
        },
    }
