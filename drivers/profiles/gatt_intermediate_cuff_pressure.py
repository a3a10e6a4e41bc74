"""``gatt.intermediate_cuff_pressure`` (0x2A36): live cuff pressure while measuring.

Display only: it becomes a ``cuff_pressure`` device event, never a measurement.
"""

from __future__ import annotations

from drivers import events
from drivers.frames import RawFrame
from drivers.gatt import tables, uuids
from drivers.gatt.walker import walk
from drivers.measurement import Decoded
from drivers.profile import Profile
from drivers.profiles.gatt_blood_pressure_measurement import common_fields, to_mmhg


def decode(frame: RawFrame) -> Decoded:
    w = walk(tables.BLOOD_PRESSURE, frame.data)
    fields = common_fields(w)
    fields["current_cuff_pressure"] = w.values["systolic"].field()
    fields["diastolic"] = w.values["diastolic"].field()  # unused by ICP, NaN on the wire
    fields["mean_arterial_pressure"] = w.values["mean_arterial_pressure"].field()
    pressure = to_mmhg(w.values["systolic"], bool(w.flags & tables.BPM_KPA))
    return Decoded(fields=fields, events=() if pressure is None else (events.cuff_pressure(pressure),))


PROFILE = Profile(
    name="gatt.intermediate_cuff_pressure",
    title="Intermediate Cuff Pressure (0x2A36)",
    transport="ble_gatt",
    decode=decode,
    gatt_characteristics=(uuids.INTERMEDIATE_CUFF_PRESSURE,),
)
