"""The running core: turns frames and API input into durable records, alerts and events.

The daemon (:mod:`gateway.daemon`) builds one :class:`Gateway` and hands it to the
transports (as their :class:`drivers.source.FrameSink`) and to the local API.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from buffer.outbox import Outbox
from buffer.ports import RecordLog
from buffer.record import Lane
from drivers.frames import RawFrame
from drivers.measurement import Measurement
from drivers.source import LinkEvent
from gateway.alerts import AlertManager
from gateway.assembly import Assembly
from gateway.clock import Clock
from gateway.events import EventBus
from gateway.intake import Counters, Intake
from gateway.kinds import LANES
from gateway.pipeline import Pipeline, Processed
from gateway.quarantine import Quarantine
from gateway.recorder import Recorder
from gateway.registry import DeviceEntry, Registry, RegistrySnapshot, RegistryView
from gateway.sessions import KioskSessions
from uplink.codec import Alert, Reading

if TYPE_CHECKING:
    from gateway.fences import FenceMonitor
    from uplink.client import UplinkState

log = logging.getLogger("hutgw.core")

#: Clinical readings (blood pressure, weight, body composition) stored while the clock was not
#: synchronised are remembered so they can be re-timed once it is: bounded, because a hut may stay
#: offline without a clock for days. High-rate telemetry (heart-rate streams, positions) is not
#: re-timed: it keeps its `gateway_clock_synced: false` mark and its monotonic reference and boot
#: id, from which the county can place it if it needs to.
MAX_UNSYNCED = 10_000

#: Cuff pressure after this long a pause means a new measurement has started.
MEASUREMENT_GAP_S = 10.0


class UplinkPort(Protocol):
    """What the core needs of an uplink (MQTT ``uplink.client.Uplink`` or FHIR over HTTP)."""

    @property
    def state(self) -> UplinkState: ...

    @property
    def running(self) -> bool: ...

    def wake(self) -> None: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> Any: ...


class Gateway:
    """Everything the transports and the API need, wired once by the daemon."""

    def __init__(
        self,
        *,
        gateway_id: str,
        clock: Clock,
        outbox: Outbox,
        registry: Registry | RegistryView,
        pipeline: Pipeline,
        sessions: KioskSessions,
        alerts: AlertManager,
        events: EventBus,
        quarantine: Quarantine,
        logger: logging.Logger | None = None,
        max_unsynced: int = MAX_UNSYNCED,
        on_alerts: Callable[[Sequence[Alert]], Awaitable[None]] | None = None,
        uplink: UplinkPort | None = None,
        fences: FenceMonitor | None = None,
        health_check: Callable[[], str | None] | None = None,
    ) -> None:
        """``registry``: the daemon's :class:`RegistryView` (shared with the pipeline, the alerts
        and the escalation engine), or a bare registry for which one is made.

        ``on_alerts``: the escalation engine's intake (``gateway.notify``), called with every
        alert before it is written to the outbox, so that phones ring without waiting for a disk.
        ``uplink``: woken when records are stored, its state shown by the API (None: buffered only).
        ``health_check``: the daemon's (None = healthy)."""
        view = registry if isinstance(registry, RegistryView) else RegistryView(registry, logger or log)
        self.gateway_id = gateway_id
        self.clock = clock
        self.outbox = outbox
        self.records: RecordLog = outbox.records  # the readings as stored (history, revisions)
        self.view = view
        self.registry = view.registry
        self.pipeline = pipeline
        self.sessions = sessions
        self.alerts = alerts
        self.events = events
        self.quarantine = quarantine
        self.log = logger or log
        self.recorder = Recorder(
            outbox, events, pipeline, on_alerts=on_alerts, wake=None if uplink is None else uplink.wake
        )
        self.reattribution = self.recorder.reattribution
        self.counters = Counters()
        self.intake = Intake(self.device_for, quarantine, self.counters, self.log)
        self.devices = self.intake.devices  # link status per device (the API's device view)
        self.assembly = Assembly(clock.monotonic, self.counters, self.log)
        self.uplink = uplink
        self.fences = fences
        self.health_check = health_check
        self._last_cuff: dict[str, float] = {}
        self._fences_generation = view.generation
        self._unsynced: dict[str, None] = {}  # reading ids in arrival order (at most max_unsynced)
        self._max_unsynced = max_unsynced
        self.started_at = clock.now()

    # -- registry -----------------------------------------------------------------------
    def snapshot(self) -> RegistrySnapshot:
        """The registry as of now; reloaded when a technician changed it (no restart)."""
        snap = self.view.snapshot()
        self._current_fences()
        return snap

    def _current_fences(self) -> FenceMonitor | None:
        """The fence monitor, its zones swapped in again if the registry was reloaded since."""
        if self.fences is not None and self._fences_generation != self.view.generation:
            self._fences_generation = self.view.generation
            self.fences.reload()
        return self.fences

    def device_for(self, source: str) -> DeviceEntry | None:
        snap = self.snapshot()
        return snap.device(source) or snap.device_at(source)

    # -- intake -------------------------------------------------------------------------
    async def submit(self, processed: Processed, *, acknowledged: bool = False) -> None:
        """Persist a reading and its alerts (the pipeline's and the fences'), then announce them.

        Returns once the records are committed; fsynced first (proof against a power cut) when
        ``acknowledged`` (the caller is about to tell someone the reading is safe: an HTTP 201, a
        device reply) or when they are alerts or clinical readings; telemetry nobody was told about
        is fsynced within the outbox's ``unsynced_max_s``.
        """
        alerts = list(processed.alerts)
        fences = self._current_fences()
        if fences is not None:
            alerts += fences.on_reading(processed.reading)
        r = processed.reading
        await self.recorder.reading(r, alerts, acknowledged=acknowledged)
        self.counters.readings[r.kind] += 1
        if not r.gateway_clock_synced and LANES[r.kind] == Lane.CLINICAL:
            self._remember_unsynced(r.id)

    async def submit_alerts(self, alerts: Iterable[Alert]) -> None:
        await self.recorder.alerts(alerts)

    async def submit_alert_status(self, events: Sequence[tuple[str, bytes]]) -> None:
        """Alert-status events (``gateway.notify``) for the uplink: (event id, JSON) each."""
        await self.recorder.alert_status(events)

    async def revise(self, reading: Reading) -> None:
        await self.recorder.revise(reading)

    async def tick(self) -> None:
        """Periodic work: merged records due, fence signal checks, re-timing once the clock is synced.

        (Idle kiosk sessions are ended by the kiosk API's own watcher, which announces them.)
        """
        await self._release_merged()
        fences = self._current_fences()
        if fences is not None:
            await self.submit_alerts(fences.tick(self.clock.now()))
        if self._unsynced and self.clock.synced():
            await self._correct_unsynced()

    def _remember_unsynced(self, reading_id: str) -> None:
        if len(self._unsynced) >= self._max_unsynced:
            oldest = next(iter(self._unsynced))
            del self._unsynced[oldest]
            self.counters.unsynced_forgotten += 1
            if self.counters.unsynced_forgotten == 1:
                self.log.warning(
                    "clock not synchronised for %d readings: the oldest keep their device time "
                    "and the unsynchronised flag (not re-timed later)",
                    self._max_unsynced,
                )
        self._unsynced[reading_id] = None

    async def _correct_unsynced(self) -> None:
        corrector = self.pipeline.corrector()
        for reading_id in sorted(self._unsynced):
            fixed = await self.reattribution.retime(
                reading_id, corrector, on_read=functools.partial(self._unsynced.pop, reading_id, None)
            )
            if fixed is not None:
                self.log.info("reading %s re-timed now that the clock is synchronised", reading_id)

    # -- FrameSink ----------------------------------------------------------------------
    async def frame(self, raw: RawFrame) -> bytes | None:
        """Intake (lookup, device status, decode, quarantine) → assembly (merge, dedup) → pipeline
        → recorder; device events become alerts, a cuff's pressure while it inflates a kiosk event."""
        accepted = self.intake.frame(raw)
        if accepted is None:
            return None
        device, decoded = accepted.device, accepted.decoded
        if device is None:
            return decoded.reply
        for ev in decoded.events:
            if ev.kind == "cuff_pressure":
                self._cuff_pressure(device, ev.detail)
                continue
            await self.submit_alerts(self.pipeline.from_event(ev, device=device, frame=raw))
        if decoded.measurements:
            frame, ready = self.assembly.push(device, raw, decoded.measurements)
            await self._accept(device, frame, ready, acknowledged=decoded.reply is not None)
        return decoded.reply

    def _cuff_pressure(self, device: DeviceEntry, detail: Mapping[str, Any]) -> None:
        now = self.clock.monotonic()
        if now - self._last_cuff.get(device.id, float("-inf")) > MEASUREMENT_GAP_S:
            self.events.publish("measurement_started", {"device": device.id})
        self._last_cuff[device.id] = now
        self.events.publish("cuff_pressure", {"device": device.id, **dict(detail)})

    async def _accept(
        self,
        device: DeviceEntry,
        frame: RawFrame | None,
        ready: list[Measurement],
        *,
        acknowledged: bool = False,
    ) -> None:
        """Store assembled measurements, except stored readings a device re-sent."""
        if not ready or frame is None:
            return
        for m in self.assembly.fresh(device.id, ready):
            await self.submit(
                self.pipeline.from_measurement(m, device=device, frame=frame), acknowledged=acknowledged
            )

    async def _release_merged(self) -> None:
        for device, frame, ready in self.assembly.released(
            lambda device_id: self.snapshot().device(device_id)
        ):
            await self._accept(device, frame, ready)

    def link(self, event: LinkEvent) -> None:
        device = self.device_for(event.source)
        if device is not None and event.state == "disconnected":
            self.assembly.disconnected(device.id)
        tag = self.intake.link(event, device)
        self.log.info("[%s] link %s %s", tag, event.state, event.detail)
        self.events.publish("device", {"device": tag, "state": event.state, "detail": event.detail})

    # -- views --------------------------------------------------------------------------
    def device_view(self) -> list[dict[str, Any]]:
        return self.intake.device_view()
