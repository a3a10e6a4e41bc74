"""The end of the data path: readings and alerts made durable and announced.

Intake (:mod:`gateway.intake`) → assembly (:mod:`gateway.assembly`) → pipeline
(:mod:`gateway.pipeline`) → :class:`Recorder`: alerts go to the escalation engine first (phones
ring without waiting for a disk), then the records to the outbox, then the events to the kiosk
and the uplink is woken.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from buffer.ports import Queue, RecordLog
from buffer.record import Lane, Record
from gateway.events import EventBus
from gateway.kinds import LANES
from gateway.pipeline import Pipeline
from gateway.reattribution import Reattribution
from uplink.codec import Alert, Reading


def reading_record(r: Reading) -> Record:
    return Record(
        id=r.id, stream="readings", lane=LANES[r.kind], kind=r.kind, payload=r.to_wire(), key=r.resident_id
    )


def alert_record(a: Alert) -> Record:
    return Record(
        id=a.id, stream="alerts", lane=Lane.ALERTS, kind=a.kind, payload=a.to_wire(), key=a.resident_id
    )


class Recorder:
    """Stores readings, alerts and alert-status events in the outbox and announces them.

    ``queue``: the outbox's queue (records for the uplink); ``records``: its record log (the
    readings as stored, which re-attribution reads and revises).
    ``on_alerts``: the escalation engine's intake (``gateway.notify``), called with every alert
    before it is written to the outbox. ``wake``: the uplink's (drain now), or None when there is
    no uplink. Revisions (re-attribution, re-timing) go through :attr:`reattribution`, which
    announces the revised reading here.

    It is also the escalation engine's status sink (``gateway.notify.engine.AlertStatusSink``,
    :meth:`alert_status`), handed to the engine's task by the daemon: the engine is built first
    (the uplink acknowledges alerts through it), so neither holds the other at construction.
    """

    def __init__(
        self,
        queue: Queue,
        records: RecordLog,
        events: EventBus,
        pipeline: Pipeline,
        *,
        on_alerts: Callable[[Sequence[Alert]], Awaitable[None]] | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.queue = queue
        self.events = events
        self._on_alerts = on_alerts
        self._wake = wake
        self.reattribution = Reattribution(records, pipeline, on_revised=self._revised)

    async def reading(self, reading: Reading, alerts: Sequence[Alert], *, acknowledged: bool = False) -> None:
        """A reading and its alerts, committed (fsynced when ``acknowledged``), then announced."""
        if alerts and self._on_alerts is not None:
            await self._on_alerts(alerts)
        records = [reading_record(reading), *(alert_record(a) for a in alerts)]
        await self.queue.put_many(records, durable=True if acknowledged else None)
        self.events.publish("reading", reading_event(reading))
        for a in alerts:
            self.events.publish("alert", alert_event(a))
        self.wake()

    async def alerts(self, alerts: Iterable[Alert]) -> None:
        batch = list(alerts)
        if not batch:
            return
        if self._on_alerts is not None:
            await self._on_alerts(batch)
        await self.queue.put_many([alert_record(a) for a in batch])
        for a in batch:
            self.events.publish("alert", alert_event(a))
        self.wake()

    async def alert_status(self, events: Sequence[tuple[str, bytes]]) -> None:
        """Alert-status events (``gateway.notify``) for the uplink: (event id, JSON) each; fsynced
        before it returns (the engine then marks them emitted)."""
        await self.queue.put_many(
            [
                Record(id=eid, stream="alert_status", lane=Lane.ALERTS, kind="alert_status", payload=payload)
                for eid, payload in events
            ],
            durable=True,
        )
        self.wake()

    def _revised(self, reading: Reading) -> None:
        self.events.publish("reading", reading_event(reading))
        self.wake()

    def wake(self) -> None:
        if self._wake is not None:
            self._wake()


def reading_event(r: Reading) -> Mapping[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "resident_id": r.resident_id,
        "attribution": r.attribution,
        "device": r.device.id,
        "effective_at": r.effective_at.isoformat(),
        "values": {k: {"value": v.value, "unit": v.unit} for k, v in r.values.items()},
        "flags": list(r.flags),
        "classification": None if r.classification is None else r.classification.to_wire_dict(),
        "revision": r.revision,
    }


def alert_event(a: Alert) -> Mapping[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "severity": a.severity,
        "resident_id": a.resident_id,
        "message": a.message,
        "raised_at": a.raised_at.isoformat(),
    }
