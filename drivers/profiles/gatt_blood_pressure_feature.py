"""``gatt.blood_pressure_feature`` (0x2A49): what a cuff can detect (uint16)."""

from __future__ import annotations

from drivers.frames import RawFrame
from drivers.gatt import tables, uuids
from drivers.gatt.walker import bits, fixed_int
from drivers.measurement import Decoded
from drivers.profile import Profile


def decode(frame: RawFrame) -> Decoded:
    return Decoded(fields=bits(fixed_int(frame.data, 2, "blood_pressure_feature"), tables.BP_FEATURE))


PROFILE = Profile(
    name="gatt.blood_pressure_feature",
    title="Blood Pressure Feature (0x2A49)",
    transport="ble_gatt",
    decode=decode,
    gatt_characteristics=(uuids.BLOOD_PRESSURE_FEATURE,),
)
