"""The escalation ladder on a real notify.db, driven step by step with a fake clock.

The channel here is a recording channel (a real implementation of the channel interface that
keeps what it was handed); the 4G modem channel is tested on a pseudo-terminal in
tests/drivers/test_modem.py and end to end in tests/gateway/test_alerts_e2e.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.clock import FakeClock
from gateway.config import NotifyConfig
from gateway.notify.channel import ChannelError
from gateway.notify.engine import Escalation
from gateway.notify.policy import is_ack_text, mask_phone, phone_key
from gateway.notify.store import NewMessage, NotifyStore
from gateway.registry import ResidentEntry
from uplink.codec import Alert
from uplink.contract import WireAlertStatus

G1, G2 = "+8613900000001", "13900000002"
CLINIC, DOCTOR = "+8613800000001", "+8613700000001"
RESIDENTS = {
    "r1": ResidentEntry(id="r1", name="张桂英", guardians=(G1, G2)),
    "r2": ResidentEntry(id="r2", name="李秀兰", guardians=("+8613900000003",)),
}


class RecordingChannel:
    name = "sms"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.ready = True
        self.fail: list[ChannelError] = []

    async def send(self, to: str, text: str) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append((to, text))

    def status(self) -> dict[str, Any]:
        return {"channel": self.name, "sent": len(self.sent)}

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()


class Rig:
    def __init__(self, path: Path, clock: FakeClock, channel: RecordingChannel | None, **cfg: Any) -> None:
        self.path = path
        self.clock = clock
        self.channel = channel
        self.cfg = NotifyConfig(
            clinic=[CLINIC], escalation=[DOCTOR], escalate_after_s=60, max_rounds=3, **cfg
        )
        self.emitted: list[dict[str, Any]] = []
        self.announced: list[dict[str, Any]] = []
        self.open()

    def open(self) -> None:
        self.store = NotifyStore(self.path)
        self.engine = Escalation(
            self.store,
            self.cfg,
            clock=self.clock,
            resident=lambda rid: RESIDENTS.get(rid or ""),
            channel=self.channel,
            announce=self.announced.append,
        )

    async def alert_status(self, events: Sequence[tuple[str, bytes]]) -> None:
        """The rig is the engine's status sink (``AlertStatusSink``), as the recorder is in the daemon."""
        self.emitted += [orjson.loads(p) for _, p in events]

    def restart(self) -> None:
        self.store.close()
        self.open()

    async def drain(self) -> int:
        """Send everything that may go now; then emit events."""
        n = 0
        while await self.engine.send_one():
            n += 1
        await self.engine.emit_pending(self)
        return n

    def alert(
        self, kind: str = "sos", resident: str | None = "r1", severity: str = "critical", **detail: Any
    ) -> Alert:
        from buffer.ids import uuid7

        a = Alert(
            id=uuid7(),
            kind=kind,
            severity=severity,  # type: ignore[arg-type]
            resident_id=resident,
            notify=(),
            raised_at=self.clock.now(),
            message="x",
            detail=detail,
        )
        self.engine.take(a)
        return a


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 12, 6, 8, 21, tzinfo=UTC))  # 16:21 in Shanghai


@pytest.fixture
def rig(tmp_path: Path, clock: FakeClock) -> Rig:
    return Rig(tmp_path / "notify.db", clock, RecordingChannel())


def sent_to(rig: Rig) -> list[str]:
    assert rig.channel is not None
    return [to for to, _ in rig.channel.sent]


async def test_sos_goes_at_once_to_every_guardian_and_the_clinic(rig: Rig) -> None:
    a = rig.alert(position={"latitude": 30.27412, "longitude": 120.15513})
    assert await rig.drain() == 3
    assert sent_to(rig) == [G1, G2, CLINIC]
    text = rig.channel.sent[0][1]  # type: ignore[union-attr]
    assert text == "【紧急】张桂英按了SOS紧急呼叫，位置30.2741,120.1551，12月6日16:21。回复1表示收到"
    assert len(text) <= 70  # one UCS-2 SMS
    view = rig.engine.view(rig.store.get(a.id))  # type: ignore[arg-type]
    assert view["state"] == "notifying" and view["round"] == 1
    assert [(r["who"], r["role"], r["status"]) for r in view["recipients"]] == [
        (G1, "guardian", "sent"),
        (G2, "guardian", "sent"),
        (CLINIC, "clinic", "sent"),
    ]
    events = [e["event"] for e in rig.emitted]
    assert events == ["round_started", "notified", "notified", "notified"]
    for e in rig.emitted:
        WireAlertStatus.model_validate(e)


