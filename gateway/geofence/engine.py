"""The fence engine: per resident and zone, inside / outside / unknown, without false alarms.

Pure: no I/O and no clock. Time comes from the fixes (``Fix.at``) and from explicit
:meth:`GeofenceEngine.tick` calls; the gateway wires a real clock to ``tick``.

How one fix is judged against one zone (``d`` = signed distance to the boundary, negative
inside; ``band`` = the fix's accuracy plus ``margin_m``):

* safe zone:   inside when ``d <= 0``; outside only when ``d > band``; otherwise uncertain.
* danger zone: outside when ``d >= 0``; inside only when ``-d > band``; otherwise uncertain.

So the alarming side (outside a safe zone, inside a danger zone) always needs the fix to be
clearly past the boundary, by more than its own error plus the margin, and the band in
between is hysteresis. A state change, including learning the first state, needs ``fixes``
consecutive fixes of the new class spanning at least ``dwell_s``; an uncertain fix or one
agreeing with the current state breaks the run. Fixes older than the newest processed one
only go into the history. Fixes less accurate than ``max_accuracy_m`` (cell towers) keep
the signal alive but never change a state.

Events: ``enter``/``exit`` when a confirmed state changes while the zone's schedule is active
(a change while inactive is raised when the window opens, if it still holds). The first
state learned is silent, except inside a danger zone. ``signal_lost`` when there was no fix
for ``signal_lost_min``: for a zone without schedule, while in the alarm state (outside a
safe zone, inside a danger zone), at last fix + T; for a zone with a schedule, in any state
but only while the schedule is active (at last fix + T, or the window's start if later).
``signal_restored`` with the next fix.
"""

from __future__ import annotations

import heapq
import logging
import math
from bisect import insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from gateway.config import GeofenceConfig
from gateway.geofence.geometry import ProjectedCircle, ProjectedPolygon
from gateway.geofence.schedule import Schedule
from gateway.geofence.zones import Circle, Kind, Zone

log = logging.getLogger(__name__)

EventKind = Literal["enter", "exit", "signal_lost", "signal_restored"]

UNKNOWN, INSIDE, OUTSIDE, UNCERTAIN = 0, 1, 2, 3
_STATE_NAMES = {UNKNOWN: "unknown", INSIDE: "inside", OUTSIDE: "outside"}


@dataclass(frozen=True, slots=True)
class Fix:
    """One position of one resident. ``at`` should be aware (UTC); naive is taken as UTC."""

    resident_id: str
    at: datetime
    latitude: float
    longitude: float
    accuracy_m: float | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class FenceEvent:
    """Something a family should hear about. ``fix`` decided it; ``last_fixes`` is history.

    ``distance_m`` is the deciding fix's signed distance to the zone boundary (negative
    inside).
    """

    resident_id: str
    zone_id: str
    zone_name: str
    zone_kind: Kind
    event: EventKind
    at: datetime
    fix: Fix
    last_fixes: tuple[Fix, ...]
    distance_m: float


@dataclass(frozen=True, slots=True)
class FenceSettings:
    margin_m: float = 10.0
    fixes: int = 3
    dwell_s: float = 60.0
    signal_lost_min: float = 15.0
    default_accuracy_m: float = 50.0
    max_accuracy_m: float = 500.0
    history: int = 10

    @classmethod
    def from_config(cls, cfg: Any) -> FenceSettings:
        """From :class:`gateway.config.GeofenceConfig` (or anything with the same fields)."""
        return cls(**{name: getattr(cfg, name) for name in cls.__dataclass_fields__})


