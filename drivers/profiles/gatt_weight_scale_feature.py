"""``gatt.weight_scale_feature`` (0x2A9E): uint32 capabilities and display resolutions."""

from __future__ import annotations

from typing import Any

from drivers.frames import RawFrame
from drivers.gatt import tables, uuids
from drivers.gatt.walker import bits, fixed_int
from drivers.measurement import Decoded
from drivers.profile import Profile


def resolution_fields(out: dict[str, Any], prefix: str) -> None:
    """Adds ``{prefix}_resolution_kg/_lb`` and ``height_resolution_m/_in`` from the codes."""
    mass = tables.MASS_RESOLUTION.get(int(out[f"{prefix}_resolution_code"]))
    out[f"{prefix}_resolution_kg"], out[f"{prefix}_resolution_lb"] = mass if mass else (None, None)
    tall = tables.HEIGHT_RESOLUTION.get(int(out["height_resolution_code"]))
    out["height_resolution_m"], out["height_resolution_in"] = tall if tall else (None, None)


def decode(frame: RawFrame) -> Decoded:
    out: dict[str, Any] = bits(fixed_int(frame.data, 4, "weight_scale_feature"), tables.WEIGHT_SCALE_FEATURE)
    resolution_fields(out, "weight")
    return Decoded(fields=out)


PROFILE = Profile(
    name="gatt.weight_scale_feature",
    title="Weight Scale Feature (0x2A9E)",
    transport="ble_gatt",
    decode=decode,
    gatt_characteristics=(uuids.WEIGHT_SCALE_FEATURE,),
)
