"""The reading and the alert as the gateway keeps them (frozen dataclasses), and their wire form.

The wire form is the JSON of :class:`uplink.contract.WireReading` / :class:`uplink.contract.WireAlert`
without ``seq`` (which :mod:`uplink.envelope` splices in when it builds an envelope). This module
is the one place that writes it and reads it back:

* ``to_wire()`` gives the compact JSON the outbox stores (orjson; no pydantic on this path, a
  reading is encoded for every measurement), ``to_wire_dict()`` the same as a ``dict``;
* ``from_wire(payload)`` / ``from_wire_dict(data)`` read a stored payload back (late assignment,
  re-timing). They trust what the gateway wrote and check only that it is shaped like one: a
  payload that is not a reading raises ``ValueError``, ``KeyError`` or ``TypeError``.

``from_wire(x.to_wire()) == x`` for every reading and alert, except a reading's ``user_index``
(a multi-user device's slot, used to attribute it), which is not on the wire and reads back as
``None``. Values that are whole numbers are written as JSON integers (``72``, not ``72.0``). What
arrives from outside (the county's receiver, the FHIR encoder) is validated by the pydantic
models instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

import orjson

from drivers.kinds import Value
from uplink.contract import Attribution as Attribution
from uplink.contract import Severity as Severity
from uplink.contract import TimeSource as TimeSource


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _num(v: float) -> float | int:
    if isinstance(v, float) and v.is_integer() and math.isfinite(v) and abs(v) < 2**53:
        return int(v)
    return v


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

    def to_wire_dict(self) -> dict[str, Any]:
        """The JSON object of :class:`uplink.contract.WireClassification`."""
        return {
            "guideline": self.guideline,
            "version": self.version,
            "category": self.category,
            "label": self.label,
            "advice": self.advice,
            "label_zh": self.label_zh,
            "advice_zh": self.advice_zh,
        }


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

    def to_wire_dict(self) -> dict[str, Any]:
        """The JSON object of :class:`uplink.contract.WireReading` (without ``seq``)."""
        d = self.device
        c = self.classification
        return {
            "id": self.id,
            "revision": self.revision,
            "kind": self.kind,
            "resident_id": self.resident_id,
            "attribution": self.attribution,
            "device": {"id": d.id, "profile": d.profile, "address": d.address},
            "measured_at": self.measured_at,
            "received_at": _iso(self.received_at),
            "effective_at": _iso(self.effective_at),
            "time_source": self.time_source,
            "gateway_clock_synced": self.gateway_clock_synced,
            "values": {k: {"value": _num(v.value), "unit": v.unit} for k, v in self.values.items()},
            "flags": list(self.flags),
            "classification": None if c is None else c.to_wire_dict(),
            "raw_hex": self.raw.hex() if self.raw is not None else None,
            "extras": dict(self.extras),
        }

    def to_wire(self) -> bytes:
        """The compact JSON the outbox stores (and the envelope splices)."""
        return orjson.dumps(self.to_wire_dict())

    @classmethod
    def from_wire_dict(cls, data: Mapping[str, Any]) -> Reading:
        """A reading back from its wire JSON object (:meth:`to_wire_dict`)."""
        c = data.get("classification")
        dev = data["device"]
        raw_hex = data.get("raw_hex")
        user_index = data.get("user_index")
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            values=MappingProxyType(
                {str(k): Value(float(v["value"]), str(v["unit"])) for k, v in data["values"].items()}
            ),
            device=DeviceRef(id=str(dev["id"]), profile=dev.get("profile"), address=dev.get("address")),
            received_at=datetime.fromisoformat(str(data["received_at"])),
            effective_at=datetime.fromisoformat(str(data["effective_at"])),
            time_source=data["time_source"],
            resident_id=data.get("resident_id"),
            attribution=data["attribution"],
            measured_at=data.get("measured_at"),
            gateway_clock_synced=bool(data.get("gateway_clock_synced", True)),
            user_index=user_index if isinstance(user_index, int) else None,
            flags=tuple(str(f) for f in data.get("flags") or ()),
            classification=None if c is None else Classification(**c),
            raw=None if raw_hex is None else bytes.fromhex(raw_hex),
            extras=dict(data.get("extras") or {}),
            revision=int(data.get("revision", 0)),
        )

    @classmethod
    def from_wire(cls, payload: bytes) -> Reading:
        """A reading back from the JSON the outbox stores (:meth:`to_wire`)."""
        return cls.from_wire_dict(wire_dict(payload))


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    kind: str
    severity: Severity
    resident_id: str | None
    notify: tuple[str, ...]
    raised_at: datetime
    message: str
    reading_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    suppressed_repeats: int = 0

    def to_wire_dict(self) -> dict[str, Any]:
        """The JSON object of :class:`uplink.contract.WireAlert` (without ``seq``)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "resident_id": self.resident_id,
            "notify": list(self.notify),
            "raised_at": _iso(self.raised_at),
            "message": self.message,
            "reading_id": self.reading_id,
            "suppressed_repeats": self.suppressed_repeats,
            "detail": dict(self.detail),
        }

    def to_wire(self) -> bytes:
        """The compact JSON the outbox stores (and the envelope splices)."""
        return orjson.dumps(self.to_wire_dict())

    @classmethod
    def from_wire_dict(cls, data: Mapping[str, Any]) -> Alert:
        """An alert back from its wire JSON object (:meth:`to_wire_dict`)."""
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            severity=data["severity"],
            resident_id=data.get("resident_id"),
            notify=tuple(str(n) for n in data.get("notify") or ()),
            raised_at=datetime.fromisoformat(str(data["raised_at"])),
            message=str(data["message"]),
            reading_id=data.get("reading_id"),
            detail=MappingProxyType(dict(data.get("detail") or {})),
            suppressed_repeats=int(data.get("suppressed_repeats", 0)),
        )

    @classmethod
    def from_wire(cls, payload: bytes) -> Alert:
        """An alert back from the JSON the outbox stores (:meth:`to_wire`)."""
        return cls.from_wire_dict(wire_dict(payload))


def wire_dict(payload: bytes) -> dict[str, Any]:
    """A stored payload as its JSON object (``ValueError`` when it is not one)."""
    data = orjson.loads(payload)
    if not isinstance(data, dict):
        raise ValueError("stored payload is not a JSON object")
    return data
