"""GeoJSON zone import: the accepted shapes, datums, schedules and clear refusals."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.geofence.datum import gcj02_to_wgs84, wgs84_to_bd09
from gateway.geofence.errors import ZoneError
from gateway.geofence.geometry import distance_m
from gateway.geofence.schedule import Schedule, parse_schedule
from gateway.geofence.zones import (
    Circle,
    Polygon,
    Zone,
    load_geojson,
    parse_feature,
    parse_feature_collection,
    to_feature,
)

RING = [[114.30, 30.59], [114.31, 30.59], [114.31, 30.60], [114.30, 30.60], [114.30, 30.59]]


def poly(name: str = "home", **props: Any) -> dict[str, Any]:
    p = {"resident_id": "r1", "name": name, "kind": "safe", **props}
    return {
        "type": "Feature",
        "properties": p,
        "geometry": {"type": "Polygon", "coordinates": [copy.deepcopy(RING)]},
    }


def point(name: str = "pond", **props: Any) -> dict[str, Any]:
    p = {"resident_id": "r1", "name": name, "kind": "danger", "radius_m": 40, **props}
    return {
        "type": "Feature",
        "properties": p,
        "geometry": {"type": "Point", "coordinates": [114.305, 30.595]},
    }


def fc(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def test_polygon_and_circle() -> None:
    home, pond = parse_feature_collection(fc(poly(), point()))
    assert home == Zone("r1", "home", "safe", Polygon(tuple((lat, lon) for lon, lat in RING[:-1])))
    assert pond == Zone("r1", "pond", "danger", Circle(30.595, 114.305, 40.0))
    assert home.id == "r1/home"


def test_unclosed_ring_and_altitude_are_accepted() -> None:
    f = poly()
    f["geometry"]["coordinates"] = [[[*p, 12.0] for p in RING[:-1]]]
    (z,) = parse_feature_collection(fc(f))
    assert isinstance(z.shape, Polygon) and len(z.shape.outer) == 4


def test_holes_are_kept() -> None:
    f = poly()
    hole = [[114.303, 30.593], [114.304, 30.593], [114.304, 30.594], [114.303, 30.594], [114.303, 30.593]]
    f["geometry"]["coordinates"].append(hole)
    (z,) = parse_feature_collection(fc(f))
    assert isinstance(z.shape, Polygon) and len(z.shape.holes) == 1


def test_gcj02_and_bd09_are_converted_to_wgs84() -> None:
    (z,) = parse_feature_collection(fc(point(datum="gcj02")))
    assert isinstance(z.shape, Circle)
    assert (z.shape.latitude, z.shape.longitude) == gcj02_to_wgs84(30.595, 114.305)
    assert z.source_datum == "gcj02"
    # the default datum applies to features without their own
    (z2,) = parse_feature_collection(fc(point()), default_datum="gcj02")
    assert z2.shape == z.shape
    # a Baidu point of a known WGS-84 place comes back to that place
    blat, blon = wgs84_to_bd09(30.595, 114.305)
    f = point(datum="bd09")
    f["geometry"]["coordinates"] = [blon, blat]
    (z3,) = parse_feature_collection(fc(f))
    assert isinstance(z3.shape, Circle)
    assert distance_m(z3.shape.latitude, z3.shape.longitude, 30.595, 114.305) < 0.01


def test_resident_argument_fills_in_and_checks() -> None:
    f = point()
    del f["properties"]["resident_id"]
    (z,) = parse_feature_collection(fc(f), resident_id="r7")
    assert z.resident_id == "r7"
    with pytest.raises(ZoneError, match=r"features\[0\]\.properties\.resident_id: missing"):
        parse_feature_collection(fc(f))
    with pytest.raises(ZoneError, match=r"belongs to resident 'r1', but the import is for 'r2'"):
        parse_feature_collection(fc(point()), resident_id="r2")


def _bad(mutate: Any) -> dict[str, Any]:
    data = fc(poly(), point())
    mutate(data)
    return data


BAD = [
    (lambda d: d.update(type="Feature"), r"^type: expected a GeoJSON FeatureCollection, got type 'Feature'"),
    (lambda d: d.update(features={}), r"^features: expected a list of features"),
    (lambda d: d.update(features=[]), r"^features: the collection has no features"),
    (lambda d: d["features"].append(42), r"^features\[2\]: expected an object"),
    (
        lambda d: d["features"][1]["properties"].update(kind="dangr"),
        r"^features\[1\]\.properties\.kind: expected 'safe' or 'danger', got 'dangr'",
    ),
    (
        lambda d: d["features"][0]["properties"].update(name=""),
        r"^features\[0\]\.properties\.name: expected a non-empty string",
    ),
    (
        lambda d: d["features"][1]["properties"].update(name="home"),
        r"^features\[1\]\.properties\.name: resident 'r1' already has a zone named 'home' \(features\[0\]\)",
    ),
    (
        lambda d: d["features"][1]["properties"].pop("radius_m"),
        r"^features\[1\]\.geometry: a Point zone needs properties\.radius_m",
    ),
    (
        lambda d: d["features"][1]["properties"].update(radius_m=-5),
        r"^features\[1\]\.properties\.radius_m: radius must be above 0",
    ),
    (
        lambda d: d["features"][1]["properties"].update(radius_m="40"),
        r"^features\[1\]\.properties\.radius_m: expected a number, got '40'",
    ),
    (
        lambda d: d["features"][0]["properties"].update(radius_m=5),
        r"^features\[0\]\.properties\.radius_m: radius_m applies only to a Point",
    ),
    (
        lambda d: d["features"][0]["properties"].update(datum="wgs-84"),
        r"^features\[0\]\.properties\.datum: expected one of wgs84, gcj02, bd09",
    ),
    (
        lambda d: d["features"][0]["geometry"].update(type="MultiPolygon"),
        r"^features\[0\]\.geometry\.type: MultiPolygon is not supported",
    ),
    (
        lambda d: d["features"][0]["geometry"].update(type="LineString"),
        r"^features\[0\]\.geometry\.type: expected Polygon or Point, got 'LineString'",
    ),
    (
        lambda d: d["features"][0].update(geometry=None),
        r"^features\[0\]\.geometry: expected a Polygon or Point",
    ),
    (
        lambda d: d["features"][0]["geometry"]["coordinates"][0].__setitem__(1, [30.59, 114.31]),
        r"^features\[0\]\.geometry\.coordinates\[0\]\[1\]: latitude 114\.31 is outside -90\.\.90"
        r" \(GeoJSON is \[lon, lat\]\)",
    ),
    (
        lambda d: d["features"][0]["geometry"]["coordinates"][0].__setitem__(2, [114.31, None]),
        r"^features\[0\]\.geometry\.coordinates\[0\]\[2\]\[1\]: expected a number, got None",
    ),
    (
        lambda d: d["features"][0]["geometry"].update(
            coordinates=[[[114.3, 30.5], [114.4, 30.5], [114.3, 30.5]]]
        ),
        r"^features\[0\]\.geometry\.coordinates\[0\]: a ring needs at least 3 distinct positions, got 2",
    ),
    (
        lambda d: d["features"][0]["geometry"].update(
            coordinates=[[[114.3, 30.5], [114.4, 30.5], [114.5, 30.5]]]
        ),
        r"^features\[0\]\.geometry\.coordinates\[0\]: the ring encloses no area",
    ),
    (
        lambda d: d["features"][0]["geometry"].update(coordinates=[]),
        r"^features\[0\]\.geometry\.coordinates: a Polygon needs a non-empty list of rings",
    ),
    (
        lambda d: d["features"][1]["properties"].update(schedule={"from": "20:00", "to": "06:00"}),
        r"^features\[1\]\.properties\.schedule\.tz: a schedule needs a time zone",
    ),
    (
        lambda d: d["features"][1]["properties"].update(
            schedule={"from": "25:00", "to": "06:00", "tz": "Asia/Shanghai"}
        ),
        r"^features\[1\]\.properties\.schedule\.from: expected a time of day",
    ),
    (
        lambda d: d["features"][1]["properties"].update(schedule={"from": "20:00", "tz": "Asia/Shanghai"}),
        r"^features\[1\]\.properties\.schedule\.to: give both from and to",
    ),
    (
        lambda d: d["features"][1]["properties"].update(
            schedule={"days": ["mon", "fry"], "tz": "Asia/Shanghai"}
        ),
        r"^features\[1\]\.properties\.schedule\.days\[1\]: expected one of mon",
    ),
    (
        lambda d: d["features"][1]["properties"].update(schedule={"tz": "Mars/Olympus"}),
        r"^features\[1\]\.properties\.schedule\.tz: unknown time zone 'Mars/Olympus'",
    ),
    (
        lambda d: d["features"][1]["properties"].update(schedule={"tz": "UTC", "every": "night"}),
        r"^features\[1\]\.properties\.schedule: unknown key 'every'",
    ),
    (
        lambda d: d["features"][1]["properties"].update(
            schedule={"tz": "UTC", "from": "06:00", "to": "06:00"}
        ),
        r"^features\[1\]\.properties\.schedule\.to: from and to are equal",
    ),
]


@pytest.mark.parametrize("mutate,message", BAD)
def test_bad_collections_are_refused_naming_index_and_field(mutate: Any, message: str) -> None:
    with pytest.raises(ZoneError, match=message) as err:
        parse_feature_collection(_bad(mutate))
    assert "\n" not in str(err.value)
    assert err.value.hint and "nothing was changed" in err.value.hint


def test_load_geojson_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "zones.geojson"
    f.write_text("{not json", encoding="utf-8")
    with pytest.raises(ZoneError, match=r"zones.geojson is not valid JSON \(line 1, column 2"):
        load_geojson(f)
    f.write_text(json.dumps(_bad(BAD[4][0])), encoding="utf-8")
    with pytest.raises(ZoneError, match=r"zones.geojson: features\[1\]\.properties\.kind"):
        load_geojson(f)
    with pytest.raises(ZoneError, match="does not exist"):
        load_geojson(tmp_path / "missing.geojson")


def test_to_feature_round_trips() -> None:
    night = {"days": ["mon", "fri"], "from": "20:00", "to": "06:00", "tz": "Asia/Shanghai"}
    f = poly(schedule=night)
    f["geometry"]["coordinates"].append(
        [[114.303, 30.593], [114.304, 30.593], [114.304, 30.594], [114.303, 30.594], [114.303, 30.593]]
    )
    zones = parse_feature_collection(fc(f, point()))
    for z in zones:
        assert parse_feature(json.loads(json.dumps(to_feature(z))), 0) == z


# ------------------------------------------------------------------ schedules


def cn(day: int, hh: int, mm: int = 0) -> datetime:
    """May 2026 (the 4th is a Monday), Asia/Shanghai wall time as UTC."""
    return datetime(2026, 5, day, hh, mm, tzinfo=UTC) - timedelta(hours=8)


def test_overnight_window_crosses_midnight() -> None:
    s = parse_schedule({"days": ["mon"], "from": "20:00", "to": "06:00", "tz": "Asia/Shanghai"})
    assert s == Schedule("Asia/Shanghai", frozenset({0}), time(20), time(6))
    assert not s.is_active(cn(4, 19, 59))
    assert s.is_active(cn(4, 20, 0))
    assert s.is_active(cn(5, 3, 0))  # Tuesday 03:00 belongs to Monday's night
    assert not s.is_active(cn(5, 6, 0))
    assert not s.is_active(cn(5, 21, 0))  # Tuesday night is not listed
    assert s.next_active(cn(4, 12)) == cn(4, 20)
    assert s.next_active(cn(5, 7)) == cn(11, 20)  # next Monday
    assert s.next_active(cn(5, 1)) == cn(5, 1)


def test_day_window_and_whole_days() -> None:
    day = parse_schedule({"from": "08:00", "to": "17:30", "tz": "Asia/Shanghai"})
    assert day.is_active(cn(6, 12)) and not day.is_active(cn(6, 18))
    weekend = parse_schedule({"days": ["sat", "sun"], "tz": "Asia/Shanghai"})
    assert weekend.is_active(cn(9, 0, 0)) and weekend.is_active(cn(10, 23, 59))
    assert not weekend.is_active(cn(11, 0, 0))
    assert weekend.next_active(cn(6, 12)) == cn(9, 0)


def test_schedule_json_round_trip() -> None:
    raw = {"days": ["mon", "wed"], "from": "21:30", "to": "05:45", "tz": "Asia/Shanghai"}
    assert parse_schedule(raw).to_json() == raw
    assert parse_schedule({"tz": "UTC"}).to_json() == {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "tz": "UTC",
    }
