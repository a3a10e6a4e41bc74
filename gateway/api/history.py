"""A resident's recent readings and trend; unattributed readings and their assignment.

Readings come from the outbox, which keeps delivered readings for ``buffer.retention_days``.

* ``GET /api/v1/residents/{resident_id}/history`` -- the signed-in resident's own readings, or
  any resident's for the doctor (PIN or token, see :mod:`gateway.api.doctor`). Health readings
  only (the clinical kinds); a watch's stream of positions and heart rates is summarised for
  today instead (``today``), so that it cannot push a blood pressure out of view. The trend
  counts a sitting (readings less than :data:`SITTING_GAP_S` apart, averaged as the guideline
  does) as one measurement, and has a direction only over :data:`MIN_TREND_SPAN_DAYS`.
* ``GET /api/v1/readings/unattributed`` -- readings from shared devices taken with nobody
  signed in. The signed-in resident sees the ones from the last :data:`CLAIM_WINDOW_S`
  seconds (to claim the one just measured); the doctor sees all of them.
* ``POST /api/v1/readings/{id}/assign`` -- the signed-in resident claims such a reading for
  themself, or the doctor gives it to any resident. The outbox keeps the same id with a new
  revision, so the county receives an update of the reading, never a second one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from types import MappingProxyType
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from buffer.ports import RecordLog
from buffer.record import Lane, Stored
from gateway.api.doctor import doctor_check
from gateway.api.errors import problem, validation_errors
from gateway.api.kiosk import WATCH
from gateway.api.ports import CLOCK, REATTRIBUTION, RECORDS, RESIDENTS, SESSIONS, ZONES, ZoneLookup
from gateway.api.readings import reading_view
from gateway.errors import ReadingError
from gateway.kinds import KINDS, LANES
from gateway.reattribution import AlreadyAssigned, NoSuchReading, NotAReading, TooOld
from uplink.codec import Alert, Reading

log = logging.getLogger("hutgw.api.history")

CLAIM_WINDOW_S = 600.0
"""a resident can claim an unattributed reading at the kiosk for this long after it was taken"""
DEFAULT_DAYS = 90.0
MAX_LIMIT = 500
MAX_HOURS = 24 * 3660
SITTING_GAP_S = 30 * 60.0
"""readings of one kind less than this apart are one sitting: one measurement, their mean"""
MIN_TREND_SPAN_DAYS = 20 / 24
"""a trend needs sittings at least this far apart (trends are over days, not minutes)"""
#: Kinds the history lists (health readings); the others are counted in ``today``.
HEALTH_KINDS: tuple[str, ...] = tuple(sorted(k for k in KINDS if LANES[k] != Lane.TELEMETRY))
SUMMARY_KINDS: tuple[str, ...] = tuple(sorted(k for k in KINDS if k not in HEALTH_KINDS))
#: Alerts that mean a resident was outside a safe zone (or inside a danger zone).
FENCE_ALERTS: tuple[str, ...] = ("fence_exit", "fence_enter")

#: Values a trend is computed for, with the change (over the period shown) below which the
#: direction is ``stable``.
#: (the kind catalogue's ``trend``, drivers/kinds.py)
TREND_VALUES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        kind: tolerances
        for kind, spec in KINDS.items()
        if (tolerances := {n: v.trend for n, v in spec.values.items() if v.trend is not None})
    }
)


# ---------------------------------------------------------------------------- views


def readable(rows: Iterable[Stored]) -> list[tuple[Stored, dict[str, Any]]]:
    """Reading rows with their wire JSON (read back through the codec, ``Reading.from_wire``); a
    row that is not a reading is skipped (and logged), so one damaged row cannot take a
    resident's whole history away."""
    out = []
    for s in rows:
        if s.stream != "readings":
            continue
        try:
            d = Reading.from_wire(s.payload).to_wire_dict()
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            log.warning("outbox record %s is not a readable reading (%s); skipped", s.id, e)
            continue
        out.append((s, d))
    return out


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------- trend


@dataclass(frozen=True, slots=True)
class Trend:
    count: int
    last: float
    mean: float
    min: float
    max: float
    change: float
    """rise of the least-squares line from the first to the last reading shown"""
    span_days: float
    direction: str
    """``rising``, ``falling``, ``stable`` or ``unknown`` (fewer than two readings)"""


