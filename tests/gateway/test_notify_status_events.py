"""The escalation's status events (``hut.alert_status/1``) are built by the codec:
``AlertRow.status_event`` gives an :class:`uplink.codec.AlertStatus`, whose ``to_wire()`` is what
``notify.db`` keeps and the outbox's ``alert_status`` stream carries to the county."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.notify.store import AlertRow
from uplink.codec import AlertStatus
from uplink.contract import WireAlertStatus

ROW = AlertRow(
    id="0192f0c4-0000-7000-8000-000000000001",
    kind="sos",
    severity="critical",
    resident_id="R001",
    resident_name="王秀英",
    raised_at=1_795_940_000.0,
    detail={},
    urgent=True,
    state="notifying",
    round=1,
    next_at=None,
    repeats=0,
    acked_by=None,
    acked_role=None,
    acked_at=None,
    ack_via=None,
)
AT = 1_795_940_081.5


def test_each_step_the_engine_takes_is_a_wire_alert_status() -> None:
    steps = [
        ROW.status_event("round_started", AT, to=["+8613800138000"], roles=["guardian"], channel=None),
        ROW.status_event("round_started", AT, round=2, to=[], roles=[]),
        ROW.status_event(
            "notified",
            AT,
            to="+8613800138000",
            role="guardian",
            channel="sms",
            purpose="urgent",
            message_round=1,
        ),
        ROW.status_event("failed", AT, to="+8613800138000", role="clinic", channel="sms", error="no carrier"),
        ROW.status_event(
            "acknowledged",
            AT,
            state="acknowledged",
            by="+8613800138000",
            by_label="家属（尾号8000）",
            role="guardian",
            via="sms",
            channel="sms",
        ),
        ROW.status_event("unanswered", AT, state="unanswered", to=["0838-1234567"]),
    ]
    assert len({e.id for e in steps}) == len(steps)  # a new UUIDv7 each
    for e in steps:
        wire = WireAlertStatus.model_validate_json(e.to_wire())
        assert (wire.alert_id, wire.kind, wire.resident_id) == (ROW.id, "sos", "R001")
        assert wire.at == datetime.fromtimestamp(AT, UTC)
        assert AlertStatus.from_wire(e.to_wire()) == e
    assert [(e.state, e.round) for e in steps] == [
        ("notifying", 1),
        ("notifying", 2),
        ("notifying", 1),
        ("notifying", 1),
        ("acknowledged", 1),
        ("unanswered", 1),
    ]
    assert (
        steps[0]
        .to_wire()
        .endswith(
            b'"event":"round_started","state":"notifying","round":1,"at":"2026-11-29T08:14:41.500000Z",'
            b'"to":["+8613800138000"],"roles":["guardian"]}'
        )
    )
    assert steps[1].to_wire_dict()["to"] == [] and steps[1].to_wire_dict()["roles"] == []
