"""Uplink contract v1: the messages on the wire, as pydantic models (boundary only).

Topics, under a configurable prefix (default ``hut/v1``), named in :mod:`uplink.topics`:

* ``<prefix>/<gateway_id>/readings``  gateway -> county, QoS 1, :class:`ReadingsEnvelope`
* ``<prefix>/<gateway_id>/alerts``    gateway -> county, QoS 1, :class:`AlertsEnvelope`
* ``<prefix>/<gateway_id>/alert_status``  gateway -> county, QoS 1, :class:`AlertStatusEnvelope`
* ``<prefix>/<gateway_id>/ack``       county -> gateway, QoS 1, :class:`Ack`
* ``<prefix>/<gateway_id>/status``    gateway -> county, retained where supported, :class:`Status`
* ``<prefix>/<gateway_id>/commands``  county -> gateway, QoS 1, :class:`Command` (Ed25519-signed)
* ``<prefix>/<gateway_id>/command_results``  gateway -> county, QoS 1, :class:`CommandResult`
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from drivers.kinds import KIND_NAMES
from uplink.topics import UPLINK_STREAMS as UPLINK_STREAMS

READINGS_SCHEMA: Final = "hut.readings/1"
ALERTS_SCHEMA: Final = "hut.alerts/1"
ALERT_STATUS_SCHEMA: Final = "hut.alert_status/1"
ACK_SCHEMA: Final = "hut.ack/1"
STATUS_SCHEMA: Final = "hut.status/1"
REVISION_MAX: Final = 2**31 - 1
"""A reading's highest revision: the county stores it in a 32-bit column (a revision is one
re-attribution or re-timing of one reading; no reading comes near it)."""

if TYPE_CHECKING:
    ReadingKind = str
else:  # the kind catalogue's names, in its order: the JSON Schemas' and OpenAPI's ``kind`` enum
    ReadingKind = Literal[KIND_NAMES]
Attribution = Literal["personal", "session", "manual", "unattributed", "assigned", "device_user"]
TimeSource = Literal["device", "gateway"]
Severity = Literal["info", "warning", "critical"]


class _Wire(BaseModel):
    # cache_strings="keys": pydantic-core would otherwise keep every short string value it parses
    # (record ids, in every ack) in a process-wide cache of 16384 entries, about 2 MB for nothing.
    model_config = ConfigDict(extra="forbid", frozen=True, cache_strings="keys")


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
    label: str | None = Field(None, description="English label of the category")
    advice: str | None = Field(None, description="English advice to the resident")
    label_zh: str | None = Field(None, description="Chinese label of the category")
    advice_zh: str | None = Field(None, description="Chinese advice to the resident")


class WireReading(_Wire):
    id: str = Field(description="UUIDv7, unique per reading; stays the same across revisions")
    revision: int = Field(
        0,
        ge=0,
        le=REVISION_MAX,
        description="0 first; higher revisions replace lower ones (at most 2147483647)",
    )
    seq: int | None = Field(None, description="per-gateway sequence number, for gap detection")
    kind: ReadingKind
    resident_id: str | None
    attribution: Attribution
    device: WireDevice
    measured_at: str | None = Field(
        None, description="device clock as reported (ISO 8601; naive = device local)"
    )
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
    severity: Severity
    resident_id: str | None
    notify: list[str] = Field(default_factory=list)
    raised_at: datetime
    message: str
    reading_id: str | None = None
    suppressed_repeats: int = 0
    detail: dict[str, Any] = Field(default_factory=dict)
    seq: int | None = None


AlertEvent = Literal["round_started", "notified", "failed", "acknowledged", "unanswered", "reminded"]
AlertState = Literal["notifying", "acknowledged", "unanswered", "digest", "digested"]
AckVia = Literal["sms", "kiosk", "county", "cli"]
GatewayState = Literal["online", "offline"]
CommandStatus = Literal["done", "refused", "failed"]


class WireAlertStatus(_Wire):
    """One step of an alert's notification (docs/alerts.md): a round started (to whom), a message
    handed to a phone (``notified``: to, role, channel, at), a message that could not be sent
    (``failed``), ``acknowledged`` (by whom, how, when), ``unanswered`` after the last round, and
    each ``reminded`` of the clinic after that."""

    id: str = Field(description="UUIDv7 of this event (the receiver stores each once)")
    alert_id: str = Field(description="the alert (an id of the alerts stream)")
    kind: str
    resident_id: str | None
    event: AlertEvent
    state: AlertState = Field(description="the alert's state after this event")
    round: int = Field(ge=0, description="the escalation round (1 = the first)")
    at: datetime
    to: str | list[str] | None = Field(None, description="the phone number(s) concerned")
    roles: list[str] | None = Field(None, description="with a list in `to`: guardian, clinic, escalation")
    role: str | None = Field(None, description="guardian, clinic, escalation, digest")
    channel: str | None = Field(None, description="sms (the hut's modem), kiosk, county, cli")
    purpose: str | None = Field(None, description="urgent, reminder, unanswered (which message)")
    message_round: int | None = None
    by: str | None = Field(None, description="who acknowledged: a phone number, the doctor, a county user")
    by_label: str | None = Field(
        None, description="how the others were told who it was, e.g. 家属（尾号0001）"
    )
    via: AckVia | None = None
    error: str | None = None
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


class AlertStatusEnvelope(_Wire):
    schema_: Literal["hut.alert_status/1"] = Field(ALERT_STATUS_SCHEMA, alias="schema")
    gateway_id: str
    batch_id: str
    sent_at: datetime
    alert_status: list[WireAlertStatus]


class Rejection(_Wire):
    id: str
    reason: str


class Ack(_Wire):
    """The county's receipt for one envelope, county -> gateway on ``<prefix>/<gateway_id>/ack``.

    ``signature`` is Ed25519 by the county key (the one that signs commands) over the canonical
    JSON of every other field (see :func:`uplink.commands.sign_ack`), base64 encoded. A gateway
    with ``[uplink] command_public_key`` set acts only on acks signed by that key.
    """

    schema_: Literal["hut.ack/1"] = Field(ACK_SCHEMA, alias="schema")
    batch_id: str
    gateway_id: str | None = Field(
        None, description="the gateway the ack answers (covered by the signature; others refuse it)"
    )
    accepted: list[str] = Field(default_factory=list)
    rejected: list[Rejection] = Field(default_factory=list)
    signature: str | None = Field(
        None, description="base64 Ed25519 signature by the county key over the canonical JSON"
    )


RECEIPT_SCHEMA: Final = "hut.receipt/1"


class Receipt(_Wire):
    """What ``hutgw receiver import`` writes for an offline export (a file, not a topic): the ids
    the county stored, which ``hutgw buffer mark-delivered --from-receipt`` marks delivered on the
    gateway, and what it rejected."""

    schema_: Literal["hut.receipt/1"] = Field(RECEIPT_SCHEMA, alias="schema")
    source: str = Field(description="the name of the imported `hutgw buffer export` file")
    exported_at: float | None = Field(
        description="when the export was made (the earliest sent_at in the file), Unix seconds"
    )
    accepted: list[str]
    rejected: list[Rejection]


class Status(_Wire):
    schema_: Literal["hut.status/1"] = Field(STATUS_SCHEMA, alias="schema")
    gateway_id: str
    state: GatewayState
    at: datetime | None = None
    counters: dict[str, Any] = Field(default_factory=dict)


COMMAND_SCHEMA: Final = "hut.command/1"
COMMAND_RESULT_SCHEMA: Final = "hut.command_result/1"

CommandName = Literal["ping", "status", "residents", "geofences", "alert.ack"]


class Command(_Wire):
    """A down-link command, county -> gateway on ``<prefix>/<gateway_id>/commands`` (QoS 1).

    ``signature`` is Ed25519 over the canonical JSON of every other field (see
    :func:`uplink.commands.canonical_bytes`), base64 encoded.
    """

    schema_: Literal["hut.command/1"] = Field(COMMAND_SCHEMA, alias="schema")
    id: str = Field(min_length=1, max_length=64, description="unique command id (UUIDv7); replays refused")
    gateway_id: str = Field(description="the gateway the command is for; others refuse it")
    name: CommandName
    args: dict[str, Any] = Field(default_factory=dict)
    issued_at: datetime
    expires_at: datetime
    signature: str = Field(min_length=1, description="base64 Ed25519 signature over the canonical JSON")


class CommandResult(_Wire):
    """The answer to one command, gateway -> county on ``<prefix>/<gateway_id>/command_results``."""

    schema_: Literal["hut.command_result/1"] = Field(COMMAND_RESULT_SCHEMA, alias="schema")
    command_id: str | None = Field(description="null when the command was too malformed to carry an id")
    gateway_id: str
    name: str | None = None
    status: CommandStatus
    reason: str | None = Field(None, description="why it was refused or failed")
    result: dict[str, Any] = Field(default_factory=dict)
    at: datetime