def trend_of(points: Sequence[tuple[float, float]], tolerance: float, *, min_span: float = 0.0) -> Trend:
    """``points``: (time in days, value), any order. Fewer than two points, or points spanning
    less than ``min_span`` days: direction ``unknown``."""
    pts = sorted(points)
    n = len(pts)
    ys = [y for _, y in pts]
    mean = sum(ys) / n
    span = pts[-1][0] - pts[0][0]
    change = 0.0
    if n >= 2 and span > 0:
        mx = sum(x for x, _ in pts) / n
        sxx = sum((x - mx) ** 2 for x, _ in pts)
        slope = sum((x - mx) * (y - mean) for x, y in pts) / sxx
        change = slope * span
    if n < 2 or span < min_span:
        direction = "unknown"
    elif abs(change) < tolerance:
        direction = "stable"
    else:
        direction = "rising" if change > 0 else "falling"
    return Trend(n, ys[-1], round(mean, 2), min(ys), max(ys), round(change, 2), round(span, 3), direction)


def sittings(points: Iterable[tuple[float, float]], gap_days: float) -> list[tuple[float, float]]:
    """(time in days, value) points grouped into sittings -- each point less than ``gap_days``
    after the previous one joins its sitting -- as (mean time, mean value), oldest first."""
    groups: list[list[tuple[float, float]]] = []
    for p in sorted(points):
        if groups and p[0] - groups[-1][-1][0] < gap_days:
            groups[-1].append(p)
        else:
            groups.append([p])
    return [(sum(x for x, _ in g) / len(g), round(sum(y for _, y in g) / len(g), 1)) for g in groups]


