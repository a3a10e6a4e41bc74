"""Realistic wire payloads for uplink tests."""

from __future__ import annotations

from typing import Any

import orjson

from buffer.ids import uuid7
from buffer.record import Lane, Record


def reading(
    i: int = 0, *, rid: str | None = None, revision: int = 0, resident: str | None = "r-001", **overrides: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": rid or uuid7(),
        "revision": revision,
        "kind": "blood_pressure",
        "resident_id": resident,
        "attribution": "personal" if resident else "unattributed",
        "device": {"id": "cuff-1", "profile": "omron.bp.ble"},
        "received_at": "2026-11-29T08:00:00+00:00",
        "effective_at": "2026-11-29T08:00:00+00:00",
        "time_source": "gateway",
        "values": {
            "systolic": {"value": 120 + i % 40, "unit": "mm[Hg]"},
            "diastolic": {"value": 80, "unit": "mm[Hg]"},
            "pulse": {"value": 70, "unit": "/min"},
        },
    }
    obj.update(overrides)
    return obj


def alert(*, resident: str = "r-001") -> dict[str, Any]:
    return {
        "id": uuid7(),
        "kind": "bp_crisis",
        "severity": "critical",
        "resident_id": resident,
        "raised_at": "2026-11-29T08:00:00+00:00",
        "message": "blood pressure crisis",
    }


def reading_record(i: int = 0, **kw: Any) -> Record:
    obj = reading(i, **kw)
    return Record(
        id=obj["id"],
        stream="readings",
        lane=Lane.CLINICAL,
        kind=obj["kind"],
        payload=orjson.dumps(obj),
        key=obj["resident_id"],
    )


def alert_record() -> Record:
    obj = alert()
    return Record(
        id=obj["id"],
        stream="alerts",
        lane=Lane.ALERTS,
        kind=obj["kind"],
        payload=orjson.dumps(obj),
        key=obj["resident_id"],
    )
