"""uplink.codec: the reading, the alert and the status messages to and from the wire.

Properties: ``from_wire(to_wire(x)) == x`` (a reading's ``user_index`` is not on the wire), and
what ``to_wire`` writes is valid for the contract's pydantic models (for the gateway's status and
a command result: byte for byte what the model itself writes). One of each is pinned byte for
byte: the stored JSON is what the envelope splices and the county receives.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.kinds import KIND_NAMES, Value
from drivers.measurement import Value as MeasurementValue
from uplink import contract
from uplink.codec import Alert, AlertStatus, Classification, CommandResult, DeviceRef, GatewayStatus, Reading
from uplink.contract import REVISION_MAX, Status, WireAlert, WireAlertStatus, WireReading

TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # no lone surrogates (not JSON)
OPT_TEXT = st.none() | TEXT
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
INTS = st.integers(-(2**63), 2**63 - 1)
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))])
TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=ZONES)
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | INTS | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(TEXT, JSON, max_size=4)

CLASSIFICATIONS = st.builds(
    Classification,
    guideline=TEXT,
    version=TEXT,
    category=TEXT,
    label=OPT_TEXT,
    advice=OPT_TEXT,
    label_zh=OPT_TEXT,
    advice_zh=OPT_TEXT,
)

READINGS = st.builds(
    Reading,
    id=TEXT,
    kind=st.sampled_from(KIND_NAMES),
    values=st.dictionaries(TEXT, st.builds(Value, FLOATS, TEXT), max_size=4).map(MappingProxyType),
    device=st.builds(DeviceRef, id=TEXT, profile=OPT_TEXT, address=OPT_TEXT),
    received_at=TIMES,
    effective_at=TIMES,
    time_source=st.sampled_from(["device", "gateway"]),
    resident_id=OPT_TEXT,
    attribution=st.sampled_from(["personal", "session", "manual", "unattributed", "assigned", "device_user"]),
    measured_at=OPT_TEXT,
    gateway_clock_synced=st.booleans(),
    user_index=st.none() | st.integers(0, 255),
    flags=st.lists(TEXT, max_size=3).map(tuple),
    classification=st.none() | CLASSIFICATIONS,
    raw=st.none() | st.binary(max_size=16),
    extras=JSON_OBJECTS,
    revision=st.integers(0, REVISION_MAX),
)

ALERTS = st.builds(
    Alert,
    id=TEXT,
    kind=TEXT,
    severity=st.sampled_from(["info", "warning", "critical"]),
    resident_id=OPT_TEXT,
    notify=st.lists(TEXT, max_size=3).map(tuple),
    raised_at=TIMES,
    message=TEXT,
    reading_id=OPT_TEXT,
    detail=JSON_OBJECTS.map(MappingProxyType),
    suppressed_repeats=st.integers(0, 2**31),
)


@settings(max_examples=300, deadline=None)
@given(READINGS)
def test_reading_round_trips_and_is_a_wire_reading(r: Reading) -> None:
    payload = r.to_wire()
    assert Reading.from_wire(payload) == replace(r, user_index=None)
    assert Reading.from_wire_dict(r.to_wire_dict()) == replace(r, user_index=None)
    wire = WireReading.model_validate_json(payload)
    assert wire.id == r.id and wire.kind == r.kind and wire.revision == r.revision
    assert {k: (v.value, v.unit) for k, v in wire.values.items()} == {
        k: (v.value, v.unit) for k, v in r.values.items()
    }
    assert wire.received_at == r.received_at and wire.effective_at == r.effective_at


@settings(max_examples=300, deadline=None)
@given(ALERTS)
def test_alert_round_trips_and_is_a_wire_alert(a: Alert) -> None:
    payload = a.to_wire()
    assert Alert.from_wire(payload) == a
    assert Alert.from_wire_dict(a.to_wire_dict()) == a
    wire = WireAlert.model_validate_json(payload)
    assert wire.id == a.id and wire.severity == a.severity and wire.raised_at == a.raised_at
    assert wire.notify == list(a.notify) and wire.detail == dict(a.detail)


SAMPLE_READING = Reading(
    id="0192f0c4-7e1a-7b3c-9d2e-1f2a3b4c5d6e",
    kind="blood_pressure",
    values={
        "systolic": MeasurementValue(182.0, "mm[Hg]"),
        "diastolic": MeasurementValue(121.5, "mm[Hg]"),
        "pulse": MeasurementValue(72, "/min"),
    },
    device=DeviceRef("cuff-1", "ble.bpm", "A4:C1:38:00:00:01"),
    received_at=datetime(2026, 11, 29, 8, 14, 41, 123456, tzinfo=UTC),
    effective_at=datetime(2026, 11, 29, 16, 14, 40, tzinfo=timezone(timedelta(hours=8))),
    time_source="device",
    resident_id="R001",
    attribution="personal",
    measured_at="2026-11-29T16:14:40",
    gateway_clock_synced=False,
    user_index=2,
    flags=("irregular_pulse",),
    classification=Classification(
        "china-htn", "2018", "grade3", "Grade 3 hypertension", "See a doctor", "3级高血压", "请就医"
    ),
    raw=b"\x1e\xb6\x00",
    extras={"boot_id": "b1", "mono": 12.5, "nested": [1, {"a": None}]},
    revision=1,
)
SAMPLE_READING_WIRE = (
    '{"id":"0192f0c4-7e1a-7b3c-9d2e-1f2a3b4c5d6e","revision":1,"kind":"blood_pressure",'
    '"resident_id":"R001","attribution":"personal",'
    '"device":{"id":"cuff-1","profile":"ble.bpm","address":"A4:C1:38:00:00:01"},'
    '"measured_at":"2026-11-29T16:14:40","received_at":"2026-11-29T08:14:41.123456Z",'
    '"effective_at":"2026-11-29T16:14:40+08:00","time_source":"device","gateway_clock_synced":false,'
    '"values":{"systolic":{"value":182,"unit":"mm[Hg]"},"diastolic":{"value":121.5,"unit":"mm[Hg]"},'
    '"pulse":{"value":72,"unit":"/min"}},"flags":["irregular_pulse"],'
    '"classification":{"guideline":"china-htn","version":"2018","category":"grade3",'
    '"label":"Grade 3 hypertension","advice":"See a doctor","label_zh":"3级高血压","advice_zh":"请就医"},'
    '"raw_hex":"1eb600","extras":{"boot_id":"b1","mono":12.5,"nested":[1,{"a":null}]}}'
).encode()
SAMPLE_ALERT = Alert(
    id="0192f0c4-0000-7000-8000-000000000001",
    kind="bp_crisis",
    severity="critical",
    resident_id="R001",
    notify=("13800138000",),
    raised_at=datetime(2026, 11, 29, 8, 14, 41, tzinfo=UTC),
    message="血压危急",
    reading_id="0192f0c4-7e1a-7b3c-9d2e-1f2a3b4c5d6e",
    detail=MappingProxyType({"systolic": 182}),
    suppressed_repeats=3,
)
SAMPLE_ALERT_WIRE = (
    '{"id":"0192f0c4-0000-7000-8000-000000000001","kind":"bp_crisis","severity":"critical",'
    '"resident_id":"R001","notify":["13800138000"],"raised_at":"2026-11-29T08:14:41Z","message":"血压危急",'
    '"reading_id":"0192f0c4-7e1a-7b3c-9d2e-1f2a3b4c5d6e","suppressed_repeats":3,"detail":{"systolic":182}}'
).encode()


def test_the_stored_bytes_are_pinned() -> None:
    assert SAMPLE_READING.to_wire() == SAMPLE_READING_WIRE
    assert SAMPLE_ALERT.to_wire() == SAMPLE_ALERT_WIRE
    back = Reading.from_wire(SAMPLE_READING_WIRE)
    assert back == replace(SAMPLE_READING, user_index=None)
    assert back.values["pulse"] == MeasurementValue(72.0, "/min")  # one Value class for drivers and uplink
    assert Alert.from_wire(SAMPLE_ALERT_WIRE) == SAMPLE_ALERT


# -- the status messages: alert_status events, the gateway's status, command results -----------

ALERT_STATUSES = st.builds(
    AlertStatus,
    id=TEXT,
    alert_id=TEXT,
    kind=TEXT,
    resident_id=OPT_TEXT,
    event=st.sampled_from(["round_started", "notified", "failed", "acknowledged", "unanswered", "reminded"]),
    state=st.sampled_from(["notifying", "acknowledged", "unanswered", "digest", "digested"]),
    round=st.integers(0, 2**31),
    at=TIMES,
    to=OPT_TEXT | st.lists(TEXT, max_size=3).map(tuple),
    roles=st.none() | st.lists(TEXT, max_size=3).map(tuple),
    role=OPT_TEXT,
    channel=OPT_TEXT,
    purpose=OPT_TEXT,
    message_round=st.none() | st.integers(0, 2**31),
    by=OPT_TEXT,
    by_label=OPT_TEXT,
    via=st.sampled_from([None, "sms", "kiosk", "county", "cli"]),
    error=OPT_TEXT,
)
GATEWAY_STATUSES = st.builds(
    GatewayStatus,
    gateway_id=TEXT,
    state=st.sampled_from(["online", "offline"]),
    at=st.none() | TIMES,
    counters=JSON_OBJECTS.map(MappingProxyType),
)
COMMAND_RESULTS = st.builds(
    CommandResult,
    command_id=OPT_TEXT,
    gateway_id=TEXT,
    status=st.sampled_from(["done", "refused", "failed"]),
    at=TIMES,
    name=OPT_TEXT,
    reason=OPT_TEXT,
    result=JSON_OBJECTS.map(MappingProxyType),
)


@settings(max_examples=300, deadline=None)
@given(ALERT_STATUSES)
def test_alert_status_round_trips_and_is_a_wire_alert_status(e: AlertStatus) -> None:
    payload = e.to_wire()
    assert AlertStatus.from_wire(payload) == e
    assert AlertStatus.from_wire_dict(e.to_wire_dict()) == e
    wire = WireAlertStatus.model_validate_json(payload)
    to = e.to if e.to is None or isinstance(e.to, str) else list(e.to)
    assert wire.model_dump(exclude={"seq"}) == {
        **{f: getattr(e, f) for f in e.__slots__},
        "to": to,
        "roles": None if e.roles is None else list(e.roles),
    }


@settings(max_examples=300, deadline=None)
@given(GATEWAY_STATUSES)
def test_gateway_status_round_trips_and_is_what_the_contract_writes(s: GatewayStatus) -> None:
    payload = s.to_wire()
    assert GatewayStatus.from_wire(payload) == s
    wire = Status.model_validate_json(payload)
    assert (wire.gateway_id, wire.state, wire.at, wire.counters) == (s.gateway_id, s.state, s.at, s.counters)
    assert wire.model_dump_json(by_alias=True).encode() == payload


@settings(max_examples=300, deadline=None)
@given(COMMAND_RESULTS)
def test_command_result_round_trips_and_is_what_the_contract_writes(r: CommandResult) -> None:
    payload = r.to_wire()
    assert CommandResult.from_wire(payload) == r
    wire = contract.CommandResult.model_validate_json(payload)
    assert wire.model_dump(exclude={"schema_"}) == {f: getattr(r, f) for f in r.__slots__}
    assert wire.model_dump_json(by_alias=True).encode() == payload


SAMPLE_EVENTS = [
    AlertStatus(
        id="0192f0c4-0000-7000-8000-0000000000e1",
        alert_id="0192f0c4-0000-7000-8000-000000000001",
        kind="sos",
        resident_id="R001",
        event="round_started",
        state="notifying",
        round=1,
        at=datetime(2026, 11, 29, 8, 14, 41, 500000, tzinfo=UTC),
        to=("13800138000", "0838-1234567"),
        roles=("guardian", "clinic"),
        channel="sms",
    ),
    AlertStatus(
        id="0192f0c4-0000-7000-8000-0000000000e2",
        alert_id="0192f0c4-0000-7000-8000-000000000001",
        kind="sos",
        resident_id="R001",
        event="acknowledged",
        state="acknowledged",
        round=1,
        at=datetime(2026, 11, 29, 8, 16, 2, tzinfo=UTC),
        role="guardian",
        channel="sms",
        by="13800138000",
        by_label="家属（尾号8000）",
        via="sms",
    ),
]
SAMPLE_EVENTS_WIRE = [
    (
        b'{"id":"0192f0c4-0000-7000-8000-0000000000e1","alert_id":"0192f0c4-0000-7000-8000-000000000001",'
        b'"kind":"sos","resident_id":"R001","event":"round_started","state":"notifying","round":1,'
        b'"at":"2026-11-29T08:14:41.500000Z","to":["13800138000","0838-1234567"],'
        b'"roles":["guardian","clinic"],"channel":"sms"}'
    ),
    (
        '{"id":"0192f0c4-0000-7000-8000-0000000000e2","alert_id":"0192f0c4-0000-7000-8000-000000000001",'
        '"kind":"sos","resident_id":"R001","event":"acknowledged","state":"acknowledged","round":1,'
        '"at":"2026-11-29T08:16:02Z","role":"guardian","channel":"sms","by":"13800138000",'
        '"by_label":"家属（尾号8000）","via":"sms"}'
    ).encode(),
]
SAMPLE_STATUS = GatewayStatus(
    gateway_id="hut-0042",
    state="online",
    at=datetime(2026, 11, 29, 8, 15, tzinfo=UTC),
    counters={"published": 1041, "acked": 1040, "last_ack_at": None, "outbox": {"pending": {"alerts": 0}}},
)
SAMPLE_STATUS_WIRE = (
    b'{"schema":"hut.status/1","gateway_id":"hut-0042","state":"online","at":"2026-11-29T08:15:00Z",'
    b'"counters":{"published":1041,"acked":1040,"last_ack_at":null,"outbox":{"pending":{"alerts":0}}}}'
)
SAMPLE_RESULT = CommandResult(
    command_id="0192f0c4-0000-7000-8000-0000000000c1",
    gateway_id="hut-0042",
    status="refused",
    at=datetime(2026, 11, 29, 8, 20, 0, 250000, tzinfo=UTC),
    name="ping",
    reason="expired",
)
SAMPLE_RESULT_WIRE = (
    b'{"schema":"hut.command_result/1","command_id":"0192f0c4-0000-7000-8000-0000000000c1",'
    b'"gateway_id":"hut-0042","name":"ping","status":"refused","reason":"expired","result":{},'
    b'"at":"2026-11-29T08:20:00.250000Z"}'
)


def test_the_status_messages_are_pinned() -> None:
    assert [e.to_wire() for e in SAMPLE_EVENTS] == SAMPLE_EVENTS_WIRE
    assert [AlertStatus.from_wire(b) for b in SAMPLE_EVENTS_WIRE] == SAMPLE_EVENTS
    assert SAMPLE_STATUS.to_wire() == SAMPLE_STATUS_WIRE
    assert GatewayStatus.from_wire(SAMPLE_STATUS_WIRE) == SAMPLE_STATUS
    assert SAMPLE_RESULT.to_wire() == SAMPLE_RESULT_WIRE
    assert CommandResult.from_wire(SAMPLE_RESULT_WIRE) == SAMPLE_RESULT
    # what the uplink published with pydantic before (a birth, a last will, a refusal)
    birth = Status(
        gateway_id="hut-0042", state="online", at=SAMPLE_STATUS.at, counters=dict(SAMPLE_STATUS.counters)
    )
    assert birth.model_dump_json(by_alias=True).encode() == SAMPLE_STATUS_WIRE
    will = GatewayStatus("hut-0042", "offline", at=SAMPLE_STATUS.at)
    assert (
        will.to_wire()
        == Status(gateway_id="hut-0042", state="offline", at=SAMPLE_STATUS.at)
        .model_dump_json(by_alias=True)
        .encode()
    )
    refusal = contract.CommandResult(
        command_id=SAMPLE_RESULT.command_id,
        gateway_id="hut-0042",
        name="ping",
        status="refused",
        reason="expired",
        at=SAMPLE_RESULT.at,
    )
    assert refusal.model_dump_json(by_alias=True).encode() == SAMPLE_RESULT_WIRE


def test_a_status_message_of_another_schema_is_refused() -> None:
    for payload, cls in [(SAMPLE_RESULT_WIRE, GatewayStatus), (SAMPLE_STATUS_WIRE, CommandResult)]:
        with pytest.raises(ValueError, match="not a hut"):
            cls.from_wire(payload)
    with pytest.raises(ValueError):
        GatewayStatus.from_wire(SAMPLE_STATUS_WIRE.replace(b'"online"', b'"sleeping"'))
