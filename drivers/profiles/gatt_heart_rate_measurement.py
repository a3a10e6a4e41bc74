"""``gatt.heart_rate_measurement`` (0x2A37): wristbands and chest straps (Heart Rate 0x180D).

RR intervals are in 1/1024 s (raw 1024 = 1000 ms). No measurement when the sensor reports
"no contact" or a rate of 0.
"""

from __future__ import annotations

from typing import Any

from drivers.frames import RawFrame
from drivers.gatt import tables, uuids
from drivers.gatt.walker import walk
from drivers.measurement import PER_MIN, Decoded, Measurement, Value
from drivers.profile import BleMatch, Profile, Read, Subscribe
from drivers.profiles.gatt_date_time import SET_CLOCK

SENSOR_CONTACT = ("not_supported", "not_supported", "no_contact", "detected")


def decode(frame: RawFrame) -> Decoded:
    w = walk(tables.HEART_RATE, frame.data)
    v = w.values
    rr: list[int] | None = v.get("rr_intervals")
    contact = SENSOR_CONTACT[(w.flags >> 1) & 0x03]
    fields: dict[str, Any] = {
        "heart_rate_bpm": v["heart_rate"],
        "value_format": "uint16" if w.flags & 0x01 else "uint8",
        "sensor_contact": contact,
        "energy_expended_kj": v.get("energy_expended"),
        "rr_intervals_1024": rr,
        "rr_intervals_ms": None if rr is None else [r * 1000 / 1024 for r in rr],
    }
    if contact == "no_contact" or v["heart_rate"] == 0:
        return Decoded(fields=fields)
    extras: dict[str, Any] = {}
    if rr is not None:
        extras["rr_intervals_ms"] = tuple(fields["rr_intervals_ms"])
    if fields["energy_expended_kj"] is not None:
        extras["energy_expended_kj"] = fields["energy_expended_kj"]
    measurement = Measurement(
        kind="heart_rate",
        values={"heart_rate": Value(float(v["heart_rate"]), PER_MIN)},
        device_time_note="no device timestamp",
        extras=extras,
    )
    return Decoded(fields=fields, measurements=(measurement,))


PROFILE = Profile(
    name="gatt.heart_rate_measurement",
    title="Heart rate band (Heart Rate Service, 0x2A37)",
    transport="ble_gatt",
    decode=decode,
    exposes=("heart_rate",),
    ble=BleMatch(service_uuids=(uuids.HEART_RATE,)),
    gatt_characteristics=(uuids.HEART_RATE_MEASUREMENT,),
    connect_policy="stay_connected",
    connect=(
        *SET_CLOCK,
        Read(uuids.BATTERY_LEVEL),
        Subscribe(uuids.HEART_RATE_MEASUREMENT),
        Subscribe(uuids.BATTERY_LEVEL),
    ),
)