async def test_no_answer_escalates_then_unanswered_then_clinic_reminded(rig: Rig, clock: FakeClock) -> None:
    a = rig.alert()
    await rig.drain()
    clock.advance(59)
    assert rig.engine.step() == 0  # not yet
    clock.advance(2)
    assert rig.engine.step() == 1
    rig.channel.sent.clear()  # type: ignore[union-attr]
    await rig.drain()
    assert sent_to(rig) == [G1, G2, CLINIC, DOCTOR]  # everyone not yet answered + [notify] escalation
    assert all(t.startswith("【紧急·第2次】") for _, t in rig.channel.sent)  # type: ignore[union-attr]
    clock.advance(61)
    rig.engine.step()
    await rig.drain()
    assert rig.store.get(a.id).round == 3  # type: ignore[union-attr]
    rig.channel.sent.clear()  # type: ignore[union-attr]
    clock.advance(61)
    rig.engine.step()
    await rig.drain()
    row = rig.store.get(a.id)
    assert row is not None and row.state == "unanswered"
    assert sent_to(rig) == [CLINIC]
    assert "无人应答" in rig.channel.sent[0][1]  # type: ignore[union-attr]
    assert rig.emitted[-2]["event"] == "unanswered"
    rig.channel.sent.clear()  # type: ignore[union-attr]
    clock.advance(599)
    rig.engine.step()
    await rig.drain()
    assert sent_to(rig) == []
    clock.advance(2)
    rig.engine.step()
    await rig.drain()
    assert sent_to(rig) == [CLINIC]  # reminded every unanswered_repeat_s until someone answers
    assert any(e["event"] == "reminded" for e in rig.emitted)


async def test_a_guardian_replying_1_stops_the_rounds_and_the_others_are_told(
    rig: Rig, clock: FakeClock
) -> None:
    a = rig.alert()
    await rig.drain()
    rig.channel.sent.clear()  # type: ignore[union-attr]
    await rig.engine.on_reply("+86" + G2, " 1 ")
    row = rig.store.get(a.id)
    assert row is not None and row.state == "acknowledged" and row.ack_via == "sms"
    assert row.acked_by == "+86" + G2 and row.acked_role == "guardian"
    await rig.drain()
    assert sorted(sent_to(rig)) == sorted([G1, CLINIC])
    assert all(t == "张桂英的紧急呼叫已由家属（尾号0002）确认，谢谢。" for _, t in rig.channel.sent)  # type: ignore[union-attr]
    ack = [e for e in rig.emitted if e["event"] == "acknowledged"]
    assert len(ack) == 1 and ack[0]["by"] == "+86" + G2 and ack[0]["via"] == "sms"
    rig.channel.sent.clear()  # type: ignore[union-attr]
    clock.advance(3600)
    rig.engine.step()
    await rig.drain()
    assert sent_to(rig) == []  # no more rounds
    # a second "1" matches no open alert: one polite answer, not two within the hour
    await rig.engine.on_reply(G1, "收到")
    await rig.engine.on_reply(G1, "收到")
    await rig.drain()
    assert sent_to(rig) == [G1]
    assert "没有需要确认" in rig.channel.sent[0][1]  # type: ignore[union-attr]


async def test_queued_messages_of_an_acknowledged_alert_are_never_sent(rig: Rig) -> None:
    a = rig.alert()
    assert await rig.engine.send_one()  # one of three went out
    res = rig.engine.acknowledge(a.id, by="doctor", via="kiosk")
    assert res.outcome == "acknowledged"
    await rig.drain()
    # the two not yet sent were cancelled; the one who got the SOS is told who took it
    assert sent_to(rig) == [G1, G1]
    assert "村医（小屋）" in rig.channel.sent[1][1]  # type: ignore[union-attr]
    assert rig.engine.acknowledge(a.id, by="county", via="county").outcome == "already"
    assert rig.engine.acknowledge("nope", by="x", via="county").outcome == "unknown"


@pytest.mark.parametrize(
    ("text", "ack"),
    [
        ("1", True),
        ("１", True),
        (" 1 收到", True),
        ("收到了", True),
        ("好的", True),
        ("OK", True),
        ("ok 马上到", True),
        ("Ｏｋ", True),
        ("2", False),
        ("不在", False),
        ("", False),
        ("谢谢", False),
    ],
)
def test_what_counts_as_an_acknowledgement(text: str, ack: bool) -> None:
    assert is_ack_text(text) is ack


