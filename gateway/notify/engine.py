"""The escalation ladder: an urgent alert goes to people at once and again until someone answers.

* Round 1, at once: every guardian of the resident and every clinic duty phone (``[notify] clinic``).
* No acknowledgement ``escalate_after_s`` after a round's last message went out: the next round, to
  everyone not yet answered plus ``[notify] escalation`` (village doctor, volunteers), up to
  ``max_rounds``. Then the alert is *unanswered* (on the uplink, on the kiosk) and the clinic is
  reminded every ``unanswered_repeat_s`` until someone acknowledges.
* Acknowledgement: an SMS reply starting with 1 / 收到 / 好 / ok from a number that was notified,
  the village doctor on the kiosk, the county's signed ``alert.ack`` command, or ``hutgw alerts ack``.
  The first wins; the others who were told get one short "已由 X 确认".
* Repeats of an open alert (a watch repeats its SOS) join it instead of starting a second ladder.
* Non-urgent alerts wait for the daily digest to the village doctor.

Every step is a transaction of :class:`gateway.notify.store.NotifyStore` that also records the
messages and uplink events it causes; three named tasks act on what is stored: ``notify-ladder``
(timers, digest), ``notify-sender`` (one message at a time, most urgent first, rate-limited per
number except a first urgent round) and ``notify-events`` (status events to the outbox), plus the
channel's own task. Nothing is kept only in memory.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from gateway.clock import Clock
from gateway.config import NotifyConfig
from gateway.notify import messages as msg
from gateway.notify.channel import Channel, ChannelError, OnReply
from gateway.notify.policy import (
    PRIORITY_ACK_NOTICE,
    PRIORITY_DIGEST,
    PRIORITY_REPLY,
    PRIORITY_TEST,
    PRIORITY_UNANSWERED,
    acker_label,
    is_ack_text,
    is_digest,
    is_urgent,
    mask_phone,
    phone_key,
    priority_of,
)
from gateway.notify.store import AlertRow, MessageRow, NewMessage, NotifyStore
from gateway.registry import ResidentEntry
from uplink.codec import Alert, AlertEvent, wire_time

log = logging.getLogger("hutgw.notify")

REPLY_ANSWER_EVERY_S = 3600.0
RETRY_INITIAL_S = 5.0
RETRY_MAX_S = 300.0
NON_URGENT_ATTEMPTS = 8
KEEP_FINISHED_S = 90 * 86_400.0
RECENT_ACK_S = 3600.0

Announce = Callable[[Mapping[str, Any]], object]


class AlertStatusSink(Protocol):
    """Where the engine's status events go: the recorder (:class:`gateway.recorder.Recorder`),
    which stores them on the outbox's ``alert_status`` stream for the uplink. Returns once they are
    durable; only then does the engine mark them emitted in ``notify.db`` (none is lost)."""

    async def alert_status(self, events: Sequence[tuple[str, bytes]]) -> None:
        """(event id, wire JSON) each."""
        ...


@dataclass(frozen=True, slots=True)
class AckResult:
    outcome: str  # "acknowledged" | "already" | "unknown"
    alert: AlertRow | None


def _iso(ts: float) -> str:
    """A Unix time as the wire writes times (``uplink.codec.wire_time``)."""
    return wire_time(datetime.fromtimestamp(ts, UTC))


def _phones(values: Sequence[str]) -> list[str]:
    """Guardians may be resident ids (a guardian who lives in the village): only numbers are texted."""
    out: list[str] = []
    for v in values:
        s = v.replace(" ", "").replace("-", "")
        if s.lstrip("+").isdigit() and len(s.lstrip("+")) >= 3:
            out.append(s)
    return out


class Escalation:
    """The engine (see the module docstring). ``channel`` None: no SMS (the ladder still runs, for
    the kiosk and the county)."""

    def __init__(
        self,
        store: NotifyStore,
        cfg: NotifyConfig,
        *,
        clock: Clock,
        resident: Callable[[str | None], ResidentEntry | None],
        channel: Channel | None = None,
        make_channel: Callable[[OnReply], Channel] | None = None,
        announce: Announce | None = None,
        logger: logging.Logger | None = None,
        rng: random.Random | None = None,
        texting: bool | None = None,
    ) -> None:
        """``texting``: queue SMS for people (default: when there is a channel). The CLI, which
        acts on the daemon's store without a channel of its own, passes whether the daemon has one.

        ``make_channel``, instead of ``channel``: builds a channel that hands the replies it
        receives to this engine (:meth:`on_reply`), such as the modem's; the engine calls it with
        its ``on_reply``, so that neither needs the other before it exists.

        The status events' sink is not a collaborator of the engine but of its ``notify-events``
        task: :meth:`run` takes it (the recorder that stores them wakes the uplink, and the uplink
        acknowledges alerts through this engine, so the engine is built before both)."""
        self.store = store
        self.cfg = cfg
        self.clock = clock
        self._resident = resident
        if channel is not None and make_channel is not None:
            raise ValueError("give channel or make_channel, not both")
        self.channel = make_channel(self.on_reply) if make_channel is not None else channel
        self.texting = self.channel is not None if texting is None else texting
        self._announce = announce
        self.log = logger or log
        self._rng = rng or random.Random()
        self._ladder_wake = asyncio.Event()
        self._send_wake = asyncio.Event()
        self._events_wake = asyncio.Event()
        self.counters: dict[str, int] = {
            "alerts": 0,
            "repeats_merged": 0,
            "sent": 0,
            "send_failures": 0,
            "acknowledged": 0,
            "unanswered": 0,
            "replies": 0,
            "replies_unmatched": 0,
            "rate_limited": 0,
        }
        self.last_send_error: str | None = None

    # ------------------------------------------------------------------ helpers

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _wake_all(self) -> None:
        self._ladder_wake.set()
        self._send_wake.set()
        self._events_wake.set()

    def _event(self, a: AlertRow, event: AlertEvent, now: float, **fields: Any) -> tuple[str, bytes]:
        e = a.status_event(event, now, **fields)  # the codec's AlertStatus
        return e.id, e.to_wire()

    def _facts(self, a: AlertRow) -> msg.AlertFacts:
        return msg.AlertFacts(
            kind=a.kind,
            name=a.resident_name or "居民",
            raised_at=datetime.fromtimestamp(a.raised_at, UTC),
            detail=a.detail,
        )

    def _ladder_message(
        self, a: AlertRow, phone: str, role: str, round_no: int, *, first: bool
    ) -> NewMessage:
        text = msg.urgent_text(
            self.cfg.templates,
            self._facts(a),
            tz=self.cfg.timezone,
            map_template=self.cfg.map_link,
            round_no=round_no,
        )
        return NewMessage(
            phone=phone,
            role=role,
            purpose="urgent" if round_no <= 1 else "reminder",
            priority=priority_of(a.kind),
            text=text,
            alert_id=a.id,
            round=round_no,
            exempt=first,
        )

    def _announce_alert(self, alert_id: str) -> None:
        if self._announce is None:
            return
        a = self.store.get(alert_id)
        if a is not None:
            self._announce(self.view(a))

    # ------------------------------------------------------------------ intake

    async def on_alerts(self, alerts: Sequence[Alert]) -> None:
        """Alerts the pipeline raised (already stored in the outbox). Never raises: a store
        problem is logged and the alert still travels to the county."""
        for alert in alerts:
            try:
                self.take(alert)
            except Exception:
                self.log.exception("alert %s could not be put on the notification ladder", alert.id)

    def take(self, alert: Alert) -> None:
        urgent = is_urgent(alert.kind, alert.severity, alert.resident_id)
        if not urgent and not is_digest(alert.kind, alert.severity, alert.resident_id):
            return
        now = self._now()
        if urgent:
            open_alert = self.store.open_for(alert.resident_id, alert.kind)
            if open_alert is not None:
                self.store.merge_repeat(open_alert.id, alert.id, now)
                self.counters["repeats_merged"] += 1
                self.log.info("alert %s joins the open alert %s (a repeat)", alert.id, open_alert.id)
                self._announce_alert(open_alert.id)
                return
        resident = self._resident(alert.resident_id)
        row = AlertRow(
            id=alert.id,
            kind=alert.kind,
            severity=alert.severity,
            resident_id=alert.resident_id,
            resident_name=resident.name if resident is not None else "",
            raised_at=alert.raised_at.timestamp(),
            detail=dict(alert.detail),
            urgent=urgent,
            state="notifying" if urgent else "digest",
            round=1 if urgent else 0,
            next_at=None,
            repeats=0,
            acked_by=None,
            acked_role=None,
            acked_at=None,
            ack_via=None,
        )
        recipients: list[tuple[str, str]] = []
        messages: list[NewMessage] = []
        events: list[tuple[str, bytes]] = []
        if urgent:
            guardians = _phones(resident.guardians if resident is not None else alert.notify)
            seen: set[str] = set()
            for phone, role in [
                *((g, "guardian") for g in guardians),
                *((c, "clinic") for c in self.cfg.clinic),
            ]:
                if phone_key(phone) not in seen:
                    seen.add(phone_key(phone))
                    recipients.append((phone, role))
            if self.texting:
                messages = [self._ladder_message(row, p, r, 1, first=True) for p, r in recipients]
            if not messages:  # nobody to text: the timer starts now
                row = replace(row, next_at=now + self.cfg.escalate_after_s)
            events.append(
                self._event(
                    row,
                    "round_started",
                    now,
                    to=[p for p, _ in recipients],
                    roles=[r for _, r in recipients],
                    channel=self.channel.name if self.channel is not None else None,
                )
            )
            if not recipients:
                self.log.warning(
                    "urgent alert %s (%s) has nobody to text: no guardian number and no [notify] clinic",
                    alert.id,
                    alert.kind,
                )
        if self.store.insert_alert(row, recipients=recipients, messages=messages, events=events, now=now):
            self.counters["alerts"] += 1
            if urgent:
                self.log.warning(
                    "urgent alert %s (%s): round 1 to %d numbers", alert.id, alert.kind, len(messages)
                )
        self._wake_all()
        self._announce_alert(row.id)

    async def on_reply(self, sender: str, text: str) -> None:
        """An SMS that arrived. Stored (acknowledgement, answer queued) before this returns."""
        self.counters["replies"] += 1
        key = phone_key(sender)
        now = self._now()
        if is_ack_text(text):
            a = self.store.open_alert_notified(key)
            if a is not None:
                self._acknowledge(a, by=sender, role=self.store.role_of(key), via="sms", now=now)
                return
        self.counters["replies_unmatched"] += 1
        self.log.info("an SMS reply matched no open alert; answered at most once an hour")
        self.log.debug("unmatched reply from %s: %r", sender, text)
        known = self.store.role_of(key) is not None or key in {phone_key(p) for p in self._configured()}
        if not (known or (len(key) == 11 and key.startswith("1"))):
            return  # service numbers (10086...) get no answer
        last = self.store.last_answer_at(key)
        if last is not None and now - last < REPLY_ANSWER_EVERY_S:
            return
        self.store.queue_messages(
            [
                NewMessage(
                    sender,
                    self.store.role_of(key) or "other",
                    "no_match",
                    PRIORITY_REPLY,
                    msg.render(self.cfg.templates["no_match"]),
                )
            ],
            now,
            answered=key,
        )
        self._send_wake.set()

    def _configured(self) -> list[str]:
        return [*self.cfg.clinic, *self.cfg.escalation, *(self.cfg.digest_to or [])]

    def acknowledge(self, alert_id: str, *, by: str, via: str) -> AckResult:
        """The kiosk (via="kiosk"), the county (via="county") or the CLI (via="cli")."""
        a = self.store.get(alert_id)
        if a is None:
            return AckResult("unknown", None)
        if a.state not in ("notifying", "unanswered"):
            return AckResult("already", a)
        ok = self._acknowledge(a, by=by, role=None, via=via, now=self._now())
        return AckResult("acknowledged" if ok else "already", self.store.get(a.id))

    def _acknowledge(self, a: AlertRow, *, by: str, role: str | None, via: str, now: float) -> bool:
        label = acker_label(role, by if via == "sms" else None, via, by)
        notices: list[NewMessage] = []
        if self.cfg.notify_others_on_ack and self.texting:
            told: dict[str, tuple[str, str]] = {}
            for m in self.store.messages(a.id):
                if m.status in ("sent", "sending") and m.purpose in ("urgent", "reminder", "unanswered"):
                    told.setdefault(m.phone_key, (m.phone, m.role))
            told.pop(phone_key(by), None)
            text = msg.acknowledged_text(self.cfg.templates, self._facts(a), by=label)
            notices = [
                NewMessage(
                    phone, role_, "ack_notice", PRIORITY_ACK_NOTICE, text, alert_id=a.id, round=a.round
                )
                for phone, role_ in told.values()
            ]
        event = self._event(
            a,
            "acknowledged",
            now,
            state="acknowledged",
            by=by,
            by_label=label,
            role=role,
            via=via,
            channel="sms" if via == "sms" else via,
        )
        ok = self.store.acknowledge(a.id, by=by, role=role, via=via, now=now, notices=notices, events=[event])
        if ok:
            self.counters["acknowledged"] += 1
            self.log.warning("alert %s acknowledged via %s; rounds stopped", a.id, via)
            self._wake_all()
            self._announce_alert(a.id)
        return ok

    def queue_test(self, phone: str) -> int:
        """``hutgw notify test``: one message, queued like any other (its ``seq``)."""
        now = self._now()
        text = msg.render(
            self.cfg.templates["test"], time=msg.local_time(self.clock.now(), self.cfg.timezone)
        )
        (seq,) = self.store.queue_messages([NewMessage(phone, "other", "test", PRIORITY_TEST, text)], now)
        self._send_wake.set()
        return seq

    # ------------------------------------------------------------------ the ladder

    def step(self) -> int:
        """Timers due now: next rounds, unanswered, reminders, the digest. Returns steps taken."""
        now = self._now()
        steps = 0
        for a in self.store.due(now):
            steps += self._step(a, now)
        steps += self._digest_if_due(now)
        if steps:
            self._send_wake.set()
            self._events_wake.set()
        return steps

    def _step(self, a: AlertRow, now: float) -> int:
        cfg = self.cfg
        if a.state == "notifying" and a.round < cfg.max_rounds:
            nxt = a.round + 1
            recipients = self.store.recipients(a.id)
            added = [] if a.round > 1 else [(p, "escalation") for p in cfg.escalation]
            keys = {phone_key(p) for p, _ in recipients}
            added = [(p, r) for p, r in added if phone_key(p) not in keys]
            everyone = [*recipients, *added]
            waiting = {m.phone_key for m in self.store.messages(a.id) if m.status in ("queued", "sending")}
            messages = (
                [
                    self._ladder_message(a, p, r, nxt, first=False)
                    for p, r in everyone
                    if phone_key(p) not in waiting
                ]
                if self.texting
                else []
            )
            next_at = None if messages else now + cfg.escalate_after_s
            event = self._event(
                a,
                "round_started",
                now,
                round=nxt,
                to=[p for p, _ in everyone],
                roles=[r for _, r in everyone],
            )
            if self.store.advance(
                a.id,
                expect_state=a.state,
                expect_round=a.round,
                state="notifying",
                round_no=nxt,
                next_at=next_at,
                recipients=added,
                messages=messages,
                events=[event],
                now=now,
            ):
                self.log.warning(
                    "alert %s not acknowledged: round %d to %d numbers", a.id, nxt, len(messages)
                )
                self._announce_alert(a.id)
                return 1
            return 0
        # past the last round: unanswered, and the clinic is reminded until someone answers
        first = a.state == "notifying"
        told = {phone_key(m.phone) for m in self.store.messages(a.id) if m.status == "sent"}
        targets = [(p, "clinic") for p in cfg.clinic] or [(p, r) for p, r in self.store.recipients(a.id)]
        messages = (
            [
                NewMessage(
                    p,
                    r,
                    "unanswered",
                    PRIORITY_UNANSWERED,
                    msg.unanswered_text(
                        cfg.templates, self._facts(a), tz=cfg.timezone, count=max(1, len(told))
                    ),
                    alert_id=a.id,
                    round=a.round,
                )
                for p, r in targets
            ]
            if self.texting
            else []
        )
        event = self._event(
            a, "unanswered" if first else "reminded", now, state="unanswered", to=[p for p, _ in targets]
        )
        if self.store.advance(
            a.id,
            expect_state=a.state,
            expect_round=a.round,
            state="unanswered",
            round_no=a.round,
            next_at=now + cfg.unanswered_repeat_s,
            messages=messages,
            events=[event],
            now=now,
        ):
            if first:
                self.counters["unanswered"] += 1
                self.log.error("alert %s UNANSWERED after %d rounds: reminding the clinic", a.id, a.round)
            self._announce_alert(a.id)
            return 1
        return 0

    def _digest_if_due(self, now: float) -> int:
        to = self.cfg.digest_to if self.cfg.digest_to is not None else self.cfg.escalation
        local = datetime.fromtimestamp(now, ZoneInfo(self.cfg.timezone))
        day = local.date().isoformat()
        if local.hour < self.cfg.digest_hour or self.store.meta("digest_day") == day:
            return 0
        pending = self.store.digest_alerts()
        if not pending:
            return 0
        counts: dict[tuple[str, str], int] = {}
        for a in pending:
            k = (a.resident_name, a.kind)
            counts[k] = counts.get(k, 0) + 1
        text = msg.digest_text(
            self.cfg.templates, f"{local.month}月{local.day}日", [(n, k, c) for (n, k), c in counts.items()]
        )
        messages = (
            [NewMessage(p, "digest", "digest", PRIORITY_DIGEST, text) for p in to] if self.texting else []
        )
        self.store.digested([a.id for a in pending], messages, day=day, now=now)
        self.log.info("daily digest: %d alerts to %d numbers", len(pending), len(messages))
        return 1

    # ------------------------------------------------------------------ sending

    def _pick(self, now: float) -> MessageRow | None:
        limit = self.cfg.max_per_phone_per_hour
        for m in self.store.queue(now):
            if m.exempt:
                return m
            sent = self.store.sent_since(m.phone_key, now - 3600.0)
            if len(sent) < limit:
                return m
            self.counters["rate_limited"] += 1
            until = sent[len(sent) - limit] + 3600.0
            self.log.info(
                "message %d held back: %d messages to that number in the last hour", m.seq, len(sent)
            )
            self.store.defer(m.seq, until)
        return None

    async def send_one(self) -> bool:
        """Send the most urgent message that may go now; False when none may."""
        if self.channel is None or not self.channel.ready:
            return False
        now = self._now()
        m = self._pick(now)
        if m is None:
            return False
        a = self.store.get(m.alert_id) if m.alert_id else None
        if (
            a is not None
            and a.state not in ("notifying", "unanswered")
            and m.purpose in ("urgent", "reminder", "unanswered")
        ):
            self.store.cancel(m.seq, "acknowledged")  # cut off mid-send, then acknowledged
            return True
        self.store.mark_sending(m.seq)
        round_done = (
            (a.id, m.round, self._now() + self.cfg.escalate_after_s)
            if a is not None and m.purpose in ("urgent", "reminder")
            else None
        )
        try:
            await asyncio.wait_for(self.channel.send(m.phone, m.text), self.cfg.send_timeout_s + 5.0)
        except (ChannelError, TimeoutError) as e:
            temporary = isinstance(e, TimeoutError) or getattr(e, "temporary", True)
            reason = str(e) or "timed out"
            self.last_send_error = reason
            self.counters["send_failures"] += 1
            ladder = m.purpose in ("urgent", "reminder", "unanswered")
            if temporary and (ladder or m.attempts + 1 < NON_URGENT_ATTEMPTS):
                delay = min(RETRY_MAX_S, RETRY_INITIAL_S * 2 ** min(m.attempts, 10))
                self.store.mark_retry(
                    m.seq, error=reason, next_try_at=self._now() + delay * self._rng.uniform(0.5, 1.0)
                )
                self.log.warning("SMS not sent (%s); trying again", reason)
            else:
                now = self._now()
                events = (
                    [
                        self._event(
                            a, "failed", now, to=m.phone, role=m.role, channel=self.channel.name, error=reason
                        )
                    ]
                    if a is not None and ladder
                    else []
                )
                if round_done is not None:
                    round_done = (round_done[0], round_done[1], now + self.cfg.escalate_after_s)
                self.store.mark_failed(m.seq, error=reason, events=events, round_done=round_done)
                self.log.error("SMS to a %s number failed for good: %s", m.role, reason)
            return True
        now = self._now()
        self.counters["sent"] += 1
        self.last_send_error = None
        events = (
            [
                self._event(
                    a,
                    "notified",
                    now,
                    to=m.phone,
                    role=m.role,
                    channel=self.channel.name,
                    purpose=m.purpose,
                    message_round=m.round,
                )
            ]
            if a is not None
            else []
        )
        if round_done is not None:
            round_done = (round_done[0], round_done[1], now + self.cfg.escalate_after_s)
        self.store.mark_sent(m.seq, now=now, events=events, round_done=round_done)
        self.log.info("SMS %s sent to a %s number", m.purpose, m.role)
        if a is not None:
            self._announce_alert(a.id)
        self._events_wake.set()
        self._ladder_wake.set()
        return True

    # ------------------------------------------------------------------ events

    async def emit_pending(self, status: AlertStatusSink | None) -> int:
        """Owed status events to ``status``; without a sink (FHIR over HTTP maps alerts only, not
        their notification steps) they are dropped here, the state itself stays in notify.db."""
        batch = self.store.pending_events()
        if not batch:
            return 0
        if status is not None:
            await status.alert_status([(eid, payload) for _, eid, payload in batch])
        self.store.events_emitted([seq for seq, _, _ in batch])
        return len(batch)

    # ------------------------------------------------------------------ tasks

    async def _wait(self, event: asyncio.Event, stop: asyncio.Event, wait_s: float) -> None:
        if stop.is_set():
            return
        stopper = asyncio.ensure_future(stop.wait())
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait(
                {stopper, waiter}, timeout=max(0.01, wait_s), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopper.cancel()
            waiter.cancel()
        event.clear()

    async def _ladder(self, stop: asyncio.Event) -> None:
        pruned_at = 0.0
        while not stop.is_set():
            try:
                self.step()
                now = self._now()
                if now - pruned_at > 3600.0:
                    pruned_at = now
                    self.store.prune(now - KEEP_FINISHED_S)
                nxt = self.store.next_due_at()
            except Exception:
                self.log.exception("notification ladder step failed; retrying")
                nxt = None
            wait = 1.0 if nxt is None else min(1.0, max(0.0, nxt - self._now()))
            await self._wait(self._ladder_wake, stop, wait)

    async def _sender(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.send_one()
            except Exception:
                self.log.exception("notification sender failed; retrying")
                sent = False
            if not sent:
                nxt = self.store.next_try_at()
                wait = 2.0 if nxt is None else min(2.0, max(0.05, nxt - self._now()))
                await self._wait(self._send_wake, stop, wait)

    async def _events(self, stop: asyncio.Event, status: AlertStatusSink | None) -> None:
        while not stop.is_set():
            try:
                n = await asyncio.wait_for(self.emit_pending(status), 30.0)
            except Exception:
                self.log.exception("alert status events could not be stored for the uplink; retrying")
                n = 0
            if not n:
                await self._wait(self._events_wake, stop, 1.0)

    async def run(self, stop: asyncio.Event, *, status: AlertStatusSink | None = None) -> None:
        """The engine's tasks, until ``stop``; ``notify-events`` hands the status events to
        ``status`` (None: they are not sent anywhere, see :meth:`emit_pending`)."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._ladder(stop), name="notify-ladder")
            tg.create_task(self._sender(stop), name="notify-sender")
            tg.create_task(self._events(stop, status), name="notify-events")
            if self.channel is not None:
                tg.create_task(self.channel.run(stop), name=f"notify-{self.channel.name}")

    # ------------------------------------------------------------------ views

    def view(self, a: AlertRow, *, mask: bool = False) -> dict[str, Any]:
        """One alert as the API, the CLI and the kiosk show it."""
        msgs = self.store.messages(a.id)
        by_key: dict[str, dict[str, Any]] = {}
        for phone, role in self.store.recipients(a.id):
            by_key[phone_key(phone)] = {
                "who": mask_phone(phone) if mask else phone,
                "role": role,
                "status": "queued",
                "sent_at": None,
            }
        for m in msgs:
            if m.purpose not in ("urgent", "reminder", "unanswered"):
                continue
            r = by_key.setdefault(
                m.phone_key,
                {
                    "who": mask_phone(m.phone) if mask else m.phone,
                    "role": m.role,
                    "status": "queued",
                    "sent_at": None,
                },
            )
            if m.status == "sent":
                r["status"], r["sent_at"] = "sent", _iso(m.sent_at or 0.0)
            elif m.status == "failed" and r["status"] != "sent":
                r["status"] = "failed"
        if not self.texting:
            for r in by_key.values():
                if r["status"] == "queued":
                    r["status"] = "no_channel"
        if a.state == "acknowledged" and a.ack_via == "sms" and a.acked_by:
            key = phone_key(a.acked_by)
            if key in by_key:
                by_key[key]["status"] = "acknowledged"
        acked_by = a.acked_by
        if mask and a.ack_via == "sms" and acked_by:
            acked_by = mask_phone(acked_by)
        return {
            "id": a.id,
            "kind": a.kind,
            "severity": a.severity,
            "resident_id": a.resident_id,
            "resident_name": a.resident_name,
            "raised_at": _iso(a.raised_at),
            "state": a.state,
            "round": a.round,
            "repeats": a.repeats,
            "recipients": list(by_key.values()),
            "acknowledged_by": acked_by,
            "acknowledged_label": acker_label(a.acked_role, a.acked_by, a.ack_via, a.acked_by)
            if a.ack_via and a.acked_by
            else None,
            "acknowledged_at": _iso(a.acked_at) if a.acked_at else None,
            "ack_via": a.ack_via,
        }

    def views(self, *, open_only: bool = False, mask: bool = False) -> list[dict[str, Any]]:
        if open_only:
            rows = [
                a
                for a in self.store.alerts(since=self._now() - RECENT_ACK_S)
                if a.urgent and (a.state != "acknowledged" or (a.acked_at or 0) >= self._now() - RECENT_ACK_S)
            ]
        else:
            rows = self.store.alerts()
        return [self.view(a, mask=mask) for a in rows]

    def status(self) -> dict[str, Any]:
        counts = self.store.counts()
        return {
            "channel": self.channel.status() if self.channel is not None else None,
            "queued_messages": self.store.queued_count(),
            "open": counts.get("notifying", 0),
            "unanswered": counts.get("unanswered", 0),
            "last_send_error": self.last_send_error,
            **{f"count_{k}": v for k, v in self.counters.items()},
        }