def trends(readings: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per kind and value, the trend over the sittings of the readings given (implausible values
    left out); ``count`` is the number of sittings, ``readings`` the number of readings."""
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in readings:
        wanted = TREND_VALUES.get(r["kind"])
        if not wanted or not r.get("effective_at"):
            continue
        day = _when(r["effective_at"]).timestamp() / 86_400
        flags = set(r.get("flags") or ())
        for name, v in (r.get("values") or {}).items():
            value = v.get("value") if isinstance(v, Mapping) else None
            if name not in wanted or f"implausible:{name}" in flags or not isinstance(value, int | float):
                continue
            if math.isfinite(value):
                series.setdefault((r["kind"], name), []).append((day, float(value)))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (kind, name), pts in sorted(series.items()):
        sat = sittings(pts, SITTING_GAP_S / 86_400)
        t = trend_of(sat, TREND_VALUES[kind][name], min_span=MIN_TREND_SPAN_DAYS)
        out.setdefault(kind, {})[name] = {
            "count": t.count,
            "readings": len(pts),
            "last": t.last,
            "mean": t.mean,
            "min": t.min,
            "max": t.max,
            "change": t.change,
            "span_days": t.span_days,
            "direction": t.direction,
        }
    return out


# ---------------------------------------------------------------------------- who may see what


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str | None = None
    days: float = Field(DEFAULT_DAYS, gt=0, le=3660)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


def _query(request: web.Request, model: type[BaseModel]) -> BaseModel | web.Response:
    # ``token`` is the API token (checked by the app's guard), not a query of this route
    query = {k: v for k, v in request.query.items() if k != "token"}
    try:
        q = model.model_validate(query)
    except ValidationError as e:
        return problem(422, "invalid query", validation_errors(e))
    kind = getattr(q, "kind", None)
    if kind is not None and kind not in KINDS:
        return problem(422, "invalid query", {"kind": f"unknown kind (known: {', '.join(sorted(KINDS))})"})
    return q


async def get_history(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    clock = request.app[CLOCK]
    resident_id = request.match_info["resident_id"]
    doctor, refused = doctor_check(request)
    if refused is not None:
        return refused
    if not doctor:
        session = sessions.current()
        if session is None or session.resident_id != resident_id:
            return problem(403, "only the signed-in resident's own readings (or the doctor's PIN)")
        sessions.touch()
    q = _query(request, HistoryQuery)
    if isinstance(q, web.Response):
        return q
    assert isinstance(q, HistoryQuery)
    resident = request.app[RESIDENTS].snapshot().resident(resident_id)
    if resident is None:
        return problem(404, f"no resident {resident_id!r} in the registry")
    since = clock.now().timestamp() - q.days * 86_400
    kinds = [q.kind] if q.kind else list(HEALTH_KINDS)
    rows = await request.app[RECORDS].history(resident_id, since=since, limit=q.limit, kinds=kinds)
    readings = [reading_view(d, s) for s, d in readable(rows)]
    return web.json_response(
        {
            "resident_id": resident_id,
            "display_name": resident.name,
            "readings": readings,
            "trend": trends(readings),
            "today": await today_summary(
                request.app[RECORDS], request.app[ZONES], resident_id, now=clock.now()
            ),
        }
    )


async def today_summary(
    records: RecordLog, zones: ZoneLookup, resident_id: str, *, now: datetime
) -> dict[str, Any]:
    """Today's (since local midnight) positions and heart rates, counted rather than listed:
    how many, and for positions how many times the resident was outside a safe zone (or inside
    a danger zone) by the fence alerts; ``fenced`` says whether any zone is set for her."""
    local = now.astimezone()
    midnight = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)
    since = midnight.timestamp()
    rows = await records.history(resident_id, since=since, limit=MAX_LIMIT, kinds=SUMMARY_KINDS)
    counts = dict.fromkeys(SUMMARY_KINDS, 0)
    rates: list[float] = []
    for _, d in readable(rows):
        counts[d["kind"]] = counts.get(d["kind"], 0) + 1
        hr = (d.get("values") or {}).get("heart_rate")
        if d["kind"] == "heart_rate" and isinstance(hr, Mapping) and isinstance(hr.get("value"), int | float):
            rates.append(float(hr["value"]))
    alerts = await records.history(resident_id, since=since, limit=MAX_LIMIT, kinds=FENCE_ALERTS)
    outside = 0
    for s in alerts:
        if s.stream != "alerts":
            continue
        try:
            a = Alert.from_wire(s.payload)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if a.severity == "critical":
            outside += 1
    return {
        "since": midnight.isoformat(),
        "position": {
            "count": counts.get("position", 0),
            "fenced": zones.fenced(resident_id),
            "outside": outside,
        },
        "heart_rate": {
            "count": counts.get("heart_rate", 0),
            "min": min(rates) if rates else None,
            "max": max(rates) if rates else None,
        },
    }


class UnattributedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hours: float = Field(24.0 * 30, gt=0, le=MAX_HOURS)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    claimable: bool = False


async def _unattributed(
    records: RecordLog, now: datetime, *, since_s: float, limit: int
) -> list[tuple[Stored, dict[str, Any]]]:
    rows = await records.unattributed(stream="readings", since=now.timestamp() - since_s, limit=limit)
    cutoff = now - timedelta(seconds=since_s)
    return [
        (s, d)
        for s, d in readable(rows)
        if d.get("resident_id") is None and _when(d["received_at"]) >= cutoff
    ]


async def get_unattributed(request: web.Request) -> web.Response:
    doctor, refused = doctor_check(request)
    if refused is not None:
        return refused
    q = _query(request, UnattributedQuery)
    if isinstance(q, web.Response):
        return q
    assert isinstance(q, UnattributedQuery)
    if doctor and not q.claimable:
        window = q.hours * 3600
    elif request.app[SESSIONS].current() is not None:
        window = CLAIM_WINDOW_S
    else:
        return problem(403, "sign in first (or send the doctor's PIN)")
    now = request.app[CLOCK].now()
    rows = await _unattributed(request.app[RECORDS], now, since_s=window, limit=q.limit)
    return web.json_response({"readings": [reading_view(d, s) for s, d in rows], "window_s": window})


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    resident_id: str | None = Field(None, min_length=1, max_length=64)


async def post_assign(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    doctor, refused = doctor_check(request)
    if refused is not None:
        return refused
    try:
        body = AssignIn.model_validate_json(await request.read() or b"{}")
    except ValidationError as e:
        return problem(422, "invalid assignment", validation_errors(e))
    reading_id = request.match_info["reading_id"]
    session = None if doctor else sessions.current()
    if doctor:
        if body.resident_id is None:
            return problem(422, "invalid assignment", {"resident_id": "required"})
        resident_id = body.resident_id
    elif session is None:
        return problem(403, "sign in first (or send the doctor's PIN)")
    elif body.resident_id not in (None, session.resident_id):
        return problem(403, "a resident can only claim a reading for themself")
    else:
        resident_id = session.resident_id
    window = None if doctor else request.app[CLOCK].now() - timedelta(seconds=CLAIM_WINDOW_S)
    try:
        assigned = await request.app[REATTRIBUTION].assign(reading_id, resident_id, received_after=window)
    except NoSuchReading:
        return problem(404, f"no reading {reading_id!r}")
    except NotAReading as e:
        log.warning("outbox record %s is not a readable reading (%s); skipped", reading_id, e)
        return problem(404, f"no reading {reading_id!r}")
    except AlreadyAssigned:
        return problem(409, "this reading already belongs to a resident")
    except TooOld:
        return problem(
            403,
            f"only a reading from the last {CLAIM_WINDOW_S / 60:.0f} minutes can be claimed; "
            "ask the village doctor",
        )
    except ReadingError as e:
        return problem(422, "invalid assignment", e.errors)
    if session is not None:
        sessions.touch()
        request.app[WATCH].sync()
    return web.json_response({"reading": reading_view(assigned.to_wire_dict())})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/residents/{resident_id}/history", get_history)
    app.router.add_get("/api/v1/readings/unattributed", get_unattributed)
    app.router.add_post("/api/v1/readings/{reading_id}/assign", post_assign)
