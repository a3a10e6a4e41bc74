"""``gatt.sfloat`` / ``gatt.float``: standalone IEEE-11073 numbers (for ``hutgw decode`` and checks)."""

from __future__ import annotations

from drivers.frames import RawFrame
from drivers.gatt.ieee11073 import fields_of, parse_float, parse_sfloat
from drivers.measurement import Decoded
from drivers.profile import Profile


def decode_sfloat(frame: RawFrame) -> Decoded:
    return Decoded(fields=fields_of(parse_sfloat(frame.data)))


def decode_float(frame: RawFrame) -> Decoded:
    return Decoded(fields=fields_of(parse_float(frame.data)))


PROFILES = (
    Profile(
        name="gatt.sfloat",
        title="IEEE-11073 16-bit SFLOAT",
        transport="ble_gatt",
        decode=decode_sfloat,
        notes="value building block of the GATT health characteristics, not a device",
    ),
    Profile(
        name="gatt.float",
        title="IEEE-11073 32-bit FLOAT",
        transport="ble_gatt",
        decode=decode_float,
        notes="value building block of the GATT health characteristics, not a device",
    ),
)
