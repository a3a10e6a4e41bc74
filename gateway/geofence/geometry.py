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
from dataclasses import dataclass, field

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


Edge = tuple[float, float, float, float, float]  # start x, start y, dx, dy, 1 / length²


def ring_edges(xs: Sequence[float], ys: Sequence[float]) -> tuple[Edge, ...]:
    """Per-edge constants so that :func:`distance_to_edges` does the least work per edge."""
    out = []
    n = len(xs)
    for i in range(n):
        xj, yj = xs[i - 1], ys[i - 1]
        dx, dy = xs[i] - xj, ys[i] - yj
        seg2 = dx * dx + dy * dy
        out.append((xj, yj, dx, dy, 1.0 / seg2 if seg2 > 0.0 else 0.0))
    return tuple(out)


def distance_to_edges(x: float, y: float, edges: Sequence[Edge]) -> float:
    """Same as :func:`distance_to_ring`, on precomputed edges."""
    best = math.inf
    for xj, yj, dx, dy, inv in edges:
        px, py = x - xj, y - yj
        t = (px * dx + py * dy) * inv
        if t > 0.0:
            if t > 1.0:
                t = 1.0
            px -= t * dx
            py -= t * dy
        d2 = px * px + py * py
        if d2 < best:
            best = d2
    return math.sqrt(best)


def edges_within(x: float, y: float, edges: Sequence[Edge], limit: float) -> bool:
    """Whether some edge is within ``limit`` metres; stops at the first one found."""
    lim2 = limit * limit
    for xj, yj, dx, dy, inv in edges:
        px, py = x - xj, y - yj
        t = (px * dx + py * dy) * inv
        if t > 0.0:
            if t > 1.0:
                t = 1.0
            px -= t * dx
            py -= t * dy
        if px * px + py * py <= lim2:
            return True
    return False


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


GRID = 8  # cells per side of a polygon's bounding box for the lazy bound cache
_EPS = 1e-6  # metres; keeps cached bounds strictly conservative under rounding


@dataclass(frozen=True, slots=True)
class ProjectedPolygon:
    """A polygon (outer ring plus optional holes) with its vertices projected once.

    ``cell_bound`` answers most queries in O(1): the bounding box is cut into a GRID x GRID
    grid and, the first time a cell is hit, the exact signed distance of its centre is
    computed. As the distance to the boundary changes by at most the distance moved, every
    point of the cell is at least ``|d(centre)| - half diagonal`` from the boundary, on the
    centre's side. Cells the boundary may cross give no bound and fall back to exact code.
    """

    projection: LocalProjection
    rings_x: tuple[tuple[float, ...], ...]  # ring 0 is the outer ring, the rest are holes
    rings_y: tuple[tuple[float, ...], ...]
    edges: tuple[tuple[Edge, ...], ...]  # per ring
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float
    grid_x0: float
    grid_y0: float
    cell_w: float
    cell_h: float
    half_diagonal: float
    cells: list[float | None] = field(compare=False, repr=False)

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
        x0, y0 = min(rx[0]), min(ry[0])
        w = max(max(rx[0]) - x0, 1e-3) / GRID
        h = max(max(ry[0]) - y0, 1e-3) / GRID
        edges = tuple(ring_edges(xs, ys) for xs, ys in zip(rx, ry, strict=True))
        return cls(
            p, tuple(rx), tuple(ry), edges, min_lat, max_lat, min_lon, max_lon,
            x0, y0, w, h, math.hypot(w, h) / 2.0, [None] * (GRID * GRID),
        )  # fmt: skip

    def contains_xy(self, x: float, y: float) -> bool:
        if not point_in_ring(x, y, self.rings_x[0], self.rings_y[0]):
            return False
        for hx, hy in zip(self.rings_x[1:], self.rings_y[1:], strict=True):
            if point_in_ring(x, y, hx, hy):
                return False
        return True

    def boundary_distance_xy(self, x: float, y: float) -> float:
        if len(self.edges) == 1:
            return distance_to_edges(x, y, self.edges[0])
        return min(distance_to_edges(x, y, e) for e in self.edges)

    def boundary_farther_than(self, x: float, y: float, limit: float) -> bool:
        """``boundary_distance_xy(x, y) > limit``, with an early exit."""
        return not any(edges_within(x, y, e, limit) for e in self.edges)

    def cell_bound(self, x: float, y: float) -> float:
        """A signed bound valid for every point of (x, y)'s grid cell: ``b > 0``: outside by at
        least ``b`` metres; ``b < 0``: inside by at least ``-b``; ``0.0``: no bound known."""
        i = int((x - self.grid_x0) / self.cell_w)
        j = int((y - self.grid_y0) / self.cell_h)
        if not (0 <= i < GRID and 0 <= j < GRID) or x < self.grid_x0 or y < self.grid_y0:
            return 0.0
        k = j * GRID + i
        b = self.cells[k]
        if b is None:
            cx = self.grid_x0 + (i + 0.5) * self.cell_w
            cy = self.grid_y0 + (j + 0.5) * self.cell_h
            lower = self.boundary_distance_xy(cx, cy) - self.half_diagonal - _EPS
            b = 0.0 if lower <= 0.0 else -lower if self.contains_xy(cx, cy) else lower
            self.cells[k] = b
        return b

    def contains(self, lat: float, lon: float) -> bool:
        x, y = self.projection.project(lat, lon)
        return self.contains_xy(x, y)

    def signed_distance(self, lat: float, lon: float) -> float:
        x, y = self.projection.project(lat, lon)
        d = self.boundary_distance_xy(x, y)
        return -d if self.contains_xy(x, y) else d


Shape = ProjectedCircle | ProjectedPolygon
