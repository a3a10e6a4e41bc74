"""``gatt.weight_measurement`` (0x2A9D): scales (Weight Scale Service 0x181D).

Weight is 0.005 kg (SI) or 0.01 lb (imperial) steps; 0xFFFF = measurement unsuccessful (no
measurement). The measurement is in kg, BMI kg/m2, height cm.
"""

from __future__ import annotations

from typing import Any

from drivers.frames import RawFrame
from drivers.gatt import present, tables, uuids
from drivers.gatt.walker import walk
from drivers.measurement import CM, KG, KG_PER_M2, Decoded, Measurement, Value
from drivers.profile import BleMatch, Profile, Read, Subscribe
from drivers.profiles.gatt_date_time import SET_CLOCK


def mass(raw: int, imperial: bool) -> float:
    """A WSS/BCS mass field in the reported unit (0.005 kg or 0.01 lb steps)."""
    return present.scaled(raw, 1, 100) if imperial else present.scaled(raw, 5, 1000)


def mass_kg(raw: int, imperial: bool) -> float:
    return raw / 100 * present.LB_TO_KG if imperial else present.scaled(raw, 5, 1000)


def height(raw: int, imperial: bool) -> float:
    """Height in the reported unit (0.001 m or 0.1 in steps)."""
    return present.scaled(raw, 1, 10) if imperial else present.scaled(raw, 1, 1000)


def height_m(raw: int, imperial: bool) -> float:
    return raw / 10 * present.IN_TO_M if imperial else present.scaled(raw, 1, 1000)


def decode(frame: RawFrame) -> Decoded:
    w = walk(tables.WEIGHT, frame.data)
    v = w.values
    imperial = bool(w.flags & tables.WM_IMPERIAL)
    raw_weight: int = v["weight"]
    fields: dict[str, Any] = {
        "unit_system": "imperial" if imperial else "SI",
        "weight_unit": "lb" if imperial else "kg",
        "measurement_unsuccessful": w.unsuccessful,
        "weight": None if w.unsuccessful else mass(raw_weight, imperial),
        "weight_kg": None if w.unsuccessful else mass_kg(raw_weight, imperial),
        "timestamp": present.timestamp_fields(v.get("timestamp")),
        "user_id": v.get("user_id"),
        "bmi": None,
        "height": None,
        "height_unit": None,
        "height_m": None,
    }
    if "bmi" in v:
        fields["bmi"] = present.scaled(v["bmi"], 1, 10)
        fields["height"] = height(v["height"], imperial)
        fields["height_unit"] = "in" if imperial else "m"
        fields["height_m"] = height_m(v["height"], imperial)
    if w.unsuccessful:
        return Decoded(fields=fields)
    values = {"weight": Value(fields["weight_kg"], KG)}
    if fields["bmi"] is not None:
        values["bmi"] = Value(fields["bmi"], KG_PER_M2)
        values["height"] = Value(fields["height_m"] * 100, CM)
    when, note = present.device_time(v.get("timestamp"))
    measurement = Measurement(
        kind="weight",
        values=values,
        device_time=when,
        device_time_note=note,
        user_index=present.user_index(v.get("user_id")),
        extras=present.stamp_extras(v.get("timestamp"), reported_unit=fields["weight_unit"]),
    )
    return Decoded(fields=fields, measurements=(measurement,))


PROFILE = Profile(
    name="gatt.weight_measurement",
    title="Weight scale (Weight Scale Service, 0x2A9D)",
    transport="ble_gatt",
    decode=decode,
    exposes=("weight",),
    ble=BleMatch(service_uuids=(uuids.WEIGHT_SCALE,)),
    gatt_characteristics=(uuids.WEIGHT_MEASUREMENT,),
    connect_policy="connect_on_advert",
    connect=(
        *SET_CLOCK,
        Read(uuids.BATTERY_LEVEL),
        Subscribe(uuids.WEIGHT_MEASUREMENT),
        Subscribe(uuids.BODY_COMPOSITION_MEASUREMENT),
        Subscribe(uuids.BATTERY_LEVEL),
    ),
    notes="body-composition scales send Weight Measurement then Body Composition: merged by the gateway",
)
