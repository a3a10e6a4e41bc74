"""Zones: a resident's safe and danger areas, and their GeoJSON import.

A zone file is a GeoJSON FeatureCollection. Each feature is one zone: a ``Polygon`` (outer
ring, optional holes) or a ``Point`` with ``properties.radius_m`` (a circle). Properties:
``resident_id``, ``name``, ``kind`` (``safe``: alert when outside; ``danger``: alert when
inside), optional ``datum`` (``wgs84`` default, ``gcj02``, ``bd09``) and optional
``schedule`` (see :mod:`gateway.geofence.schedule`). Other properties (map styling) are
ignored. Coordinates are converted to WGS-84 on import; a :class:`Zone` is always WGS-84.

Errors name the feature index and the field, e.g.
``features[2].properties.kind: expected 'safe' or 'danger', got 'dangr'``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gateway.geofence.datum import DATUMS, Datum, to_wgs84
from gateway.geofence.errors import ZoneError
from gateway.geofence.geometry import LocalProjection, Ring
from gateway.geofence.schedule import Schedule, parse_schedule

Kind = Literal["safe", "danger"]
KINDS: tuple[Kind, ...] = ("safe", "danger")
MAX_RADIUS_M = 50_000.0
MAX_NAME = 64


@dataclass(frozen=True, slots=True)
class Circle:
    latitude: float
    longitude: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class Polygon:
    outer: Ring  # (latitude, longitude) vertices, not closed
    holes: tuple[Ring, ...] = ()


@dataclass(frozen=True, slots=True)
class Zone:
    """One fence of one resident, in WGS-84. ``id`` is stable across re-imports."""

    resident_id: str
    name: str
    kind: Kind
    shape: Circle | Polygon
    schedule: Schedule | None = None
    source_datum: Datum = "wgs84"

    @property
    def id(self) -> str:
        return f"{self.resident_id}/{self.name}"


# ---------------------------------------------------------------- GeoJSON -> Zone


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ZoneError(f"expected a number, got {value!r}", field=field)
    return float(value)


def _position(value: Any, field: str, datum: Datum) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise ZoneError(f"expected a position [longitude, latitude], got {value!r}", field=field)
    lon = _number(value[0], f"{field}[0]")
    lat = _number(value[1], f"{field}[1]")
    if not -180.0 <= lon <= 180.0:
        raise ZoneError(f"longitude {lon} is outside -180..180 (GeoJSON is [lon, lat])", field=field)
    if not -90.0 <= lat <= 90.0:
        raise ZoneError(f"latitude {lat} is outside -90..90 (GeoJSON is [lon, lat])", field=field)
    return to_wgs84(datum, lat, lon)


def _ring(value: Any, field: str, datum: Datum) -> Ring:
    if not isinstance(value, list):
        raise ZoneError(f"expected a list of positions, got {type(value).__name__}", field=field)
    # Drop the closing position, judged on the file's own numbers (before conversion).
    raw = list(value)
    if len(raw) >= 2 and raw[0] == raw[-1]:
        raw = raw[:-1]
    pts = [_position(p, f"{field}[{i}]", datum) for i, p in enumerate(raw)]
    distinct = set(pts)
    if len(distinct) < 3:
        raise ZoneError(f"a ring needs at least 3 distinct positions, got {len(distinct)}", field=field)
    lat0 = sum(p[0] for p in pts) / len(pts)
    lon0 = sum(p[1] for p in pts) / len(pts)
    proj = LocalProjection.about(lat0, lon0)
    xy = [proj.project(lat, lon) for lat, lon in pts]
    area = 0.0
    for i in range(len(xy)):
        x1, y1 = xy[i - 1]
        x2, y2 = xy[i]
        area += x1 * y2 - x2 * y1
    if abs(area) / 2.0 < 1.0:
        raise ZoneError("the ring encloses no area (under 1 m²); are the positions in a line?", field=field)
    return tuple(pts)


def _geometry(geom: Any, props: dict[str, Any], field: str, datum: Datum) -> Circle | Polygon:
    if not isinstance(geom, dict):
        raise ZoneError("expected a Polygon or Point geometry object", field=field)
    gtype = geom.get("type")
    coords = geom.get("coordinates")
    if gtype == "Point":
        if "radius_m" not in props:
            raise ZoneError("a Point zone needs properties.radius_m (circle radius in metres)", field=field)
        radius = _number(props["radius_m"], field.replace("geometry", "properties.radius_m"))
        if not 0.0 < radius <= MAX_RADIUS_M:
            raise ZoneError(
                f"radius must be above 0 and at most {MAX_RADIUS_M:.0f} m, got {radius}",
                field=field.replace("geometry", "properties.radius_m"),
            )
        lat, lon = _position(coords, f"{field}.coordinates", datum)
        return Circle(lat, lon, radius)
    if gtype == "Polygon":
        if "radius_m" in props:
            raise ZoneError(
                "radius_m applies only to a Point zone; remove it from this Polygon",
                field=field.replace("geometry", "properties.radius_m"),
            )
        if not isinstance(coords, list) or not coords:
            raise ZoneError("a Polygon needs a non-empty list of rings", field=f"{field}.coordinates")
        outer = _ring(coords[0], f"{field}.coordinates[0]", datum)
        holes = tuple(_ring(r, f"{field}.coordinates[{i}]", datum) for i, r in enumerate(coords[1:], 1))
        return Polygon(outer, holes)
    if gtype == "MultiPolygon":
        raise ZoneError(
            "MultiPolygon is not supported; make one Polygon feature per zone", field=f"{field}.type"
        )
    raise ZoneError(f"expected Polygon or Point, got {gtype!r}", field=f"{field}.type")


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ZoneError(f"expected a non-empty string, got {value!r}", field=field)
    if len(value) > MAX_NAME:
        raise ZoneError(f"at most {MAX_NAME} characters, got {len(value)}", field=field)
    return value.strip()


def parse_feature(
    feature: Any, index: int, *, default_datum: Datum = "wgs84", resident_id: str | None = None
) -> Zone:
    at = f"features[{index}]"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ZoneError('expected an object with "type": "Feature"', field=at)
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise ZoneError("expected an object with resident_id, name and kind", field=f"{at}.properties")
    if "resident_id" in props:
        rid = _text(props["resident_id"], f"{at}.properties.resident_id")
        if resident_id is not None and rid != resident_id:
            raise ZoneError(
                f"belongs to resident {rid!r}, but the import is for {resident_id!r}",
                field=f"{at}.properties.resident_id",
            )
    elif resident_id is not None:
        rid = resident_id
    else:
        raise ZoneError("missing; which resident is this zone for?", field=f"{at}.properties.resident_id")
    name = _text(props.get("name"), f"{at}.properties.name")
    kind = props.get("kind")
    if kind not in KINDS:
        raise ZoneError(f"expected 'safe' or 'danger', got {kind!r}", field=f"{at}.properties.kind")
    datum = props.get("datum", default_datum)
    if datum not in DATUMS:
        raise ZoneError(f"expected one of {', '.join(DATUMS)}, got {datum!r}", field=f"{at}.properties.datum")
    schedule = None
    if props.get("schedule") is not None:
        schedule = parse_schedule(props["schedule"], f"{at}.properties.schedule")
    shape = _geometry(feature.get("geometry"), props, f"{at}.geometry", datum)
    return Zone(resident_id=rid, name=name, kind=kind, shape=shape, schedule=schedule, source_datum=datum)


def parse_feature_collection(
    data: Any, *, default_datum: Datum = "wgs84", resident_id: str | None = None
) -> list[Zone]:
    """Validate a whole FeatureCollection; raise :class:`ZoneError` at the first problem."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        got = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise ZoneError(f"expected a GeoJSON FeatureCollection, got type {got!r}", field="type")
    features = data.get("features")
    if not isinstance(features, list):
        raise ZoneError("expected a list of features", field="features")
    if not features:
        raise ZoneError("the collection has no features", field="features")
    zones: list[Zone] = []
    seen: dict[str, int] = {}
    for i, f in enumerate(features):
        zone = parse_feature(f, i, default_datum=default_datum, resident_id=resident_id)
        if zone.id in seen:
            raise ZoneError(
                f"resident {zone.resident_id!r} already has a zone named {zone.name!r}"
                f" (features[{seen[zone.id]}])",
                field=f"features[{i}].properties.name",
            )
        seen[zone.id] = i
        zones.append(zone)
    return zones


