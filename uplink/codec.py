"""The gateway's messages to the county as frozen dataclasses, and their one wire form each.

* :class:`Reading` and :class:`Alert` (the outbox's records): the JSON of
  :class:`uplink.contract.WireReading` / :class:`uplink.contract.WireAlert` without ``seq`` (which
  :mod:`uplink.envelope` splices in when it builds an envelope);
* :class:`AlertStatus`: one step of an urgent alert's notification, the JSON of
  :class:`uplink.contract.WireAlertStatus` without ``seq`` (stored in ``notify.db``, then in the
  outbox's ``alert_status`` stream); optional fields that are ``None`` are left out;
* :class:`GatewayStatus` (birth, heartbeat, last will on ``status``) and :class:`CommandResult`
  (on ``command_results``): whole messages, :class:`uplink.contract.Status` and
  :class:`uplink.contract.CommandResult`, ``schema`` included, byte for byte what the pydantic models write.

This module is the one place that writes them and reads them back:

* ``to_wire()`` gives the compact JSON the outbox stores or the uplink publishes (orjson; no
  pydantic on this path, a reading is encoded for every measurement), ``to_wire_dict()`` the same
  as a ``dict``;
* ``from_wire(payload)`` / ``from_wire_dict(data)`` read it back (late assignment, re-timing, the
  command line). They trust what the gateway wrote and check only that it is shaped like one: a
  payload that is not one raises ``ValueError``, ``KeyError`` or ``TypeError``.

``from_wire(x.to_wire()) == x`` for every message, except a reading's ``user_index``
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
from uplink.contract import COMMAND_RESULT_SCHEMA, STATUS_SCHEMA
from uplink.contract import AckVia as AckVia
from uplink.contract import AlertEvent as AlertEvent
from uplink.contract import AlertState as AlertState
from uplink.contract import Attribution as Attribution
from uplink.contract import CommandStatus as CommandStatus
from uplink.contract import GatewayState as GatewayState
from uplink.contract import Severity as Severity
from uplink.contract import TimeSource as TimeSource


def wire_time(dt: datetime) -> str:
    """A time as the wire writes it: ISO 8601 with its offset, ``Z`` for UTC."""
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
            "received_at": wire_time(self.received_at),
            "effective_at": wire_time(self.effective_at),
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
            "raised_at": wire_time(self.raised_at),
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


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _opt_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return tuple(str(v) for v in value)


def _obj(value: Any) -> MappingProxyType[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """One step of an urgent alert's notification (docs/alerts.md): a round started (``to`` the
    numbers, ``roles`` theirs), a message handed to a phone (``notified``) or not (``failed``),
    ``acknowledged`` (``by``, ``by_label``, ``via``), ``unanswered``, ``reminded``."""

    id: str
    alert_id: str
    kind: str
    resident_id: str | None
    event: AlertEvent
    state: AlertState
    round: int
    at: datetime
    to: str | tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None
    role: str | None = None
    channel: str | None = None
    purpose: str | None = None
    message_round: int | None = None
    by: str | None = None
    by_label: str | None = None
    via: AckVia | None = None
    error: str | None = None

    def to_wire_dict(self) -> dict[str, Any]:
        """The JSON object of :class:`uplink.contract.WireAlertStatus` (without ``seq``; the
        optional fields that are ``None`` left out)."""
        d: dict[str, Any] = {
            "id": self.id,
            "alert_id": self.alert_id,
            "kind": self.kind,
            "resident_id": self.resident_id,
            "event": self.event,
            "state": self.state,
            "round": self.round,
            "at": wire_time(self.at),
        }
        optional = (
            ("to", self.to if self.to is None or isinstance(self.to, str) else list(self.to)),
            ("roles", None if self.roles is None else list(self.roles)),
            ("role", self.role),
            ("channel", self.channel),
            ("purpose", self.purpose),
            ("message_round", self.message_round),
            ("by", self.by),
            ("by_label", self.by_label),
            ("via", self.via),
            ("error", self.error),
        )
        d.update((k, v) for k, v in optional if v is not None)
        return d

    def to_wire(self) -> bytes:
        """The compact JSON ``notify.db`` keeps and the outbox's ``alert_status`` stream stores."""
        return orjson.dumps(self.to_wire_dict())

    @classmethod
    def from_wire_dict(cls, data: Mapping[str, Any]) -> AlertStatus:
        """An event back from its wire JSON object (:meth:`to_wire_dict`)."""
        to = data.get("to")
        roles = data.get("roles")
        message_round = data.get("message_round")
        return cls(
            id=str(data["id"]),
            alert_id=str(data["alert_id"]),
            kind=str(data["kind"]),
            resident_id=data.get("resident_id"),
            event=data["event"],
            state=data["state"],
            round=int(data["round"]),
            at=_time(data["at"]),
            to=None if to is None else to if isinstance(to, str) else _strs(to),
            roles=None if roles is None else _strs(roles),
            role=data.get("role"),
            channel=data.get("channel"),
            purpose=data.get("purpose"),
            message_round=None if message_round is None else int(message_round),
            by=data.get("by"),
            by_label=data.get("by_label"),
            via=data.get("via"),
            error=data.get("error"),
        )

    @classmethod
    def from_wire(cls, payload: bytes) -> AlertStatus:
        """An event back from its JSON (:meth:`to_wire`)."""
        return cls.from_wire_dict(wire_dict(payload))


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """The gateway's ``status`` message: birth and heartbeat (``online``, with the counters of
    docs/uplink.md, *Liveness*) and last will (``offline``)."""

    gateway_id: str
    state: GatewayState
    at: datetime | None = None
    counters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_wire_dict(self) -> dict[str, Any]:
        """The JSON object of :class:`uplink.contract.Status`."""
        return {
            "schema": STATUS_SCHEMA,
            "gateway_id": self.gateway_id,
            "state": self.state,
            "at": None if self.at is None else wire_time(self.at),
            "counters": dict(self.counters),
        }

    def to_wire(self) -> bytes:
        """The message published on ``<prefix>/<gateway_id>/status``."""
        return orjson.dumps(self.to_wire_dict())

    @classmethod
    def from_wire_dict(cls, data: Mapping[str, Any]) -> GatewayStatus:
        """A status back from its JSON object (``ValueError`` when ``schema`` is another)."""
        _check_schema(data, STATUS_SCHEMA)
        state = data["state"]
        if state not in ("online", "offline"):
            raise ValueError(f"status state {state!r} is neither online nor offline")
        return cls(
            gateway_id=str(data["gateway_id"]),
            state=state,
            at=_opt_time(data.get("at")),
            counters=_obj(data.get("counters")),
        )

    @classmethod
    def from_wire(cls, payload: bytes) -> GatewayStatus:
        """A status back from the message (:meth:`to_wire`)."""
        return cls.from_wire_dict(wire_dict(payload))


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The answer to one down-link command (docs/uplink.md, *Down-link commands*): ``done`` with
    its ``result``, or ``refused`` / ``failed`` with the ``reason``."""

    command_id: str | None
    gateway_id: str
    status: CommandStatus
    at: datetime
    name: str | None = None
    reason: str | None = None
    result: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_wire_dict(self) -> dict[str, Any]:
        """The JSON object of :class:`uplink.contract.CommandResult`."""
        return {
            "schema": COMMAND_RESULT_SCHEMA,
            "command_id": self.command_id,
            "gateway_id": self.gateway_id,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "result": dict(self.result),
            "at": wire_time(self.at),
        }

    def to_wire(self) -> bytes:
        """The message published on ``<prefix>/<gateway_id>/command_results``."""
        return orjson.dumps(self.to_wire_dict())

    @classmethod
    def from_wire_dict(cls, data: Mapping[str, Any]) -> CommandResult:
        """A result back from its JSON object (``ValueError`` when ``schema`` is another)."""
        _check_schema(data, COMMAND_RESULT_SCHEMA)
        status = data["status"]
        if status not in ("done", "refused", "failed"):
            raise ValueError(f"command status {status!r} is not done, refused or failed")
        command_id = data.get("command_id")
        return cls(
            command_id=None if command_id is None else str(command_id),
            gateway_id=str(data["gateway_id"]),
            status=status,
            at=_time(data["at"]),
            name=data.get("name"),
            reason=data.get("reason"),
            result=_obj(data.get("result")),
        )

    @classmethod
    def from_wire(cls, payload: bytes) -> CommandResult:
        """A result back from the message (:meth:`to_wire`)."""
        return cls.from_wire_dict(wire_dict(payload))


def _check_schema(data: Mapping[str, Any], schema: str) -> None:
    if data.get("schema") != schema:
        raise ValueError(f"not a {schema} message (schema {data.get('schema')!r})")


def wire_dict(payload: bytes) -> dict[str, Any]:
    """A stored payload as its JSON object (``ValueError`` when it is not one)."""
    data = orjson.loads(payload)
    if not isinstance(data, dict):
        raise ValueError("stored payload is not a JSON object")
    return data