class _CompiledZone:
    """A zone with its projected geometry, ready for fast classification."""

    __slots__ = (
        "danger",
        "kind",
        "max_lat",
        "max_lon",
        "min_lat",
        "min_lon",
        "mx",
        "my",
        "schedule",
        "shape",
        "zone",
    )

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.kind = zone.kind
        self.danger = zone.kind == "danger"
        self.schedule: Schedule | None = zone.schedule
        s = zone.shape
        self.shape: ProjectedCircle | ProjectedPolygon
        if isinstance(s, Circle):
            self.shape = ProjectedCircle.build(s.latitude, s.longitude, s.radius_m)
        else:
            self.shape = ProjectedPolygon.build(s.outer, s.holes)
        self.min_lat, self.max_lat = self.shape.min_lat, self.shape.max_lat
        self.min_lon, self.max_lon = self.shape.min_lon, self.shape.max_lon
        self.mx, self.my = self.shape.projection.mx, self.shape.projection.my

    def classify(self, lat: float, lon: float, band: float) -> int:
        # Bounding-box rejection: farther than `band` beyond the box is clearly outside.
        dlat = band / self.my
        dlon = band / self.mx
        if (
            lat < self.min_lat - dlat
            or lat > self.max_lat + dlat
            or lon < self.min_lon - dlon
            or lon > self.max_lon + dlon
        ):
            return OUTSIDE
        shape = self.shape
        if isinstance(shape, ProjectedCircle):
            d = shape.signed_distance(lat, lon)
            if self.danger:
                return OUTSIDE if d >= 0.0 else INSIDE if -d > band else UNCERTAIN
            return INSIDE if d <= 0.0 else OUTSIDE if d > band else UNCERTAIN
        p = shape.projection
        x = (lon - p.lon0) * p.mx
        y = (lat - p.lat0) * p.my
        b = shape.cell_bound(x, y)  # cached, conservative: decides most fixes in O(1)
        if b < 0.0 and (not self.danger or -b > band):
            return INSIDE
        if b > 0.0 and (self.danger or b > band):
            return OUTSIDE
        inside = shape.contains_xy(x, y)
        if self.danger:
            if not inside:
                return OUTSIDE
            return INSIDE if shape.boundary_farther_than(x, y, band) else UNCERTAIN
        if inside:
            return INSIDE
        return OUTSIDE if shape.boundary_farther_than(x, y, band) else UNCERTAIN

    def alarm_state(self) -> int:
        return INSIDE if self.danger else OUTSIDE


@dataclass(slots=True)
class _ZoneState:
    cz: _CompiledZone
    confirmed: int = UNKNOWN
    confirmed_fix: Fix | None = None
    confirmed_at: datetime | None = None
    announced: int = UNKNOWN
    streak_class: int = UNKNOWN
    streak_count: int = 0
    streak_start: datetime | None = None
    lost: bool = False


@dataclass(slots=True)
class _Resident:
    resident_id: str
    zones: list[_ZoneState]
    newest: Fix | None = None
    history: list[Fix] = field(default_factory=list)
    next_due: datetime | None = None  # nothing can become due before this
    queued_at: datetime | None = None  # earliest wake-up of this resident in the heap
    any_lost: bool = False


def _history_key(f: Fix) -> datetime:
    return f.at


def _event_time(e: FenceEvent) -> datetime:
    return e.at


def _normalize_time(at: datetime) -> datetime:
    if at.tzinfo is UTC:
        return at
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


