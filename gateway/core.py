"""The running core: turns frames and API input into durable records, alerts and events.

The daemon (:mod:`gateway.daemon`) builds the parts (registry view, pipeline, recorder,
counters, fence monitor) and one :class:`Gateway` over them, and hands it to the transports (as
their :class:`drivers.source.FrameSink`). The local API never sees it: it gets narrow ports
(:mod:`gateway.api.ports`), one of which is :meth:`Gateway.submit`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from buffer.record import Lane
from drivers import events as device_events
from drivers.frames import RawFrame
from drivers.measurement import Measurement
from drivers.source import LinkEvent
from gateway.assembly import Assembly
from gateway.clock import Clock
from gateway.events import EventBus
from gateway.intake import Counters, Intake, find_device
from gateway.kinds import LANES
from gateway.pipeline import Pipeline, Processed
from gateway.quarantine import Quarantine
from gateway.recorder import Recorder
from gateway.registry import DeviceEntry, RegistrySnapshot, RegistryView
from uplink.codec import Alert

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
    """What the daemon needs of an uplink (MQTT ``uplink.client.Uplink`` or FHIR over HTTP): it
    enters it, the recorder wakes it, the API and the health check read its state."""

    @property
    def state(self) -> UplinkState: ...

    @property
    def running(self) -> bool: ...

    def wake(self) -> None: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> Any: ...


class Gateway:
    """The frame sink and the core's periodic work (intake → assembly → pipeline → recorder),
    over parts the daemon made; it holds nothing for the API or the daemon's other parts."""

    def __init__(
        self,
        *,
        clock: Clock,
        registry: RegistryView,
        pipeline: Pipeline,
        recorder: Recorder,
        events: EventBus,
        counters: Counters,
        quarantine: Quarantine,
        fences: FenceMonitor | None = None,
        logger: logging.Logger | None = None,
        max_unsynced: int = MAX_UNSYNCED,
    ) -> None:
        """``registry``: the daemon's :class:`RegistryView` (shared with the pipeline, the alerts
        and the escalation engine). ``recorder``: stores and announces what the core accepted
        (it hands alerts to the escalation engine first and wakes the uplink). ``counters``: the
        intake's, shared with the API and the uplink's status."""
        self.clock = clock
        self.view = registry
        self.pipeline = pipeline
        self.recorder = recorder
        self.events = events
        self.counters = counters
        self.fences = fences
        self.log = logger or log
        self.intake = Intake(self.device_for, quarantine, counters, self.log)
        self.assembly = Assembly(clock.monotonic, counters, self.log)
        self._last_cuff: dict[str, float] = {}
        self._fences_generation = registry.generation
        self._unsynced: dict[str, None] = {}  # reading ids in arrival order (at most max_unsynced)
        self._max_unsynced = max_unsynced

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
        return find_device(self.snapshot(), source)

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
            fixed = await self.recorder.reattribution.retime(
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
            if ev.kind == device_events.CUFF_PRESSURE:
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
