"""Property tests of the fence engine: it never raises and never cries wolf from the inside."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.geofence.engine import FenceSettings, Fix, GeofenceEngine
from gateway.geofence.schedule import parse_schedule
from tests.support.geofence_traces import T0, Local

L = Local()
HOME = L.rect("r1", "home", 200, 150)
POND = L.circle("r1", "pond", 40.0, kind="danger", east=300)
NIGHT_HOME = replace(
    L.regular("r2", "night", 120.0, 12),
    schedule=parse_schedule({"from": "20:00", "to": "06:00", "tz": "Asia/Shanghai"}),
)
ZONES = [HOME, POND, NIGHT_HOME]

anything_float = st.floats(allow_nan=True, allow_infinity=True)
accuracy = st.one_of(st.none(), anything_float, st.floats(0, 100))
offsets = st.integers(-86_400 * 3, 86_400 * 3)


@st.composite
def wild_fixes(draw: st.DrawFn) -> Fix:
    rid = draw(st.sampled_from(["r1", "r2", "r3", ""]))
    t = T0 + timedelta(seconds=draw(offsets))
    if draw(st.booleans()):
        t = t.replace(tzinfo=None)
    if draw(st.booleans()):
        lat, lon = L.latlon(draw(st.floats(-600, 600)), draw(st.floats(-600, 600)))
    else:
        lat, lon = draw(anything_float), draw(anything_float)
    return Fix(rid, t, lat, lon, draw(accuracy), "prop")


@st.composite
def engine_settings(draw: st.DrawFn) -> FenceSettings:
    return FenceSettings(
        margin_m=draw(st.floats(0, 50)),
        fixes=draw(st.integers(1, 5)),
        dwell_s=draw(st.floats(0, 300)),
        signal_lost_min=draw(st.floats(0.5, 60)),
        default_accuracy_m=draw(st.floats(0, 100)),
        max_accuracy_m=draw(st.floats(1, 1000)),
        history=draw(st.integers(1, 20)),
    )


@settings(max_examples=300, deadline=None)
@given(engine_settings(), st.lists(st.one_of(wild_fixes(), offsets), max_size=60))
def test_random_sequences_never_raise(s: FenceSettings, steps: list[Fix | int]) -> None:
    engine = GeofenceEngine(ZONES, s)
    for step in steps:
        events = engine.process(step) if isinstance(step, Fix) else engine.tick(T0 + timedelta(seconds=step))
        for ev in events:
            assert ev.at.tzinfo is not None
            assert ev.event in ("enter", "exit", "signal_lost", "signal_restored")
            assert len(ev.last_fixes) <= s.history
    engine.replace_zones(ZONES[:1])
    engine.tick(datetime(2030, 1, 1, tzinfo=UTC))


@st.composite
def inside_fixes(draw: st.DrawFn) -> Fix:
    # within 40 m of the centre of a 200 x 150 m yard: at least 35 m inside the fence
    e, n = draw(st.floats(-40, 40)), draw(st.floats(-35, 35))
    lat, lon = L.latlon(e, n)
    return Fix("r1", T0 + timedelta(seconds=draw(st.integers(0, 86_400))), lat, lon, draw(accuracy), "prop")


@settings(max_examples=300, deadline=None)
@given(engine_settings(), st.lists(inside_fixes(), max_size=80))
def test_fixes_inside_never_yield_an_exit(s: FenceSettings, fixes: list[Fix]) -> None:
    engine = GeofenceEngine([HOME], s)
    for f in fixes:  # in any order, with any accuracy
        for ev in engine.tick(f.at) + engine.process(f):
            assert ev.event != "exit"
            assert ev.event != "enter" or ev.zone_kind == "safe"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-400, 400), st.floats(-400, 400), st.floats(3, 30)), min_size=1, max_size=60
    ),
    st.integers(1, 4),
)
def test_events_alternate_and_need_the_run(points: list[tuple[float, float, float]], need: int) -> None:
    """Enter and exit strictly alternate per zone, and each one follows `fixes` agreeing fixes."""
    s = FenceSettings(fixes=need, dwell_s=0)
    engine = GeofenceEngine([HOME, POND], s)
    last: dict[str, str] = {}
    for i, (e, n, acc) in enumerate(points):
        f = Fix("r1", T0 + timedelta(seconds=45 * i), *L.latlon(e, n), acc)
        for ev in engine.process(f):
            if ev.event in ("enter", "exit"):
                assert last.get(ev.zone_id) != ev.event
                last[ev.zone_id] = ev.event
                assert i + 1 >= need
                band = acc + s.margin_m
                if ev.zone_kind == "safe" and ev.event == "exit":
                    assert ev.distance_m > band - 1e-6
                if ev.zone_kind == "danger" and ev.event == "enter":
                    assert -ev.distance_m > band - 1e-6


def test_nan_and_infinite_accuracy_are_safe() -> None:
    engine = GeofenceEngine([HOME], FenceSettings())
    far = L.latlon(900, 0)
    for i, acc in enumerate([math.inf, math.nan, -math.inf, 1e308]):
        assert engine.process(Fix("r1", T0 + timedelta(minutes=i), *far, acc)) == []


def exact_class(zone_shape: object, danger: bool, lat: float, lon: float, band: float) -> int:
    """The classification rule written out plainly, without any cache or shortcut."""
    from gateway.geofence.engine import INSIDE, OUTSIDE, UNCERTAIN

    d = zone_shape.signed_distance(lat, lon)  # type: ignore[attr-defined]
    if danger:
        return OUTSIDE if d >= 0 else INSIDE if -d > band else UNCERTAIN
    return INSIDE if d <= 0 else OUTSIDE if d > band else UNCERTAIN


@st.composite
def blob_zones(draw: st.DrawFn) -> object:
    n = draw(st.integers(3, 30))
    radii = draw(st.lists(st.floats(30, 400), min_size=n, max_size=n))
    pts = tuple(
        L.latlon(r * math.cos(2 * math.pi * i / n), r * math.sin(2 * math.pi * i / n))
        for i, r in enumerate(radii)
    )
    holes = ()
    if draw(st.booleans()):
        h = min(radii) / 3
        holes = (tuple(L.latlon(h * math.cos(a), h * math.sin(a)) for a in (0.0, 2.1, 4.2)),)
    from gateway.geofence.zones import Polygon, Zone

    return Zone("r1", "blob", draw(st.sampled_from(["safe", "danger"])), Polygon(pts, holes))


@settings(max_examples=150, deadline=None)
@given(
    blob_zones(),
    st.lists(st.tuples(st.floats(-600, 600), st.floats(-600, 600), st.floats(0, 80)), max_size=80),
)
def test_cached_classification_equals_the_plain_rule(
    zone: object, points: list[tuple[float, float, float]]
) -> None:
    from gateway.geofence.engine import _CompiledZone

    cz = _CompiledZone(zone)  # type: ignore[arg-type]
    for e, n, band in points * 2:  # twice: the second pass hits the filled cache
        lat, lon = L.latlon(e, n)
        want = exact_class(cz.shape, cz.danger, lat, lon, band)
        got = cz.classify(lat, lon, band)
        if got != want:  # only a rounding-level tie at the band edge may differ
            d = cz.shape.signed_distance(lat, lon)
            assert min(abs(d), abs(abs(d) - band)) < 1e-6, (e, n, band, got, want)


NIGHT_ZONES = [
    HOME,
    POND,
    replace(
        L.rect("r1", "night", 400, 400),
        schedule=parse_schedule({"from": "20:00", "to": "06:00", "tz": "Asia/Shanghai"}),
    ),
    replace(
        L.circle("r1", "day-pond", 50, kind="danger", east=-200),
        schedule=parse_schedule({"days": ["tue"], "tz": "UTC"}),
    ),
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-500, 500),
            st.floats(-500, 500),
            st.sampled_from([30, 45, 60, 600, 1800, 7200, 30000]),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_frequent_ticks_and_no_ticks_give_the_same_events(steps: list[tuple[float, float, int]]) -> None:
    """The tick heap must neither lose nor delay anything: ticking every minute gives exactly
    the events (and times) that processing the fixes alone gives."""
    s = FenceSettings(fixes=2, dwell_s=30)
    ticked, plain = GeofenceEngine(NIGHT_ZONES, s), GeofenceEngine(NIGHT_ZONES, s)
    a: list[tuple[str, str, datetime]] = []
    b: list[tuple[str, str, datetime]] = []
    t = T0
    for e, n, gap in steps:
        t_next = t + timedelta(seconds=gap)
        before, now = t, t + timedelta(seconds=60)
        while now < t_next:
            for ev in ticked.tick(now):
                assert before < ev.at <= now, "raised late"
                a.append((ev.zone_id, ev.event, ev.at))
            before, now = now, now + timedelta(seconds=60)
        for ev in ticked.tick(t_next):
            assert before < ev.at <= t_next, "raised late"
            a.append((ev.zone_id, ev.event, ev.at))
        f = Fix("r1", t_next, *L.latlon(e, n), 8.0)
        a += [(ev.zone_id, ev.event, ev.at) for ev in ticked.process(f)]
        b += [(ev.zone_id, ev.event, ev.at) for ev in plain.process(f)]
        t = t_next
    assert sorted(a) == sorted(b)