def load_geojson(path: Path, *, default_datum: Datum = "wgs84", resident_id: str | None = None) -> list[Zone]:
    """Read and validate a zone file; the message of any error starts with the file name."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ZoneError(f"{path} does not exist", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ZoneError(f"cannot read {path}: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ZoneError(f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    try:
        return parse_feature_collection(data, default_datum=default_datum, resident_id=resident_id)
    except ZoneError as e:
        raise ZoneError(f"{path}: {e.message}", hint=e.hint) from None


# ---------------------------------------------------------------- Zone -> GeoJSON


def _pos(lat: float, lon: float) -> list[float]:
    return [lon, lat]


def geometry_json(zone: Zone) -> dict[str, Any]:
    """The zone's WGS-84 geometry as GeoJSON (rings closed)."""
    shape = zone.shape
    if isinstance(shape, Circle):
        return {"type": "Point", "coordinates": _pos(shape.latitude, shape.longitude)}
    rings = [[_pos(*p) for p in (*ring, ring[0])] for ring in (shape.outer, *shape.holes)]
    return {"type": "Polygon", "coordinates": rings}


def to_feature(zone: Zone) -> dict[str, Any]:
    """A GeoJSON feature in WGS-84 that :func:`parse_feature` reads back to an equal zone."""
    props: dict[str, Any] = {"resident_id": zone.resident_id, "name": zone.name, "kind": zone.kind}
    if isinstance(zone.shape, Circle):
        props["radius_m"] = zone.shape.radius_m
    if zone.schedule is not None:
        props["schedule"] = zone.schedule.to_json()
    return {"type": "Feature", "properties": props, "geometry": geometry_json(zone)}
