"""The fence engine on recorded-style traces: no alarm from drift, one alarm from a walk-out."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.geofence.datum import wgs84_to_gcj02
from gateway.geofence.engine import FenceEvent, FenceSettings, Fix, GeofenceEngine
from gateway.geofence.schedule import parse_schedule
from gateway.geofence.zones import Polygon, Zone, parse_feature_collection
from tests.support.geofence_traces import T0, Local, standing, trace, walk

L = Local()
HOME = L.rect("r1", "home", 200, 150)  # x from -100 to 100 m, y from -75 to 75 m
S = FenceSettings()


def run(engine: GeofenceEngine, fixes: list[Fix], tick_each: bool = True) -> list[FenceEvent]:
    out: list[FenceEvent] = []
    for f in fixes:
        if tick_each:
            out += engine.tick(f.at)
        out += engine.process(f)
    return out


def kinds(events: list[FenceEvent]) -> list[str]:
    return [e.event for e in events]


def naive_crossings(zone: Zone, fixes: list[Fix]) -> int:
    """What a single-fix decision (Traccar) would report on the same trace."""
    from gateway.geofence.geometry import ProjectedPolygon

    assert isinstance(zone.shape, Polygon)
    poly = ProjectedPolygon.build(zone.shape.outer)
    states = [poly.contains(f.latitude, f.longitude) for f in fixes]
    return sum(1 for a, b in itertools.pairwise(states) if a != b)


@pytest.mark.parametrize("seed", range(6))
def test_drift_on_the_boundary_raises_nothing(seed: int) -> None:
    # Two hours sitting on the bench just at the east fence line; the raw fixes cross it often.
    fixes = list(trace("r1", standing(100.0, 0.0), duration_s=7200, seed=seed))
    assert naive_crossings(HOME, fixes) >= 10
    engine = GeofenceEngine([HOME], S)
    assert run(engine, fixes) == []
    assert engine.state("r1", "r1/home") in ("inside", "unknown")


@pytest.mark.parametrize("seed", range(4))
def test_drift_just_outside_the_fence_raises_nothing(seed: int) -> None:
    fixes = list(trace("r1", standing(108.0, 0.0), duration_s=7200, seed=seed, accuracy=(8.0, 15.0)))
    # learn "inside" first
    home = list(trace("r1", standing(0.0, 0.0), duration_s=600, seed=seed + 100))
    shifted = [replace(f, at=f.at + timedelta(seconds=700)) for f in fixes]
    engine = GeofenceEngine([HOME], S)
    assert run(engine, home) == []
    assert engine.state("r1", "r1/home") == "inside"
    assert run(engine, shifted) == []


@pytest.mark.parametrize("seed", range(6))
def test_real_walk_out_gives_exactly_one_exit_after_the_dwell(seed: int) -> None:
    # Inside at home for 10 minutes, then walks east at 1.2 m/s for 600 m and stays there.
    path = walk((0.0, 0.0), 90.0, 1.2, after_s=600, stop_after_m=600)
    fixes = list(trace("r1", path, duration_s=3600, seed=seed))
    engine = GeofenceEngine([HOME], S)
    events = run(engine, fixes)
    assert kinds(events) == ["exit"]
    ev = events[0]
    assert ev.resident_id == "r1" and ev.zone_id == "r1/home" and ev.zone_name == "home"
    assert ev.zone_kind == "safe"
    crossing = T0 + timedelta(seconds=600 + 100 / 1.2)
    assert ev.at >= crossing + timedelta(seconds=S.dwell_s)
    assert ev.at <= crossing + timedelta(minutes=6)
    assert ev.fix.accuracy_m is not None
    assert ev.distance_m > ev.fix.accuracy_m + S.margin_m
    assert ev.fix in ev.last_fixes and ev.last_fixes[-1] == ev.fix
    assert len(ev.last_fixes) == S.history
    assert engine.state("r1", "r1/home") == "outside"


def test_walk_out_and_back_gives_exit_then_enter() -> None:
    out = walk((0.0, 0.0), 90.0, 1.2, after_s=300, stop_after_m=400)
    back = walk((400.0, 0.0), 270.0, 1.2, after_s=0, stop_after_m=400)
    fixes = list(trace("r1", out, duration_s=1500, seed=3))
    last = fixes[-1].at
    fixes += [
        replace(f, at=f.at + (last - T0) + timedelta(seconds=40))
        for f in trace("r1", back, duration_s=1200, seed=4)
    ]
    events = run(GeofenceEngine([HOME], S), fixes)
    assert kinds(events) == ["exit", "enter"]


def test_dwell_and_fix_count_are_both_needed() -> None:
    far = L.latlon(400.0, 0.0)
    home = L.latlon(0.0, 0.0)
    engine = GeofenceEngine([HOME], S)
    t = T0
    for i in range(3):  # learn inside
        engine.process(Fix("r1", t + timedelta(seconds=30 * i), *home, 5.0))
    t += timedelta(minutes=5)
    # three outside fixes 10 s apart: count reached, dwell not
    assert run(engine, [Fix("r1", t + timedelta(seconds=10 * i), *far, 5.0) for i in range(3)]) == []
    # a fourth one 60 s after the first: dwell reached too
    assert kinds(engine.process(Fix("r1", t + timedelta(seconds=60), *far, 5.0))) == ["exit"]


def test_an_uncertain_fix_breaks_the_run() -> None:
    far = L.latlon(400.0, 0.0)
    edge = L.latlon(110.0, 0.0)  # 10 m outside: inside the hysteresis band
    home = L.latlon(0.0, 0.0)
    engine = GeofenceEngine([HOME], S)
    for i in range(3):
        engine.process(Fix("r1", T0 + timedelta(seconds=30 * i), *home, 5.0))
    t = T0 + timedelta(minutes=5)
    seq = [far, far, edge, far, far]
    fixes = [Fix("r1", t + timedelta(seconds=40 * i), *p, 5.0) for i, p in enumerate(seq)]
    assert run(engine, fixes) == []
    assert kinds(engine.process(Fix("r1", t + timedelta(seconds=240), *far, 5.0))) == ["exit"]


def test_out_of_order_fixes_update_history_but_not_state() -> None:
    home = L.latlon(0.0, 0.0)
    far = L.latlon(800.0, 0.0)
    engine = GeofenceEngine([HOME], S)
    inside = [Fix("r1", T0 + timedelta(minutes=10 + i), *home, 5.0) for i in range(5)]
    assert run(engine, inside) == []
    # a batch of buffered (blind-area) fixes from earlier, all far away, arrives late
    late = [Fix("r1", T0 + timedelta(minutes=i), *far, 5.0) for i in range(8)]
    assert run(engine, late) == []
    assert engine.state("r1", "r1/home") == "inside"
    # the history holds them, in time order; the next event carries them
    path = [Fix("r1", T0 + timedelta(minutes=20 + i), *far, 5.0) for i in range(3)]
    events = run(engine, path)
    assert kinds(events) == ["exit"]
    times = [f.at for f in events[0].last_fixes]
    assert times == sorted(times)
    assert any(f in late for f in events[0].last_fixes)


def test_late_fix_does_not_break_a_running_walk_out() -> None:
    home = L.latlon(0.0, 0.0)
    far = L.latlon(500.0, 0.0)
    engine = GeofenceEngine([HOME], S)
    run(engine, [Fix("r1", T0 + timedelta(seconds=30 * i), *home, 5.0) for i in range(4)])
    t = T0 + timedelta(minutes=10)
    assert engine.process(Fix("r1", t, *far, 5.0)) == []
    assert engine.process(Fix("r1", t + timedelta(seconds=30), *far, 5.0)) == []
    assert engine.process(Fix("r1", t - timedelta(minutes=3), *home, 5.0)) == []  # late, inside
    assert kinds(engine.process(Fix("r1", t + timedelta(seconds=60), *far, 5.0))) == ["exit"]


def test_missing_accuracy_uses_the_default() -> None:
    settings = FenceSettings(default_accuracy_m=50.0)
    home = L.latlon(0.0, 0.0)
    near = L.latlon(150.0, 0.0)  # 50 m outside: within 50 + 10 m, not enough
    far = L.latlon(170.0, 0.0)  # 70 m outside: beyond it
    for accuracy in (None, math.nan, -1.0):
        engine = GeofenceEngine([HOME], settings)
        run(engine, [Fix("r1", T0 + timedelta(seconds=30 * i), *home, accuracy) for i in range(4)])
        t = T0 + timedelta(minutes=5)
        assert (
            run(engine, [Fix("r1", t + timedelta(seconds=30 * i), *near, accuracy) for i in range(6)]) == []
        )
        t += timedelta(minutes=5)
        events = run(engine, [Fix("r1", t + timedelta(seconds=30 * i), *far, accuracy) for i in range(4)])
        assert kinds(events) == ["exit"], accuracy
        assert events[0].fix.accuracy_m is accuracy


def test_trace_with_no_accuracy_walk_out_still_detected() -> None:
    path = walk((0.0, 0.0), 0.0, 1.2, after_s=300, stop_after_m=500)
    fixes = list(trace("r1", path, duration_s=2400, seed=11, missing_accuracy=True))
    assert kinds(run(GeofenceEngine([HOME], S), fixes)) == ["exit"]


def test_poor_fixes_keep_the_signal_but_never_change_state() -> None:
    engine = GeofenceEngine([HOME], S)
    home = L.latlon(0.0, 0.0)
    far = L.latlon(3000.0, 0.0)  # a cell-tower position
    run(engine, [Fix("r1", T0 + timedelta(seconds=30 * i), *home, 5.0) for i in range(4)])
    fixes = [Fix("r1", T0 + timedelta(minutes=5 + i), *far, 1500.0, "cell") for i in range(30)]
    assert run(engine, fixes) == []
    assert engine.state("r1", "r1/home") == "inside"


def _walked_out(engine: GeofenceEngine) -> datetime:
    far = L.latlon(600.0, 0.0)
    home = L.latlon(0.0, 0.0)
    run(engine, [Fix("r1", T0 + timedelta(seconds=30 * i), *home, 5.0) for i in range(4)])
    t = T0 + timedelta(minutes=5)
    events = run(engine, [Fix("r1", t + timedelta(seconds=30 * i), *far, 5.0) for i in range(4)])
    assert kinds(events) == ["exit"]
    return t + timedelta(seconds=90)


def test_long_gap_while_outside_gives_signal_lost_then_restored() -> None:
    engine = GeofenceEngine([HOME], S)
    last = _walked_out(engine)
    assert engine.tick(last + timedelta(minutes=14, seconds=59)) == []
    lost = engine.tick(last + timedelta(minutes=40))
    assert kinds(lost) == ["signal_lost"]
    assert lost[0].at == last + timedelta(minutes=15)
    assert lost[0].fix.at == last
    assert engine.tick(last + timedelta(minutes=50)) == []  # once per gap
    back = Fix("r1", last + timedelta(minutes=52), *L.latlon(620.0, 0.0), 6.0)
    restored = engine.process(back)
    assert kinds(restored) == ["signal_restored"]
    assert restored[0].fix == back and restored[0].at == back.at
    # and the gap after that is a new gap
    assert kinds(engine.tick(back.at + timedelta(minutes=16))) == ["signal_lost"]


def test_gap_without_tick_is_still_reported_before_the_fix_after_it() -> None:
    engine = GeofenceEngine([HOME], S)
    last = _walked_out(engine)
    events = engine.process(Fix("r1", last + timedelta(hours=2), *L.latlon(620.0, 0.0), 6.0))
    assert kinds(events) == ["signal_lost", "signal_restored"]
    assert events[0].at == last + timedelta(minutes=15)


def test_gap_while_at_home_without_schedule_is_not_signal_lost() -> None:
    engine = GeofenceEngine([HOME], S)
    home = L.latlon(0.0, 0.0)
    run(engine, [Fix("r1", T0 + timedelta(seconds=30 * i), *home, 5.0) for i in range(4)])
    assert engine.tick(T0 + timedelta(hours=5)) == []
    assert engine.process(Fix("r1", T0 + timedelta(hours=5), *home, 5.0)) == []


def test_gcj02_fence_with_wgs84_fixes() -> None:
    # The family drew the yard on AMap: its vertices are GCJ-02, ~500 m off from GPS.
    true_corners = [L.latlon(e, n) for e, n in ((-100, -75), (100, -75), (100, 75), (-100, 75))]
    gcj = [wgs84_to_gcj02(lat, lon) for lat, lon in true_corners]
    ring = [[lon, lat] for lat, lon in gcj] + [[gcj[0][1], gcj[0][0]]]

    def collection(datum: str) -> dict[str, object]:
        props = {"resident_id": "r1", "name": "yard", "kind": "safe", "datum": datum}
        feature = {
            "type": "Feature",
            "properties": props,
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        return {"type": "FeatureCollection", "features": [feature]}

    fixes = list(trace("r1", standing(0.0, 0.0), duration_s=3600, seed=5))
    (good,) = parse_feature_collection(collection("gcj02"))
    engine = GeofenceEngine([good], S)
    assert run(engine, fixes) == []
    assert engine.state("r1", "r1/yard") == "inside"
    # Taken as WGS-84, the same fence misses the yard: the resident is "outside" all the time.
    (wrong,) = parse_feature_collection(collection("wgs84"))
    engine = GeofenceEngine([wrong], S)
    run(engine, fixes)
    assert engine.state("r1", "r1/yard") == "outside"
    # A real walk-out from the converted fence is detected.
    path = walk((0.0, 0.0), 180.0, 1.2, after_s=300, stop_after_m=500)
    assert kinds(run(GeofenceEngine([good], S), list(trace("r1", path, duration_s=2400, seed=6)))) == ["exit"]


def test_danger_zone_first_state_inside_is_an_event() -> None:
    pond = L.circle("r1", "pond", 60.0, kind="danger", east=0, north=0)
    fixes = list(trace("r1", standing(0.0, 0.0), duration_s=600, seed=7))
    events = run(GeofenceEngine([pond], S), fixes)
    assert kinds(events) == ["enter"]
    assert events[0].zone_kind == "danger" and events[0].distance_m < 0


def test_safe_zone_first_state_outside_is_not_an_event() -> None:
    fixes = list(trace("r1", standing(800.0, 0.0), duration_s=600, seed=8))
    engine = GeofenceEngine([HOME], S)
    assert run(engine, fixes) == []
    assert engine.state("r1", "r1/home") == "outside"


def test_walking_into_a_danger_zone_and_out() -> None:
    pond = L.circle("r1", "pond", 40.0, kind="danger", east=300, north=0)
    into = walk((0.0, 0.0), 90.0, 1.0, after_s=300, stop_after_m=300)
    fixes = list(trace("r1", into, duration_s=1800, seed=9))
    out = walk((300.0, 0.0), 270.0, 1.0, after_s=0, stop_after_m=300)
    fixes += list(trace("r1", out, duration_s=900, seed=10, start=fixes[-1].at + timedelta(seconds=45)))
    events = run(GeofenceEngine([pond, HOME], S), fixes)
    assert [(e.zone_name, e.event) for e in events] == [
        ("home", "exit"),
        ("pond", "enter"),
        ("pond", "exit"),
        ("home", "enter"),
    ]


NIGHT = parse_schedule({"from": "20:00", "to": "06:00", "tz": "Asia/Shanghai"})


def local(day: int, hh: int, mm: int = 0) -> datetime:
    """May 2026, Asia/Shanghai wall time -> UTC."""
    return datetime(2026, 5, day, hh, mm, tzinfo=UTC) - timedelta(hours=8)


def test_schedule_limited_zone_walk_out_in_the_afternoon_is_silent() -> None:
    zone = replace(HOME, name="night-home", schedule=NIGHT)
    engine = GeofenceEngine([zone], S)
    home, far = L.latlon(0.0, 0.0), L.latlon(500.0, 0.0)
    run(engine, [Fix("r1", local(4, 14) + timedelta(seconds=30 * i), *home, 5.0) for i in range(4)])
    # out at 15:00, back at 19:00: no event, and no signal_lost (not watched, only outside)
    out = [Fix("r1", local(4, 15) + timedelta(minutes=i), *far, 5.0) for i in range(5)]
    assert run(engine, out) == []
    assert engine.state("r1", "r1/night-home") == "outside"
    back = [Fix("r1", local(4, 19) + timedelta(minutes=i), *home, 5.0) for i in range(5)]
    assert run(engine, back) == []
    # at home, no fix since 19:04: the zone is watched from 20:00, so the signal is lost then
    events = engine.tick(local(4, 23))
    assert kinds(events) == ["signal_lost"]
    assert events[0].at == local(4, 20)


def test_schedule_limited_zone_still_outside_when_the_window_opens() -> None:
    zone = replace(HOME, name="night-home", schedule=NIGHT)
    engine = GeofenceEngine([zone], FenceSettings(signal_lost_min=15))
    home, far = L.latlon(0.0, 0.0), L.latlon(500.0, 0.0)
    run(engine, [Fix("r1", local(4, 14) + timedelta(seconds=30 * i), *home, 5.0) for i in range(4)])
    out = [Fix("r1", local(4, 19, 30) + timedelta(minutes=i) / 2, *far, 5.0) for i in range(40)]
    assert run(engine, out) == []  # 19:30-19:49:30, outside, window not open
    events = engine.tick(local(4, 20, 1))
    assert kinds(events) == ["exit"]
    assert events[0].at == local(4, 20)


def test_schedule_window_crossing_midnight() -> None:
    zone = replace(HOME, name="night-home", schedule=NIGHT)
    engine = GeofenceEngine([zone], S)
    home, far = L.latlon(0.0, 0.0), L.latlon(500.0, 0.0)
    night = [Fix("r1", local(4, 23) + timedelta(minutes=5 * i), *home, 5.0) for i in range(36)]
    assert run(engine, night) == []
    # wanders off at 02:00 the next morning: inside the window
    fixes = [Fix("r1", local(5, 2) + timedelta(seconds=40 * i), *far, 5.0) for i in range(4)]
    assert kinds(run(engine, fixes)) == ["exit"]


def test_signal_lost_while_schedule_active_even_at_home() -> None:
    zone = replace(HOME, name="night-home", schedule=NIGHT)
    engine = GeofenceEngine([zone], S)
    home = L.latlon(0.0, 0.0)
    last = local(4, 18, 0)
    run(engine, [Fix("r1", last - timedelta(seconds=30 * i), *home, 5.0) for i in (3, 2, 1, 0)])
    assert engine.tick(local(4, 19, 59)) == []
    events = engine.tick(local(4, 21))
    assert kinds(events) == ["signal_lost"]
    assert events[0].at == local(4, 20)  # the window opened 2 h after the last fix
    assert kinds(engine.process(Fix("r1", local(4, 21, 5), *home, 5.0))) == ["signal_restored"]


def test_danger_zone_first_inside_while_schedule_inactive_is_raised_when_it_opens() -> None:
    pond = replace(L.circle("r1", "pond", 60.0, kind="danger"), schedule=NIGHT)
    engine = GeofenceEngine([pond], S)
    fixes = [Fix("r1", local(4, 19, 50) + timedelta(seconds=30 * i), *L.latlon(0, 0), 5.0) for i in range(25)]
    events = run(engine, fixes)
    assert kinds(events) == ["enter"]
    assert events[0].at == local(4, 20)


def test_polygon_with_many_vertices() -> None:
    zone = L.regular("r1", "farm", 300.0, 720)
    path = walk((0.0, 0.0), 45.0, 1.3, after_s=300, stop_after_m=700)
    fixes = list(trace("r1", path, duration_s=2400, seed=12))
    events = run(GeofenceEngine([zone], S), fixes)
    assert kinds(events) == ["exit"]
    assert events[0].distance_m > S.margin_m


def test_several_residents_are_independent() -> None:
    z2 = replace(HOME, resident_id="r2")
    engine = GeofenceEngine([HOME, z2], S)
    a = list(trace("r1", walk((0, 0), 90, 1.2, 300, 500), duration_s=1800, seed=1))
    b = list(trace("r2", standing(0, 0), duration_s=1800, seed=2))
    merged = sorted(a + b, key=lambda f: f.at)
    events = run(engine, merged)
    assert [(e.resident_id, e.event) for e in events] == [("r1", "exit")]
    assert engine.process(Fix("nobody", T0, 0.0, 0.0, 1.0)) == []


def test_replace_zones_keeps_state_of_unchanged_zones() -> None:
    pond = L.circle("r1", "pond", 30.0, kind="danger", east=900)
    engine = GeofenceEngine([HOME, pond], S)
    last = _walked_out(engine)
    bigger = L.rect("r1", "home", 2000, 2000)
    field = L.circle("r1", "field", 50.0, east=600)
    engine.replace_zones([HOME, pond, field])
    assert engine.state("r1", "r1/home") == "outside"
    assert engine.state("r1", "r1/field") == "unknown"
    # no new exit from the unchanged zone; the new zone learns silently
    fixes = [Fix("r1", last + timedelta(seconds=30 * (i + 1)), *L.latlon(600, 0), 5.0) for i in range(4)]
    assert run(engine, fixes) == []
    assert engine.state("r1", "r1/field") == "inside"
    # a changed zone starts over
    engine.replace_zones([bigger, pond])
    assert engine.state("r1", "r1/home") == "unknown"
    with pytest.raises(KeyError):
        engine.state("r1", "r1/field")


def test_settings_from_config_section() -> None:
    from gateway.config import GeofenceConfig

    cfg = GeofenceConfig(margin_m=5, fixes=2, dwell_s=30, signal_lost_min=10)
    engine = GeofenceEngine([HOME], cfg)
    assert engine.settings == FenceSettings(margin_m=5, fixes=2, dwell_s=30, signal_lost_min=10)


def test_unusable_fixes_are_ignored() -> None:
    engine = GeofenceEngine([HOME], S)
    for lat, lon in ((math.nan, 0.0), (91.0, 0.0), (0.0, 181.0), (math.inf, math.inf)):
        assert engine.process(Fix("r1", T0, lat, lon, 5.0)) == []
    naive = Fix("r1", T0.replace(tzinfo=None), *L.latlon(0, 0), 5.0)
    assert engine.process(naive) == []
    assert engine.tick(T0 + timedelta(hours=1)) == []


def test_event_is_frozen() -> None:
    engine = GeofenceEngine([L.circle("r1", "pond", 60.0, kind="danger")], S)
    events = run(engine, [Fix("r1", T0 + timedelta(seconds=30 * i), *L.latlon(0, 0), 5.0) for i in range(4)])
    with pytest.raises(AttributeError):
        events[0].event = "exit"  # type: ignore[misc]


def test_signal_lost_is_on_time_when_another_zone_waits_for_its_window() -> None:
    """A scheduled zone's far-off due time must not hold back another zone's signal_lost."""
    night = replace(L.rect("r1", "night-home", 300, 300), schedule=NIGHT)
    engine = GeofenceEngine([HOME, night], S)
    home, far = L.latlon(0.0, 0.0), L.latlon(600.0, 0.0)
    run(engine, [Fix("r1", local(4, 9) + timedelta(seconds=30 * i), *home, 5.0) for i in range(4)])
    assert engine.tick(local(4, 11)) == []  # nothing due before the window opens at 20:00
    out = [Fix("r1", local(4, 14) + timedelta(seconds=30 * i), *far, 5.0) for i in range(4)]
    assert [(e.zone_name, e.event) for e in run(engine, out)] == [("home", "exit")]
    lost = engine.tick(local(4, 14, 30))
    assert [(e.zone_name, e.event, e.at) for e in lost] == [
        ("home", "signal_lost", out[-1].at + timedelta(minutes=15))
    ]