def test_phone_numbers_compare_by_their_subscriber_part() -> None:
    assert phone_key("+86 139-0000-0001") == phone_key("13900000001") == phone_key("008613900000001")
    assert mask_phone("+8613900000001") == "139****0001"


async def test_a_restart_mid_escalation_resumes_without_resending_or_skipping(
    rig: Rig, clock: FakeClock
) -> None:
    a = rig.alert()
    assert await rig.engine.send_one()  # G1 got round 1; the process dies before the others
    rig.restart()
    await rig.drain()
    assert sent_to(rig) == [G1, G2, CLINIC]  # the rest of round 1, nobody twice
    clock.advance(30)
    rig.restart()
    assert rig.engine.step() == 0  # the round's timer survived the restart
    clock.advance(31)
    assert rig.engine.step() == 1
    rig.restart()
    rig.channel.sent.clear()  # type: ignore[union-attr]
    await rig.drain()
    assert sent_to(rig) == [G1, G2, CLINIC, DOCTOR]
    assert rig.store.get(a.id).round == 2  # type: ignore[union-attr]


async def test_a_message_cut_off_mid_send_is_sent_again(rig: Rig) -> None:
    rig.alert()
    m = rig.store.queue(rig.clock.now().timestamp())[0]
    rig.store.mark_sending(m.seq)  # handed to the modem, then the power went
    rig.restart()
    await rig.drain()
    assert sent_to(rig) == [G1, G2, CLINIC]


async def test_repeats_of_an_open_sos_join_it(rig: Rig) -> None:
    a = rig.alert()
    b = rig.alert()
    await rig.drain()
    assert len(rig.channel.sent) == 3  # type: ignore[union-attr]
    assert rig.store.get(b.id).id == a.id  # type: ignore[union-attr]
    assert rig.store.get(a.id).repeats == 1  # type: ignore[union-attr]
    rig.engine.acknowledge(b.id, by="doctor", via="kiosk")  # acknowledging the repeat acknowledges the alert
    assert rig.store.get(a.id).state == "acknowledged"  # type: ignore[union-attr]
    c = rig.alert()  # a new press after that is a new alert
    assert rig.store.get(c.id).id == c.id  # type: ignore[union-attr]


async def test_sos_goes_ahead_of_everything_else(rig: Rig) -> None:
    crisis = rig.alert(kind="bp_crisis", resident="r2")
    sos = rig.alert(kind="sos", resident="r1")
    await rig.drain()
    order = [to for to, _ in rig.channel.sent]  # type: ignore[union-attr]
    assert order[:3] == [G1, G2, CLINIC]  # the SOS first, though raised second
    assert rig.store.get(crisis.id).state == rig.store.get(sos.id).state == "notifying"  # type: ignore[union-attr]


async def test_non_urgent_alerts_wait_for_the_daily_digest(rig: Rig, clock: FakeClock) -> None:
    rig.alert(kind="low_battery", severity="warning")
    rig.alert(kind="low_battery", severity="warning")
    rig.alert(kind="signal_lost", severity="warning", resident="r2")
    await rig.drain()
    assert sent_to(rig) == []  # 16:21 local: past today's digest hour (8), so the digest goes now
    rig.engine.step()
    await rig.drain()
    assert sent_to(rig) == [DOCTOR]
    assert rig.channel.sent[0][1] == (  # type: ignore[union-attr]
        "健康小屋每日提醒（12月6日）：张桂英 设备电量低2次；李秀兰 定位信号中断1次。"
    )
    rig.alert(kind="low_battery", severity="warning")
    rig.engine.step()
    await rig.drain()
    assert len(rig.channel.sent) == 1  # type: ignore[union-attr]  # one digest a day
    clock.advance(86_400)
    rig.engine.step()
    await rig.drain()
    assert len(rig.channel.sent) == 2  # type: ignore[union-attr]


async def test_rate_limit_per_number_never_holds_back_a_first_urgent_round(
    tmp_path: Path, clock: FakeClock
) -> None:
    rig = Rig(tmp_path / "n.db", clock, RecordingChannel(), max_per_phone_per_hour=2)
    for _ in range(3):
        rig.engine.store.queue_messages(
            [NewMessage(CLINIC, "clinic", "test", 2, "t")], clock.now().timestamp()
        )
    await rig.drain()
    assert sent_to(rig) == [CLINIC, CLINIC]  # the third waits for the hour
    rig.alert()
    await rig.drain()
    assert sent_to(rig) == [CLINIC, CLINIC, G1, G2, CLINIC]  # the SOS round is never held back
    clock.advance(3601)
    await rig.drain()
    assert sent_to(rig)[-1] == CLINIC and len(sent_to(rig)) == 6


