"""Distances to fence boundaries, point in polygon, and their agreement."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.geofence.geometry import (
    LocalProjection,
    ProjectedCircle,
    ProjectedPolygon,
    distance_m,
    distance_to_ring,
    point_in_ring,
)
from tests.support.geofence_traces import Local

L = Local()


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


@pytest.mark.parametrize("east,north", [(100, 0), (0, 1000), (3000, -4000), (-7000, 7000)])
def test_local_distance_agrees_with_great_circle(east: float, north: float) -> None:
    lat, lon = L.latlon(east, north)
    d = distance_m(L.lat0, L.lon0, lat, lon)
    assert d == pytest.approx(math.hypot(east, north), rel=1e-9)
    # the sphere differs from the ellipsoid by < 0.5 %; at 10 km the projection error is smaller
    assert d == pytest.approx(haversine(L.lat0, L.lon0, lat, lon), rel=5e-3)


def test_one_degree_of_latitude_is_about_110_9_km_at_30_degrees() -> None:
    p = LocalProjection.about(30.0, 114.0)
    assert p.my == pytest.approx(110_852, abs=5)  # WGS-84 meridian arc at 30 deg
    assert p.mx == pytest.approx(96_486, abs=5)


def test_circle_signed_distance() -> None:
    lat, lon = L.latlon(0, 0)
    c = ProjectedCircle.build(lat, lon, 50.0)
    assert c.signed_distance(*L.latlon(0, 0)) == pytest.approx(-50.0)
    assert c.signed_distance(*L.latlon(30, 40)) == pytest.approx(0.0, abs=1e-6)
    assert c.signed_distance(*L.latlon(0, 150)) == pytest.approx(100.0, abs=1e-6)
    assert c.contains(*L.latlon(10, 10)) and not c.contains(*L.latlon(60, 0))


def square() -> ProjectedPolygon:
    pts = tuple(L.latlon(e, n) for e, n in ((-100, -100), (100, -100), (100, 100), (-100, 100)))
    return ProjectedPolygon.build(pts)


@pytest.mark.parametrize(
    "east,north,expected",
    [(0, 0, -100.0), (90, 0, -10.0), (110, 0, 10.0), (130, 140, math.hypot(30, 40)), (-100, 50, 0.0)],
)
def test_polygon_signed_distance(east: float, north: float, expected: float) -> None:
    assert square().signed_distance(*L.latlon(east, north)) == pytest.approx(expected, abs=1e-6)


def test_polygon_with_hole() -> None:
    outer = tuple(L.latlon(e, n) for e, n in ((-100, -100), (100, -100), (100, 100), (-100, 100)))
    hole = tuple(L.latlon(e, n) for e, n in ((-20, -20), (20, -20), (20, 20), (-20, 20)))
    p = ProjectedPolygon.build(outer, [hole])
    assert not p.contains(*L.latlon(0, 0))
    assert p.signed_distance(*L.latlon(0, 0)) == pytest.approx(20.0, abs=1e-6)
    assert p.signed_distance(*L.latlon(50, 0)) == pytest.approx(-30.0, abs=1e-6)


def test_concave_polygon() -> None:
    # a U shape: the notch is outside
    pts = ((0, 0), (300, 0), (300, 300), (200, 300), (200, 100), (100, 100), (100, 300), (0, 300))
    p = ProjectedPolygon.build(tuple(L.latlon(e, n) for e, n in pts))
    assert p.contains(*L.latlon(50, 250))
    assert not p.contains(*L.latlon(150, 250))
    # (the polygon is projected about its own centre, 150 m from L's origin: scale differs 1e-5)
    assert p.signed_distance(*L.latlon(150, 250)) == pytest.approx(50.0, abs=1e-3)


def test_bounding_box_covers_the_polygon() -> None:
    p = square()
    lat_lo, lon_lo = L.latlon(-100, -100)
    lat_hi, lon_hi = L.latlon(100, 100)
    assert (p.min_lat, p.min_lon, p.max_lat, p.max_lon) == pytest.approx((lat_lo, lon_lo, lat_hi, lon_hi))


@st.composite
def star_polygons(draw: st.DrawFn) -> list[tuple[float, float]]:
    """Simple (star-shaped) polygons: random radii at jittered, increasing angles."""
    n = draw(st.integers(3, 40))
    jitter = draw(st.lists(st.floats(0.0, 0.9), min_size=n, max_size=n))
    radii = draw(st.lists(st.floats(20, 2000), min_size=n, max_size=n))
    step = 2 * math.pi / n
    return [
        (r * math.cos((i + j) * step), r * math.sin((i + j) * step))
        for i, (r, j) in enumerate(zip(radii, jitter, strict=True))
    ]


@settings(max_examples=200, deadline=None)
@given(star_polygons(), st.floats(-3000, 3000), st.floats(-3000, 3000))
def test_signed_distance_is_consistent_with_point_in_polygon(
    poly: list[tuple[float, float]], x: float, y: float
) -> None:
    xs = [p[0] for p in poly]
    ys = [p[1] for p in poly]
    d = distance_to_ring(x, y, xs, ys)
    inside = point_in_ring(x, y, xs, ys)
    # through the lat/lon path as the engine uses it
    p = ProjectedPolygon.build(tuple(L.latlon(px, py) for px, py in poly))
    lat, lon = L.latlon(x, y)
    sd = p.signed_distance(lat, lon)
    # two projections about different centres: they differ by ~1e-4 of a few km
    tolerance = 0.01 + 2e-4 * (d + math.hypot(x, y))
    assert abs(abs(sd) - d) < tolerance
    if d > tolerance:  # away from the boundary itself, the sign must agree
        assert (sd < 0) == inside == p.contains(lat, lon)
    # the distance is never more than to any vertex
    assert d <= min(math.hypot(x - px, y - py) for px, py in poly) + 1e-6
