"""GCJ-02 / BD-09 <-> WGS-84 against published reference points.

Sources (facts only, no code taken):
* googollee/eviltransform ``python/test.py``: WGS-84 / GCJ-02 pairs for Shanghai, Shenzhen
  and Beijing; its own exact inversion is tested to < 0.5 m.
* wandergis/coordtransform ``test/app.js`` (also asserted by hutool ``CoordinateUtilTest``
  and coordtransform-rs tests): conversions of the point (116.404, 39.915).

Not used: eviltransform's two ``TESTS_bd`` points; its own published formulas land 8-40 m
away from them, so they do not come from these formulas.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.geofence.datum import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china_box,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gateway.geofence.geometry import distance_m

# (wgs lat, wgs lon, gcj lat, gcj lon), googollee/eviltransform python/test.py
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
# wandergis/coordtransform test/app.js, input (lon 116.404, lat 39.915); results as (lat, lon)
WANDERGIS_WGS_TO_GCJ = (39.91640428150164, 116.41024449916938)
WANDERGIS_GCJ_TO_BD = (39.92133699351021, 116.41036949371029)
WANDERGIS_BD_TO_GCJ = (39.90865673957631, 116.39762729119315)  # a one-step approximation
WANDERGIS_GCJ_TO_WGS = (39.91359571849836, 116.39775550083061)  # a one-step approximation


@pytest.mark.parametrize("wlat,wlon,glat,glon", EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_published_pairs(wlat: float, wlon: float, glat: float, glon: float) -> None:
    lat, lon = wgs84_to_gcj02(wlat, wlon)
    assert lat == pytest.approx(glat, abs=1e-9)
    assert lon == pytest.approx(glon, abs=1e-9)


@pytest.mark.parametrize("wlat,wlon,glat,glon", EVILTRANSFORM)
def test_gcj02_to_wgs84_inverts_to_under_half_a_metre(
    wlat: float, wlon: float, glat: float, glon: float
) -> None:
    lat, lon = gcj02_to_wgs84(glat, glon)
    assert distance_m(wlat, wlon, lat, lon) < 0.5
    assert distance_m(wlat, wlon, lat, lon) < 0.01  # in fact far better
    # and the offset it removes is the real one, hundreds of metres
    assert distance_m(glat, glon, lat, lon) > 100


def test_wandergis_reference_point() -> None:
    assert wgs84_to_gcj02(39.915, 116.404) == pytest.approx(WANDERGIS_WGS_TO_GCJ, abs=1e-9)
    assert gcj02_to_bd09(39.915, 116.404) == pytest.approx(WANDERGIS_GCJ_TO_BD, abs=1e-9)
    # the published inverses are one-step approximations: ours agree to within a decimetre
    assert distance_m(*bd09_to_gcj02(39.915, 116.404), *WANDERGIS_BD_TO_GCJ) < 0.1
    assert distance_m(*gcj02_to_wgs84(39.915, 116.404), *WANDERGIS_GCJ_TO_WGS) < 0.1


def test_inverse_of_published_forward_point_is_exact() -> None:
    assert distance_m(*gcj02_to_wgs84(*WANDERGIS_WGS_TO_GCJ), 39.915, 116.404) < 0.001
    assert distance_m(*bd09_to_gcj02(*WANDERGIS_GCJ_TO_BD), 39.915, 116.404) < 0.001


def test_outside_china_gcj02_is_wgs84() -> None:
    assert not in_china_box(48.85, 2.35)
    assert wgs84_to_gcj02(48.85, 2.35) == (48.85, 2.35)
    assert gcj02_to_wgs84(48.85, 2.35) == (48.85, 2.35)


def test_to_wgs84_dispatch() -> None:
    assert to_wgs84("wgs84", 30.0, 114.0) == (30.0, 114.0)
    assert to_wgs84("gcj02", 30.0, 114.0) == gcj02_to_wgs84(30.0, 114.0)
    assert to_wgs84("bd09", 30.0, 114.0) == bd09_to_wgs84(30.0, 114.0)
    with pytest.raises(ValueError, match="unknown datum"):
        to_wgs84("osgb36", 30.0, 114.0)  # type: ignore[arg-type]


china_lat = st.floats(min_value=18.0, max_value=53.0)
china_lon = st.floats(min_value=74.0, max_value=135.0)


@given(china_lat, china_lon)
def test_gcj02_round_trip(lat: float, lon: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert distance_m(lat, lon, *back) < 0.01


@given(china_lat, china_lon)
def test_bd09_round_trip(lat: float, lon: float) -> None:
    back = bd09_to_wgs84(*wgs84_to_bd09(lat, lon))
    assert distance_m(lat, lon, *back) < 0.01
    assert distance_m(lat, lon, *wgs84_to_bd09(lat, lon)) < 2000  # a bounded offset
