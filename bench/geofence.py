"""Fence engine throughput against bare point-in-polygon, same data, same run.

1,000 residents, each with 3 polygon zones of 50 vertices (home and field: safe; pond:
danger), spread over villages of a county. Fixes: mostly at home, some walking in the
fields and beyond, GPS noise, one fix per resident every 30-60 s, interleaved in time.

* engine: ``GeofenceEngine.process`` on every fix (projection, bbox rejection, hysteresis,
  state machines, history), plus ``tick`` once per simulated 30 s.
* bare:   even-odd ray casting of the raw fix against the raw (lon, lat) vertices of the
  resident's 3 polygons: the least any fence check must do (what Traccar does per fix).

Usage: .venv/bin/python bench/geofence.py [--residents N] [--fixes-per-resident K] [--repeat R]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from datetime import UTC, datetime, timedelta

from gateway.geofence.engine import FenceSettings, Fix, GeofenceEngine
from gateway.geofence.geometry import LocalProjection
from gateway.geofence.zones import Polygon, Zone

VERTICES = 50
T0 = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)


def blob(rng: random.Random, proj: LocalProjection, east: float, north: float, radius: float) -> Polygon:
    """An irregular 50-vertex polygon around (east, north) metres."""
    pts = []
    for i in range(VERTICES):
        a = 2 * math.pi * i / VERTICES
        r = radius * rng.uniform(0.75, 1.25)
        x, y = east + r * math.cos(a), north + r * math.sin(a)
        pts.append((proj.lat0 + y / proj.my, proj.lon0 + x / proj.mx))
    return Polygon(tuple(pts))


def build(residents: int, per_resident: int, seed: int) -> tuple[list[Zone], list[Fix]]:
    rng = random.Random(seed)
    zones: list[Zone] = []
    tracks: list[list[Fix]] = []
    for i in range(residents):
        rid = f"R{i:04d}"
        lat0, lon0 = 30.0 + rng.uniform(0, 0.5), 114.0 + rng.uniform(0, 0.5)
        proj = LocalProjection.about(lat0, lon0)
        zones.append(Zone(rid, "home", "safe", blob(rng, proj, 0, 0, 150)))
        zones.append(Zone(rid, "field", "safe", blob(rng, proj, 400, 0, 250)))
        zones.append(Zone(rid, "pond", "danger", blob(rng, proj, -250, 150, 40)))
        track = []
        t = T0 + timedelta(seconds=rng.uniform(0, 60))
        east = north = 0.0
        for _ in range(per_resident):
            # a random walk that mostly stays near home, sometimes wanders out
            east += rng.gauss(0, 15)
            north += rng.gauss(0, 15)
            east *= 0.97
            north *= 0.97
            if rng.random() < 0.01:
                east, north = rng.uniform(-1500, 1500), rng.uniform(-1500, 1500)
            acc = rng.uniform(4, 25)
            x, y = east + rng.gauss(0, acc / 1.5), north + rng.gauss(0, acc / 1.5)
            track.append(Fix(rid, t, lat0 + y / proj.my, lon0 + x / proj.mx, round(acc, 1), "bench"))
            t += timedelta(seconds=rng.uniform(30, 60))
        tracks.append(track)
    fixes = sorted((f for tr in tracks for f in tr), key=lambda f: f.at)
    return zones, fixes


def bare_pip(x: float, y: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> bool:
    inside = False
    n = len(xs)
    xj, yj = xs[n - 1], ys[n - 1]
    for i in range(n):
        xi, yi = xs[i], ys[i]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        xj, yj = xi, yi
    return inside


def run_bare(zones: list[Zone], fixes: list[Fix]) -> tuple[float, int]:
    polys: dict[str, list[tuple[tuple[float, ...], tuple[float, ...]]]] = {}
    for z in zones:
        assert isinstance(z.shape, Polygon)
        xs = tuple(v[1] for v in z.shape.outer)
        ys = tuple(v[0] for v in z.shape.outer)
        polys.setdefault(z.resident_id, []).append((xs, ys))
    inside = 0
    start = time.perf_counter()
    for f in fixes:
        for xs, ys in polys[f.resident_id]:
            if bare_pip(f.longitude, f.latitude, xs, ys):
                inside += 1
    return time.perf_counter() - start, inside


def run_engine(zones: list[Zone], fixes: list[Fix]) -> tuple[float, int]:
    engine = GeofenceEngine(zones, FenceSettings())
    events = 0
    next_tick = fixes[0].at
    step = timedelta(seconds=30)
    start = time.perf_counter()
    for f in fixes:
        if f.at >= next_tick:
            events += len(engine.tick(f.at))
            next_tick = f.at + step
        events += len(engine.process(f))
    return time.perf_counter() - start, events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, default=1000)
    ap.add_argument("--fixes-per-resident", type=int, default=160, help="160 = about 2 hours")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    zones, fixes = build(args.residents, args.fixes_per_resident, args.seed)
    n = len(fixes)
    print(f"{args.residents} residents x 3 polygon zones x {VERTICES} vertices, {n} fixes")
    bare_times, engine_times = [], []
    for _ in range(args.repeat):  # interleaved, best of each: fair under background load
        t, inside = run_bare(zones, fixes)
        bare_times.append(t)
        t, events = run_engine(zones, fixes)  # a fresh engine each time: caches start cold
        engine_times.append(t)
    bare_t, engine_t = min(bare_times), min(engine_times)
    print(f"bare point-in-polygon: {n / bare_t:12,.0f} fixes/s  ({inside} fix-zone pairs inside)")
    print(f"fence engine:          {n / engine_t:12,.0f} fixes/s  ({events} events)")
    print(f"ratio engine/bare:     {bare_t / engine_t:12.2f}  (1.00 = as fast as bare point-in-polygon)")


if __name__ == "__main__":
    main()
