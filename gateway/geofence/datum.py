"""Map datums used by Chinese web maps, converted to and from WGS-84 (what GPS reports).

* GCJ-02 ("Mars coordinates", AMap/Gaode, Tencent, Google China) is WGS-84 plus a
  deliberate non-linear offset of a few hundred metres, applied only inside a rough
  bounding box of China. The forward formula is public; there is no closed-form inverse,
  so :func:`gcj02_to_wgs84` inverts it numerically (fixed-point iteration) to well under
  1 cm, far inside the 0.5 m the fences need.
* BD-09 (Baidu) is GCJ-02 plus a second, small polar distortion. :func:`bd09_to_gcj02`
  likewise inverts the forward formula numerically instead of using the usual one-step
  approximation.

All functions take and return ``(latitude, longitude)`` in decimal degrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

Datum = Literal["wgs84", "gcj02", "bd09"]
DATUMS: tuple[Datum, ...] = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 obfuscation.
_A = 6378245.0
_EE = 0.00669342162296594323
_BD_K = math.pi * 3000.0 / 180.0

# Convergence of the numerical inversions: 1e-10 degree is about 0.01 mm.
_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 40

LatLon = tuple[float, float]


def in_china_box(lat: float, lon: float) -> bool:
    """The bounding box inside which GCJ-02 applies its offset (outside it equals WGS-84)."""
    return 0.8293 <= lat <= 55.8271 and 72.004 <= lon <= 137.8347


def _offset_lat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _offset_lon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lat: float, lon: float) -> LatLon:
    """WGS-84 -> GCJ-02 (identity outside the China box)."""
    if not in_china_box(lat, lon):
        return lat, lon
    x, y = lon - 105.0, lat - 35.0
    d_lat = _offset_lat(x, y)
    d_lon = _offset_lon(x, y)
    rad = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return lat + d_lat, lon + d_lon


def gcj02_to_bd09(lat: float, lon: float) -> LatLon:
    """GCJ-02 -> BD-09."""
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _BD_K)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_K)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd09_to_gcj02_first_guess(lat: float, lon: float) -> LatLon:
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _BD_K)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_K)
    return z * math.sin(theta), z * math.cos(theta)


def _invert(forward: Callable[[float, float], LatLon], lat: float, lon: float, guess: LatLon) -> LatLon:
    """Solve ``forward(p) == (lat, lon)`` by fixed-point iteration from ``guess``.

    Both offsets change by far less than their own size over their own size (their
    Jacobian is close to the identity), so ``p -= forward(p) - target`` converges
    geometrically; a handful of rounds reach 1e-10 degree.
    """
    g_lat, g_lon = guess
    for _ in range(_MAX_ITERATIONS):
        f_lat, f_lon = forward(g_lat, g_lon)
        e_lat, e_lon = f_lat - lat, f_lon - lon
        g_lat -= e_lat
        g_lon -= e_lon
        if abs(e_lat) < _TOLERANCE_DEG and abs(e_lon) < _TOLERANCE_DEG:
            break
    return g_lat, g_lon


def gcj02_to_wgs84(lat: float, lon: float) -> LatLon:
    """GCJ-02 -> WGS-84 by numerical inversion of :func:`wgs84_to_gcj02` (error < 1 cm)."""
    if not in_china_box(lat, lon):
        return lat, lon
    return _invert(wgs84_to_gcj02, lat, lon, (lat, lon))


def bd09_to_gcj02(lat: float, lon: float) -> LatLon:
    """BD-09 -> GCJ-02 by numerical inversion of :func:`gcj02_to_bd09`."""
    return _invert(gcj02_to_bd09, lat, lon, _bd09_to_gcj02_first_guess(lat, lon))


def wgs84_to_bd09(lat: float, lon: float) -> LatLon:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> LatLon:
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def to_wgs84(datum: Datum, lat: float, lon: float) -> LatLon:
    """Convert a point given in ``datum`` to WGS-84."""
    if datum == "wgs84":
        return lat, lon
    if datum == "gcj02":
        return gcj02_to_wgs84(lat, lon)
    if datum == "bd09":
        return bd09_to_wgs84(lat, lon)
    raise ValueError(f"unknown datum {datum!r}; expected one of {', '.join(DATUMS)}")
