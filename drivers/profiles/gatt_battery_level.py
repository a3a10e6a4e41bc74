"""``gatt.battery_level`` (0x2A19): uint8 percent; becomes a ``battery`` device event."""

from __future__ import annotations

from drivers import events
from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.gatt import uuids
from drivers.gatt.walker import fixed_int
from drivers.measurement import Decoded
from drivers.profile import Profile


def decode(frame: RawFrame) -> Decoded:
    level = fixed_int(frame.data, 1, "battery_level")
    if level > 100:
        raise DecodeError("reserved_value", f"{level} is in the RFU range 101-255", field="battery_level")
    return Decoded(fields={"battery_level_pct": level}, events=(events.battery(level),))


PROFILE = Profile(
    name="gatt.battery_level",
    title="Battery Level (0x2A19)",
    transport="ble_gatt",
    decode=decode,
    gatt_characteristics=(uuids.BATTERY_LEVEL,),
)
