"""Decoded positions become engine fixes; estimated or incomplete ones do not."""

from __future__ import annotations

import math

from drivers.measurement import DEG, M, Measurement, Value
from gateway.geofence.engine import Fix
from gateway.geofence.positions import fix_from_measurement, fix_from_values
from tests.support.geofence_traces import T0


def pos(flags: tuple[str, ...] = (), **values: float) -> Measurement:
    units = {"latitude": DEG, "longitude": DEG, "accuracy_m": M}
    return Measurement("position", {k: Value(v, units[k]) for k, v in values.items()}, flags=flags)


def test_measurement_to_fix() -> None:
    m = pos(latitude=30.5, longitude=114.3, accuracy_m=7.5)
    assert fix_from_measurement("r1", m, T0, "nmea") == Fix("r1", T0, 30.5, 114.3, 7.5, "nmea")
    assert fix_from_measurement("r1", pos(latitude=30.5, longitude=114.3), T0, "watch") == Fix(
        "r1", T0, 30.5, 114.3, None, "watch"
    )


def test_not_a_current_position() -> None:
    assert (
        fix_from_measurement("r1", pos(("position_estimated",), latitude=30.5, longitude=114.3), T0, "ble")
        is None
    )
    assert (
        fix_from_measurement("r1", pos(("position_last_known",), latitude=30.5, longitude=114.3), T0, "ble")
        is None
    )
    assert fix_from_measurement("r1", pos(latitude=30.5), T0, "ble") is None
    hr = Measurement("heart_rate", {"heart_rate": Value(70, "/min")})
    assert fix_from_measurement("r1", hr, T0, "ble") is None


def test_plain_values_from_the_api() -> None:
    assert fix_from_values("r1", T0, {"latitude": 30.5, "longitude": 114.3, "accuracy_m": 12}, "api") == Fix(
        "r1", T0, 30.5, 114.3, 12.0, "api"
    )
    assert fix_from_values(
        "r1", T0, {"latitude": 30.5, "longitude": 114.3, "accuracy_m": math.nan}, "api"
    ) == Fix("r1", T0, 30.5, 114.3, None, "api")
    for bad in (
        {"latitude": 91.0, "longitude": 0.0},
        {"latitude": "30", "longitude": 1.0},
        {"latitude": True, "longitude": 1.0},
    ):
        assert fix_from_values("r1", T0, bad, "api") is None  # type: ignore[arg-type]