class GeofenceEngine:
    """Feed fixes with :meth:`process`, call :meth:`tick` periodically; both return events."""

    def __init__(self, zones: Iterable[Zone], settings: FenceSettings | GeofenceConfig | None = None) -> None:
        if settings is None:
            settings = FenceSettings()
        elif not isinstance(settings, FenceSettings):
            settings = FenceSettings.from_config(settings)
        self.settings: FenceSettings = settings
        self._lost_after = timedelta(minutes=settings.signal_lost_min)
        self._dwell = timedelta(seconds=settings.dwell_s)
        self._residents: dict[str, _Resident] = {}
        self._heap: list[tuple[datetime, str]] = []
        self.replace_zones(zones)

    # ------------------------------------------------------------------ zones

    def replace_zones(self, zones: Iterable[Zone]) -> None:
        """Hot reload: zones that did not change keep their state; others start unknown."""
        by_resident: dict[str, list[Zone]] = {}
        for z in zones:
            by_resident.setdefault(z.resident_id, []).append(z)
        residents: dict[str, _Resident] = {}
        for rid, zs in by_resident.items():
            old = self._residents.get(rid)
            old_states = {st.cz.zone.id: st for st in old.zones} if old else {}
            states = []
            for z in zs:
                prev = old_states.get(z.id)
                keep = prev is not None and prev.cz.zone == z
                states.append(prev if keep and prev is not None else _ZoneState(_CompiledZone(z)))
            if old is not None:
                old.zones = states
                residents[rid] = old
            else:
                residents[rid] = _Resident(rid, states)
        self._residents = residents

    @property
    def zones(self) -> list[Zone]:
        return [st.cz.zone for r in self._residents.values() for st in r.zones]

    def state(self, resident_id: str, zone_id: str) -> str:
        """``unknown``, ``inside`` or ``outside`` (the confirmed state), for inspection."""
        r = self._residents.get(resident_id)
        for st in r.zones if r else ():
            if st.cz.zone.id == zone_id:
                return _STATE_NAMES[st.confirmed]
        raise KeyError(f"no zone {zone_id!r} for resident {resident_id!r}")

    # ------------------------------------------------------------------ fixes

    def process(self, fix: Fix) -> list[FenceEvent]:
        r = self._residents.get(fix.resident_id)
        if r is None:
            return []
        lat, lon, at = fix.latitude, fix.longitude, fix.at
        try:
            usable = -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0
            if at.tzinfo is not UTC:
                at = _normalize_time(at)
        except (TypeError, AttributeError, OverflowError, ValueError):
            usable = False
        if not usable:
            log.debug("geofence: unusable fix for %s ignored", fix.resident_id)
            return []
        if at is not fix.at:
            fix = Fix(fix.resident_id, at, lat, lon, fix.accuracy_m, fix.source)
        s = self.settings
        newest = r.newest
        if newest is not None and at < newest.at:
            # Late: history only, the state is decided by newer fixes.
            insort(r.history, fix, key=_history_key)
            if len(r.history) > s.history:
                del r.history[0]
            return []

        events: list[FenceEvent] = []
        if newest is not None and r.next_due is not None and r.next_due <= at:
            r.next_due = self._service(r, at, events)
            events.sort(key=_event_time)
        if r.any_lost:
            r.any_lost = False
            for st in r.zones:
                if st.lost:
                    st.lost = False
                    events.append(self._event(r, st, "signal_restored", at, fix, with_fix=True))
        r.newest = fix
        r.history.append(fix)
        if len(r.history) > s.history:
            del r.history[0]

        acc = fix.accuracy_m
        if acc is None or not acc >= 0.0:  # missing, NaN or negative
            acc = s.default_accuracy_m
        if acc <= s.max_accuracy_m:
            band = acc + s.margin_m
            need = s.fixes
            for st in r.zones:
                c = st.cz.classify(lat, lon, band)
                if c == UNCERTAIN or c == st.confirmed:
                    st.streak_count = 0
                    continue
                if st.streak_count and st.streak_class == c:
                    st.streak_count += 1
                else:
                    st.streak_class, st.streak_count, st.streak_start = c, 1, at
                if st.streak_count >= need and at - st.streak_start >= self._dwell:  # type: ignore[operator]
                    st.confirmed, st.confirmed_fix, st.confirmed_at = c, fix, at
                    st.streak_count = 0
                    self._announce(r, st, at, events)

        # signal lost, unless something is due earlier (a change held back for a window)
        due = at + self._lost_after
        if r.next_due is None or r.next_due <= at or due < r.next_due:
            r.next_due = due
        self._wake(r, r.next_due)
        return events

    def tick(self, now: datetime) -> list[FenceEvent]:
        """Raise what became due by ``now`` without a fix: signal_lost, and changes held
        back until a schedule window opened."""
        now = _normalize_time(now)
        events: list[FenceEvent] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            t, rid = heapq.heappop(heap)
            r = self._residents.get(rid)
            if r is None:
                continue
            if r.queued_at is not None and t >= r.queued_at:
                r.queued_at = None
            if r.next_due is None:
                continue
            if r.next_due <= now:
                r.next_due = self._service(r, now, events)
            if r.next_due is not None:
                self._wake(r, r.next_due)
        events.sort(key=_event_time)
        return events

    def _wake(self, r: _Resident, due: datetime) -> None:
        """Make sure ``tick`` looks at ``r`` at ``due`` (one heap entry per earlier time)."""
        if r.queued_at is None or due < r.queued_at:
            heapq.heappush(self._heap, (due, r.resident_id))
            r.queued_at = due

    # ------------------------------------------------------------------ internals

    def _announce(self, r: _Resident, st: _ZoneState, now: datetime, events: list[FenceEvent]) -> None:
        """Raise a confirmed change if its zone is being watched at ``now``."""
        if st.confirmed == UNKNOWN or st.confirmed == st.announced:
            return
        cz = st.cz
        first = st.announced == UNKNOWN
        if first and not (cz.danger and st.confirmed == INSIDE):
            st.announced = st.confirmed  # the first state learned is not news
            return
        due = self._announce_due(st)
        if due is None or due > now:
            if due is not None and (r.next_due is None or due < r.next_due):
                r.next_due = due
                self._wake(r, due)
            return
        st.announced = st.confirmed
        kind: EventKind = "enter" if st.confirmed == INSIDE else "exit"
        assert st.confirmed_fix is not None
        events.append(self._event(r, st, kind, due, st.confirmed_fix))

    def _announce_due(self, st: _ZoneState) -> datetime | None:
        assert st.confirmed_at is not None
        sched = st.cz.schedule
        return st.confirmed_at if sched is None else sched.next_active(st.confirmed_at)

    def _lost_due(self, r: _Resident, st: _ZoneState) -> datetime | None:
        if st.lost or r.newest is None:
            return None
        base = r.newest.at + self._lost_after
        if st.cz.schedule is not None:  # watched only in its windows, then in any state
            return st.cz.schedule.next_active(base)
        if st.confirmed == st.cz.alarm_state():
            return base
        return None

    def _service(self, r: _Resident, now: datetime, events: list[FenceEvent]) -> datetime | None:
        """Emit everything due by ``now`` for one resident; return the next future due time."""
        nxt: datetime | None = None
        for st in r.zones:
            if st.confirmed != st.announced and st.confirmed != UNKNOWN:
                self._announce(r, st, now, events)
                if st.confirmed != st.announced:
                    due = self._announce_due(st)
                    if due is not None and (nxt is None or due < nxt):
                        nxt = due
            lost = self._lost_due(r, st)
            if lost is None:
                continue
            if lost <= now:
                st.lost = r.any_lost = True
                assert r.newest is not None
                events.append(self._event(r, st, "signal_lost", lost, r.newest))
            elif nxt is None or lost < nxt:
                nxt = lost
        return nxt

    def _event(
        self, r: _Resident, st: _ZoneState, kind: EventKind, at: datetime, fix: Fix, *, with_fix: bool = False
    ) -> FenceEvent:
        history = list(r.history)
        if with_fix and (not history or history[-1] is not fix):
            history.append(fix)
            history = history[-self.settings.history :]
        z = st.cz.zone
        d = st.cz.shape.signed_distance(fix.latitude, fix.longitude)
        return FenceEvent(
            resident_id=r.resident_id,
            zone_id=z.id,
            zone_name=z.name,
            zone_kind=z.kind,
            event=kind,
            at=at,
            fix=fix,
            last_fixes=tuple(history),
            distance_m=d if math.isfinite(d) else math.inf,
        )
