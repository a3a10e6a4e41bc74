"""``gatt.body_composition_feature`` (0x2A9B): uint32 capabilities and resolutions."""

from __future__ import annotations

from typing import Any

from drivers.frames import RawFrame
from drivers.gatt import tables, uuids
from drivers.gatt.walker import bits, fixed_int
from drivers.measurement import Decoded
from drivers.profile import Profile
from drivers.profiles.gatt_weight_scale_feature import resolution_fields


def decode(frame: RawFrame) -> Decoded:
    raw = fixed_int(frame.data, 4, "body_composition_feature")
    out: dict[str, Any] = bits(raw, tables.BODY_COMPOSITION_FEATURE)
    resolution_fields(out, "mass")
    return Decoded(fields=out)


PROFILE = Profile(
    name="gatt.body_composition_feature",
    title="Body Composition Feature (0x2A9B)",
    transport="ble_gatt",
    decode=decode,
    gatt_characteristics=(uuids.BODY_COMPOSITION_FEATURE,),
)
