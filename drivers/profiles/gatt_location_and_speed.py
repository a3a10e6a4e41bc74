"""``gatt.location_and_speed`` (0x2A67): GPS wristbands exposing Location and Navigation (0x1819).

A ``position`` measurement needs latitude/longitude and a position status other than "no
position"; the UTC Time field becomes an aware ``device_time``.
"""

from __future__ import annotations

from typing import Any

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.gatt import present, tables, uuids
from drivers.gatt.walker import bits, walk
from drivers.measurement import DEG, M_PER_S, Decoded, M, Measurement, Value
from drivers.profile import BleMatch, Profile, Read, Subscribe
from drivers.profiles.gatt_date_time import SET_CLOCK

POSITION_STATUS = ("no_position", "ok", "estimated", "last_known")
ELEVATION_SOURCE = ("positioning_system", "barometric_air_pressure", "database_service", "other")


def decode(frame: RawFrame) -> Decoded:
    w = walk(tables.LOCATION_AND_SPEED, frame.data)
    v = w.values
    info = bits(w.flags, tables.LNS_FLAGS)
    fields: dict[str, Any] = {
        "instantaneous_speed_mps": None if "instantaneous_speed" not in v else v["instantaneous_speed"] / 100,
        "total_distance_m": None if "total_distance" not in v else v["total_distance"] / 10,
        "latitude": None if "latitude" not in v else v["latitude"] / 10**7,
        "longitude": None if "longitude" not in v else v["longitude"] / 10**7,
        "elevation_m": None if "elevation" not in v else v["elevation"] / 100,
        "heading_deg": None if "heading" not in v else v["heading"] / 100,
        "rolling_time_s": v.get("rolling_time"),
        "utc_time": present.timestamp_fields(v.get("utc_time")),
        "timestamp": present.timestamp_fields(v.get("utc_time")),
        "position_status": POSITION_STATUS[int(info["position_status"])],
        "speed_distance_format": "3d" if info["speed_distance_format"] else "2d",
        "elevation_source": ELEVATION_SOURCE[int(info["elevation_source"])],
        "heading_source": "magnetic_compass" if info["heading_source"] else "movement",
    }
    lat, lon = fields["latitude"], fields["longitude"]
    if lat is not None and not -90 <= lat <= 90:
        raise DecodeError("out_of_range", f"latitude {lat} is beyond +-90 degrees", field="latitude")
    if lon is not None and not -180 <= lon <= 180:
        raise DecodeError("out_of_range", f"longitude {lon} is beyond +-180 degrees", field="longitude")
    if lat is None or lon is None or fields["position_status"] == "no_position":
        return Decoded(fields=fields)
    values = {"latitude": Value(lat, DEG), "longitude": Value(lon, DEG)}
    if fields["elevation_m"] is not None:
        values["elevation"] = Value(fields["elevation_m"], M)
    if fields["instantaneous_speed_mps"] is not None:
        values["speed"] = Value(fields["instantaneous_speed_mps"], M_PER_S)
    if fields["heading_deg"] is not None:
        values["heading"] = Value(fields["heading_deg"], DEG)
    when, note = present.device_time(v.get("utc_time"), utc=True)
    status = fields["position_status"]
    distance = {} if fields["total_distance_m"] is None else {"total_distance_m": fields["total_distance_m"]}
    measurement = Measurement(
        kind="position",
        values=values,
        device_time=when,
        device_time_note=note,
        flags=() if status == "ok" else (f"position_{status}",),
        extras=present.stamp_extras(v.get("utc_time"), **distance),
    )
    return Decoded(fields=fields, measurements=(measurement,))


PROFILE = Profile(
    name="gatt.location_and_speed",
    title="GPS band (Location and Navigation Service, 0x2A67)",
    transport="ble_gatt",
    decode=decode,
    exposes=("position",),
    ble=BleMatch(service_uuids=(uuids.LOCATION_AND_NAVIGATION,)),
    gatt_characteristics=(uuids.LOCATION_AND_SPEED,),
    connect_policy="stay_connected",
    connect=(
        *SET_CLOCK,
        Read(uuids.BATTERY_LEVEL),
        Subscribe(uuids.LOCATION_AND_SPEED),
        Subscribe(uuids.BATTERY_LEVEL),
    ),
    notes="values can exceed the default MTU (28 bytes with every field)",
)
