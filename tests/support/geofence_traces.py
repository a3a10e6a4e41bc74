"""Recorded-style GPS traces for fence tests: noisy fixes every 30-60 s along a path.

Positions are given in metres east/north of an origin (a village near Wuhan by default) and
turned into WGS-84 fixes with Gaussian noise whose size matches the reported accuracy, as
a phone or watch reports it (accuracy ~ 68 % radius, i.e. about 1.5 sigma per axis).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.geofence.engine import Fix
from gateway.geofence.geometry import LocalProjection
from gateway.geofence.zones import Circle, Polygon, Zone

ORIGIN = (30.5928, 114.3055)
T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in China


@dataclass(frozen=True)
class Local:
    """Local metric frame about an origin, for building zones and traces."""

    lat0: float = ORIGIN[0]
    lon0: float = ORIGIN[1]

    @property
    def proj(self) -> LocalProjection:
        return LocalProjection.about(self.lat0, self.lon0)

    def latlon(self, east: float, north: float) -> tuple[float, float]:
        p = self.proj
        return self.lat0 + north / p.my, self.lon0 + east / p.mx

    def rect(self, resident: str, name: str, w: float, h: float, kind: str = "safe", **kw: object) -> Zone:
        """A w x h metre rectangle centred on the origin."""
        pts = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
        return Zone(resident, name, kind, Polygon(tuple(self.latlon(e, n) for e, n in pts)), **kw)  # type: ignore[arg-type]

    def regular(self, resident: str, name: str, radius: float, n: int, kind: str = "safe") -> Zone:
        pts = [
            (radius * math.cos(2 * math.pi * i / n), radius * math.sin(2 * math.pi * i / n)) for i in range(n)
        ]
        return Zone(resident, name, kind, Polygon(tuple(self.latlon(e, n_) for e, n_ in pts)))  # type: ignore[arg-type]

    def circle(
        self, resident: str, name: str, radius: float, kind: str = "safe", east: float = 0, north: float = 0
    ) -> Zone:
        lat, lon = self.latlon(east, north)
        return Zone(resident, name, kind, Circle(lat, lon, radius))  # type: ignore[arg-type]


Path = Callable[[float], tuple[float, float]]  # seconds since start -> (east, north) metres


def standing(east: float, north: float) -> Path:
    return lambda t: (east, north)


def walk(
    start: tuple[float, float], heading_deg: float, speed: float, after_s: float, stop_after_m: float
) -> Path:
    """Stand at ``start`` until ``after_s``, then walk at ``speed`` m/s for ``stop_after_m``."""

    def at(t: float) -> tuple[float, float]:
        d = min(max(0.0, t - after_s) * speed, stop_after_m)
        h = math.radians(heading_deg)
        return start[0] + d * math.sin(h), start[1] + d * math.cos(h)

    return at


def trace(
    resident: str,
    path: Path,
    *,
    duration_s: float,
    seed: int,
    start: datetime = T0,
    interval: tuple[float, float] = (30.0, 60.0),
    accuracy: tuple[float, float] = (5.0, 15.0),
    local: Local = Local(),
    missing_accuracy: bool = False,
) -> Iterator[Fix]:
    rng = random.Random(seed)
    t = 0.0
    while t <= duration_s:
        east, north = path(t)
        acc = rng.uniform(*accuracy)
        sigma = acc / 1.5
        lat, lon = local.latlon(east + rng.gauss(0, sigma), north + rng.gauss(0, sigma))
        yield Fix(
            resident,
            start + timedelta(seconds=t),
            lat,
            lon,
            None if missing_accuracy else round(acc, 1),
            "test",
        )
        t += rng.uniform(*interval)
