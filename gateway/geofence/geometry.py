"""Planar geometry for fences at village scale.

Each zone gets its own local projection (:class:`LocalProjection`): an equirectangular
projection about the zone's centre that uses the WGS-84 meridional and prime-vertical radii of
curvature at that latitude, so distances within ~10 km of the zone are right to about 0.1 %
(a few centimetres across a village). Vertices are projected once, when the zone is
compiled; a fix is projected once per zone (two multiplications).

Signed distance convention: negative inside, positive outside, in metres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3

Ring = tuple[tuple[float, float], ...]  # (latitude, longitude) vertices, not closed


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular projection about (lat0, lon0): x east, y north, in metres."""

    lat0: float
    lon0: float
    mx: float  # metres per degree of longitude at lat0
    my: float  # metres per degree of latitude at lat0

    @classmethod
    def about(cls, lat0: float, lon0: float) -> LocalProjection:
        phi = math.radians(lat0)
        w = 1.0 - _WGS84_E2 * math.sin(phi) ** 2
        n = _WGS84_A / math.sqrt(w)  # prime vertical radius of curvature
        m = _WGS84_A * (1.0 - _WGS84_E2) / (w * math.sqrt(w))  # meridional radius
        rad = math.pi / 180.0
        return cls(lat0, lon0, n * math.cos(phi) * rad, m * rad)

    def project(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.mx, (lat - self.lat0) * self.my


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in metres between two nearby points (local projection about the first)."""
    p = LocalProjection.about(lat1, lon1)
    x, y = p.project(lat2, lon2)
    return math.hypot(x, y)


def point_in_ring(x: float, y: float, xs: Sequence[float], ys: Sequence[float]) -> bool:
    """Even-odd ray casting; the ring is given as parallel coordinate sequences, not closed."""
    inside = False
    n = len(xs)
    xj, yj = xs[n - 1], ys[n - 1]
    for i in range(n):
        xi, yi = xs[i], ys[i]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        xj, yj = xi, yi
    return inside


def distance_to_ring(x: float, y: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """Distance from (x, y) to the nearest edge of a closed ring (unsigned, metres)."""
    best = math.inf
    n = len(xs)
    xj, yj = xs[n - 1], ys[n - 1]
    for i in range(n):
        xi, yi = xs[i], ys[i]
        dx, dy = xi - xj, yi - yj
        px, py = x - xj, y - yj
        seg2 = dx * dx + dy * dy
        if seg2 > 0.0:
            t = (px * dx + py * dy) / seg2
            if t < 0.0:
                t = 0.0
            elif t > 1.0:
                t = 1.0
            px -= t * dx
            py -= t * dy
        d2 = px * px + py * py
        if d2 < best:
            best = d2
        xj, yj = xi, yi
    return math.sqrt(best)


@dataclass(frozen=True, slots=True)
class ProjectedCircle:
    projection: LocalProjection
    radius_m: float
    # bounding box in degrees
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    @classmethod
    def build(cls, lat: float, lon: float, radius_m: float) -> ProjectedCircle:
        p = LocalProjection.about(lat, lon)
        dlat, dlon = radius_m / p.my, radius_m / p.mx
        return cls(p, radius_m, lat - dlat, lat + dlat, lon - dlon, lon + dlon)

    def signed_distance(self, lat: float, lon: float) -> float:
        x, y = self.projection.project(lat, lon)
        return math.hypot(x, y) - self.radius_m

    def contains(self, lat: float, lon: float) -> bool:
        return self.signed_distance(lat, lon) <= 0.0


@dataclass(frozen=True, slots=True)
class ProjectedPolygon:
    """A polygon (outer ring plus optional holes) with its vertices projected once."""

    projection: LocalProjection
    rings_x: tuple[tuple[float, ...], ...]  # ring 0 is the outer ring, the rest are holes
    rings_y: tuple[tuple[float, ...], ...]
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    @classmethod
    def build(cls, outer: Ring, holes: Sequence[Ring] = ()) -> ProjectedPolygon:
        lats = [v[0] for v in outer]
        lons = [v[1] for v in outer]
        min_lat, max_lat, min_lon, max_lon = min(lats), max(lats), min(lons), max(lons)
        p = LocalProjection.about((min_lat + max_lat) / 2.0, (min_lon + max_lon) / 2.0)
        rx: list[tuple[float, ...]] = []
        ry: list[tuple[float, ...]] = []
        for ring in (outer, *holes):
            pts = [p.project(lat, lon) for lat, lon in ring]
            rx.append(tuple(x for x, _ in pts))
            ry.append(tuple(y for _, y in pts))
        return cls(p, tuple(rx), tuple(ry), min_lat, max_lat, min_lon, max_lon)

    def contains_xy(self, x: float, y: float) -> bool:
        if not point_in_ring(x, y, self.rings_x[0], self.rings_y[0]):
            return False
        for hx, hy in zip(self.rings_x[1:], self.rings_y[1:], strict=True):
            if point_in_ring(x, y, hx, hy):
                return False
        return True

    def boundary_distance_xy(self, x: float, y: float) -> float:
        return min(distance_to_ring(x, y, rx, ry) for rx, ry in zip(self.rings_x, self.rings_y, strict=True))

    def contains(self, lat: float, lon: float) -> bool:
        x, y = self.projection.project(lat, lon)
        return self.contains_xy(x, y)

    def signed_distance(self, lat: float, lon: float) -> float:
        x, y = self.projection.project(lat, lon)
        d = self.boundary_distance_xy(x, y)
        return -d if self.contains_xy(x, y) else d


Shape = ProjectedCircle | ProjectedPolygon