async def test_modem_trouble_keeps_the_queue_and_retries(rig: Rig, clock: FakeClock) -> None:
    rig.channel.fail = [ChannelError("+CMS ERROR: 500", temporary=True)]  # type: ignore[union-attr]
    rig.alert()
    assert await rig.engine.send_one()  # tried, failed, re-queued
    assert sent_to(rig) == []
    await rig.drain()
    assert sent_to(rig) == [G2, CLINIC]  # the others go meanwhile; G1 waits for its backoff
    clock.advance(10)
    await rig.drain()
    assert sent_to(rig) == [G2, CLINIC, G1]
    rig.channel.ready = False  # type: ignore[union-attr]  # no network: nothing is tried, nothing lost
    rig.alert(resident="r2")
    assert not await rig.engine.send_one()
    assert rig.store.queued_count() == 2


async def test_without_a_channel_the_ladder_still_runs_for_the_kiosk_and_county(
    tmp_path: Path, clock: FakeClock
) -> None:
    rig = Rig(tmp_path / "n.db", clock, None)
    a = rig.alert()
    await rig.drain()
    for _ in range(3):
        clock.advance(61)
        rig.engine.step()
    row = rig.store.get(a.id)
    assert row is not None and row.state == "unanswered"
    view = rig.engine.view(row, mask=True)
    assert view["recipients"][0] == {
        "who": "139****0001",
        "role": "guardian",
        "status": "no_channel",
        "sent_at": None,
    }


async def test_a_hut_fault_does_not_ring_a_family(rig: Rig) -> None:
    rig.alert(kind="buffer_overflow", resident=None, severity="critical")
    await rig.drain()
    assert sent_to(rig) == []
    assert rig.store.counts()["digest"] == 1


async def test_an_ack_while_a_message_is_with_the_modem(rig: Rig) -> None:
    a = rig.alert()
    first = rig.store.queue(rig.clock.now().timestamp())[0]
    rig.store.mark_sending(first.seq)  # G1's SMS is with the modem right now
    rig.engine.acknowledge(a.id, by="doctor", via="kiosk")
    # it cannot be called back: G1 will have it, so G1 is told who took the alert
    notices = [m for m in rig.store.messages(a.id) if m.purpose == "ack_notice"]
    assert [m.phone for m in notices] == [G1]
    rig.restart()  # the power went before the modem answered: the SMS is not sent again
    await rig.drain()
    assert sent_to(rig) == [G1]
    assert rig.store.message(first.seq).status == "cancelled"  # type: ignore[union-attr]
    assert rig.store.queued_count() == 0


async def test_the_county_acknowledges_with_a_signed_alert_ack_command(rig: Rig, tmp_path: Path) -> None:
    from gateway.commands import CommandHandler
    from gateway.geofence.store import ZoneStore
    from gateway.registry import Registry
    from uplink.contract import Command

    a = rig.alert()
    await rig.drain()
    registry = Registry(tmp_path / "registry.db")
    handler = CommandHandler(
        registry, ZoneStore.in_state_dir(tmp_path), gateway_id="hut-1", clock=rig.clock, alerts=rig.engine
    )

    def cmd(alert_id: str) -> Command:
        now = rig.clock.now()
        return Command.model_validate(
            {
                "schema": "hut.command/1",
                "id": f"c-{alert_id}",
                "gateway_id": "hut-1",
                "name": "alert.ack",
                "args": {"alert_id": alert_id, "by": "县急救中心"},
                "issued_at": now,
                "expires_at": now,
                "signature": "x",
            }
        )

    res = await handler(cmd(a.id))
    assert (
        res.status == "done" and res.result["outcome"] == "acknowledged" and res.result["ack_via"] == "county"
    )
    await rig.drain()
    assert {t for _, t in rig.channel.sent[3:]} == {"张桂英的紧急呼叫已由县平台（县急救中心）确认，谢谢。"}  # type: ignore[union-attr]
    again = await handler(cmd(a.id))
    assert again.status == "done" and again.result["outcome"] == "already"
    unknown = await handler(cmd("no-such-alert"))
    assert unknown.status == "failed" and "no alert" in (unknown.reason or "")
    registry.close()
