"""What the local API's handlers need of the running gateway: one narrow port per application key.

The daemon makes the ports once, from the parts it built (:class:`ApiPorts`), and
:func:`gateway.api.app.build_app` puts each under its key; a handler reads only the keys it
needs (``request.app[SESSIONS]``), never the core (:class:`gateway.core.Gateway`). The keys live
here, not in ``app.py``, which imports every route module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from buffer.ports import RecordLog
from buffer.results import OutboxStats
from gateway.clinical import ClinicalSettings
from gateway.clock import Clock
from gateway.config import ApiConfig
from gateway.events import EventBus
from gateway.intake import Counters, DeviceStatus
from gateway.pipeline import Processed
from gateway.reattribution import Reattribution
from gateway.registry import RegistrySnapshot
from gateway.sessions import KioskSessions

if TYPE_CHECKING:
    from gateway.fences import FenceMonitor
    from uplink.client import UplinkState


class ManualReadings(Protocol):
    """Turns a reading typed in by hand into a processed reading (the pipeline)."""

    def from_manual(
        self,
        kind: str,
        values: Mapping[str, Any],
        *,
        resident_id: str | None,
        measured_at: datetime | None,
        device_id: str = ...,
        entered_by: str = ...,
    ) -> Processed: ...


class ReadingSink(Protocol):
    """Stores a processed reading and its alerts (the core); returns once it is durable when
    ``acknowledged``."""

    async def submit(self, processed: Processed, *, acknowledged: bool = False) -> None: ...


class Residents(Protocol):
    """The registry as of now (the daemon's :class:`gateway.registry.RegistryView`)."""

    def snapshot(self) -> RegistrySnapshot: ...


class OutboxStatsSource(Protocol):
    """The outbox's depth, age and disk use (its queue)."""

    async def stats(self) -> OutboxStats: ...


class DeviceLinks(Protocol):
    """Each device's link status as the intake keeps it."""

    @property
    def devices(self) -> Mapping[str, DeviceStatus]: ...

    def device_view(self) -> list[dict[str, Any]]: ...


class Quarantined(Protocol):
    """How many undecodable frames were kept."""

    @property
    def count(self) -> int: ...


class AlertStats(Protocol):
    """Alerts raised and repeats suppressed, per kind (the alert manager)."""

    def stats(self) -> dict[str, Any]: ...


class UplinkView(Protocol):
    """The uplink's state, read-only (MQTT or FHIR over HTTP)."""

    @property
    def state(self) -> UplinkState: ...


class ZoneLookup(Protocol):
    """Whether any geofence is set for a resident."""

    def fenced(self, resident_id: str) -> bool: ...


#: The daemon's health check: None when healthy, else the first reason found.
HealthCheck = Callable[[], str | None]


@dataclass(frozen=True, slots=True)
class About:
    """This gateway: its id and when its core started."""

    gateway_id: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class FenceZones:
    """:class:`ZoneLookup` over the fence monitor (None: no fences)."""

    monitor: FenceMonitor | None

    def fenced(self, resident_id: str) -> bool:
        m = self.monitor
        return m is not None and any(z.resident_id == resident_id for z in m.engine.zones)


@dataclass(frozen=True, slots=True)
class ApiPorts:
    """Every port, made in one place (the daemon) and handed to ``build_app``."""

    about: About
    clock: Clock
    sessions: KioskSessions
    events: EventBus
    residents: Residents
    manual: ManualReadings
    submit: ReadingSink
    clinical: ClinicalSettings
    records: RecordLog
    reattribution: Reattribution
    counters: Counters
    devices: DeviceLinks
    outbox: OutboxStatsSource
    quarantine: Quarantined
    alerts: AlertStats
    zones: ZoneLookup
    uplink: UplinkView | None = None
    health: HealthCheck | None = None


ABOUT: web.AppKey[About] = web.AppKey("about", About)
CLOCK: web.AppKey[Clock] = web.AppKey("clock", Clock)
SESSIONS: web.AppKey[KioskSessions] = web.AppKey("sessions", KioskSessions)
EVENTS: web.AppKey[EventBus] = web.AppKey("events", EventBus)
RESIDENTS: web.AppKey[Residents] = web.AppKey("residents", Residents)
MANUAL: web.AppKey[ManualReadings] = web.AppKey("manual", ManualReadings)
SUBMIT: web.AppKey[ReadingSink] = web.AppKey("submit", ReadingSink)
CLINICAL: web.AppKey[ClinicalSettings] = web.AppKey("clinical", ClinicalSettings)
#: the readings as stored (history, unattributed)
RECORDS: web.AppKey[RecordLog] = web.AppKey("records", RecordLog)
#: the one service that edits a stored reading (assignment)
REATTRIBUTION: web.AppKey[Reattribution] = web.AppKey("reattribution", Reattribution)
#: the intake's counters (the API adds the readings it refused)
COUNTERS: web.AppKey[Counters] = web.AppKey("counters", Counters)
DEVICES: web.AppKey[DeviceLinks] = web.AppKey("devices", DeviceLinks)
OUTBOX_STATS: web.AppKey[OutboxStatsSource] = web.AppKey("outbox_stats", OutboxStatsSource)
QUARANTINE: web.AppKey[Quarantined] = web.AppKey("quarantine", Quarantined)
ALERT_STATS: web.AppKey[AlertStats] = web.AppKey("alert_stats", AlertStats)
ZONES: web.AppKey[ZoneLookup] = web.AppKey("zones", ZoneLookup)
UPLINK: web.AppKey[UplinkView | None] = web.AppKey("uplink")
HEALTH: web.AppKey[HealthCheck | None] = web.AppKey("health")
API_CONFIG: web.AppKey[ApiConfig] = web.AppKey("api_config", ApiConfig)


def install(app: web.Application, ports: ApiPorts) -> None:
    """Each port under its key (``build_app``)."""
    app[ABOUT] = ports.about
    app[CLOCK] = ports.clock
    app[SESSIONS] = ports.sessions
    app[EVENTS] = ports.events
    app[RESIDENTS] = ports.residents
    app[MANUAL] = ports.manual
    app[SUBMIT] = ports.submit
    app[CLINICAL] = ports.clinical
    app[RECORDS] = ports.records
    app[REATTRIBUTION] = ports.reattribution
    app[COUNTERS] = ports.counters
    app[DEVICES] = ports.devices
    app[OUTBOX_STATS] = ports.outbox
    app[QUARANTINE] = ports.quarantine
    app[ALERT_STATS] = ports.alerts
    app[ZONES] = ports.zones
    app[UPLINK] = ports.uplink
    app[HEALTH] = ports.health
