"""Uplink contract v1: the messages on the wire, as pydantic models (boundary only).

Topics, under a configurable prefix (default ``hut/v1``):

* ``<prefix>/<gateway_id>/readings``  gateway -> county, QoS 1, :class:`ReadingsEnvelope`
* ``<prefix>/<gateway_id>/alerts``    gateway -> county, QoS 1, :class:`AlertsEnvelope`
* ``<prefix>/<gateway_id>/ack``       county -> gateway, QoS 1, :class:`Ack`
* ``<prefix>/<gateway_id>/status``    gateway -> county, retained where supported, :class:`Status`
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

READINGS_SCHEMA = "hut.readings/1"
ALERTS_SCHEMA = "hut.alerts/1"
ACK_SCHEMA = "hut.ack/1"
STATUS_SCHEMA = "hut.status/1"

ReadingKind = Literal[
    "blood_pressure",
    "weight",
    "body_composition",
    "heart_rate",
    "position",
    "spo2",
    "temperature",
]
Attribution = Literal["personal", "session", "manual", "unattributed", "assigned", "device_user"]
TimeSource = Literal["device", "gateway"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WireValue(_Wire):
    value: float
    unit: str = Field(description="UCUM unit code")


class WireDevice(_Wire):
    id: str = Field(description="the gateway's id for the device (provisioned name, or 'manual')")
    profile: str | None = None
    address: str | None = None


class WireClassification(_Wire):
    guideline: str
    version: str
    category: str
    label: str | None = None
    advice: str | None = None


class WireReading(_Wire):
    id: str = Field(description="UUIDv7, unique per reading; stays the same across revisions")
    revision: int = Field(0, ge=0, description="0 first; higher revisions replace lower ones")
    seq: int | None = Field(None, description="per-gateway sequence number, for gap detection")
    kind: ReadingKind
    resident_id: str | None
    attribution: Attribution
    device: WireDevice
    measured_at: str | None = Field(None, description="device clock as reported (ISO 8601; naive = device local)")
    received_at: datetime
    effective_at: datetime = Field(description="the time to use: device time when valid, else receive time")
    time_source: TimeSource
    gateway_clock_synced: bool = True
    values: dict[str, WireValue]
    flags: list[str] = Field(default_factory=list)
    classification: WireClassification | None = None
    raw_hex: str | None = None
    extras: dict[str, Any] = Field(default_factory=dict)


class WireAlert(_Wire):
    id: str
    kind: str = Field(description="sos, bp_crisis, fence_exit, fence_enter, signal_lost, ...")
    severity: Literal["info", "warning", "critical"]
    resident_id: str | None
    notify: list[str] = Field(default_factory=list)
    raised_at: datetime
    message: str
    reading_id: str | None = None
    suppressed_repeats: int = 0
    detail: dict[str, Any] = Field(default_factory=dict)
    seq: int | None = None


class ReadingsEnvelope(_Wire):
    schema_: Literal["hut.readings/1"] = Field(READINGS_SCHEMA, alias="schema")
    gateway_id: str
    batch_id: str
    sent_at: datetime
    readings: list[WireReading]


class AlertsEnvelope(_Wire):
    schema_: Literal["hut.alerts/1"] = Field(ALERTS_SCHEMA, alias="schema")
    gateway_id: str
    batch_id: str
    sent_at: datetime
    alerts: list[WireAlert]


class Rejection(_Wire):
    id: str
    reason: str


class Ack(_Wire):
    schema_: Literal["hut.ack/1"] = Field(ACK_SCHEMA, alias="schema")
    batch_id: str
    accepted: list[str] = Field(default_factory=list)
    rejected: list[Rejection] = Field(default_factory=list)


class Status(_Wire):
    schema_: Literal["hut.status/1"] = Field(STATUS_SCHEMA, alias="schema")
    gateway_id: str
    state: Literal["online", "offline"]
    at: datetime | None = None
    counters: dict[str, Any] = Field(default_factory=dict)
