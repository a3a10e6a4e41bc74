"""Readings inside the gateway (frozen dataclasses) and their wire form."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import orjson

from drivers.measurement import Value
from uplink.contract import WireClassification

TimeSource = Literal["device", "gateway"]
Attribution = Literal["personal", "session", "manual", "unattributed", "assigned", "device_user"]


@dataclass(frozen=True, slots=True)
class DeviceRef:
    id: str
    profile: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    guideline: str
    version: str
    category: str
    label: str | None = None
    advice: str | None = None
    label_zh: str | None = None
    advice_zh: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading as the gateway keeps it (see ``docs/uplink.md`` for the wire form)."""

    id: str
    kind: str
    values: Mapping[str, Value]
    device: DeviceRef
    received_at: datetime
    effective_at: datetime
    time_source: TimeSource
    resident_id: str | None
    attribution: Attribution
    measured_at: str | None = None
    gateway_clock_synced: bool = True
    user_index: int | None = None
    flags: tuple[str, ...] = ()
    classification: Classification | None = None
    raw: bytes | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    revision: int = 0

    def assigned_to(self, resident_id: str) -> Reading:
        return replace(self, resident_id=resident_id, attribution="assigned", revision=self.revision + 1)


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _num(v: float) -> float | int:
    if isinstance(v, float) and v.is_integer() and math.isfinite(v) and abs(v) < 2**53:
        return int(v)
    return v


def to_wire_dict(r: Reading) -> dict[str, Any]:
    """The JSON object of :class:`uplink.contract.WireReading` (without ``seq``)."""
    out: dict[str, Any] = {
        "id": r.id,
        "revision": r.revision,
        "kind": r.kind,
        "resident_id": r.resident_id,
        "attribution": r.attribution,
        "device": {"id": r.device.id, "profile": r.device.profile, "address": r.device.address},
        "measured_at": r.measured_at,
        "received_at": _iso(r.received_at),
        "effective_at": _iso(r.effective_at),
        "time_source": r.time_source,
        "gateway_clock_synced": r.gateway_clock_synced,
        "values": {k: {"value": _num(v.value), "unit": v.unit} for k, v in r.values.items()},
        "flags": list(r.flags),
        "classification": None,
        "raw_hex": r.raw.hex() if r.raw is not None else None,
        "extras": dict(r.extras),
    }
    if r.classification is not None:
        c = r.classification
        out["classification"] = WireClassification(
            guideline=c.guideline,
            version=c.version,
            category=c.category,
            label=c.label,
            advice=c.advice,
            label_zh=c.label_zh,
            advice_zh=c.advice_zh,
        ).model_dump()
    return out


def encode(r: Reading) -> bytes:
    return orjson.dumps(to_wire_dict(r))


def decode(payload: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(payload)
    return data
