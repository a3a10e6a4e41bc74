"""``mi_scale_v2.adv``: Xiaomi Mi Body Composition Scale (2) (XMTZC02HM, XMTZC05HM) advertisements.

Service data UUID 0x181B, exactly 13 bytes: two control bytes, stamp, impedance, weight.
Impedance is used only in final packets and when non-zero.
"""

from __future__ import annotations

from drivers.frames import RawFrame
from drivers.gatt import uuids
from drivers.measurement import Decoded
from drivers.profile import BleMatch, Profile
from drivers.profiles.mi_scale_common import final_measurement, service_data, timestamp, weight_fields

SIZE = 13


def decode(frame: RawFrame) -> Decoded:
    data = service_data(frame.data, SIZE, "Mi Scale v2")
    control0, control1 = data[0], data[1]
    unit = "lb" if control0 & 0x01 else "jin" if control1 & 0x40 else "kg"
    stamp = timestamp(data[2:9])
    impedance_present = bool(control1 & 0x02)
    impedance = int.from_bytes(data[9:11], "little")
    fields = weight_fields(int.from_bytes(data[11:13], "little"), unit)
    fields.update(
        control=[control0, control1],
        stabilized=bool(control1 & 0x20),
        load_removed=bool(control1 & 0x80),
        timestamp=stamp.fields(),
        impedance_present=impedance_present,
        impedance_ohm=impedance if impedance_present else None,
    )
    fields["final"] = fields["stabilized"] and not fields["load_removed"]
    m = final_measurement(fields, stamp, impedance if impedance_present else None)
    return Decoded(fields=fields, measurements=() if m is None else (m,))


PROFILE = Profile(
    name="mi_scale_v2.adv",
    title="Xiaomi Mi Body Composition Scale (2) advertisement",
    transport="ble_adv",
    decode=decode,
    exposes=("weight", "body_composition"),
    ble=BleMatch(service_data_uuids=(uuids.BODY_COMPOSITION,), name_patterns=("MIBFS", "MIBCS")),
    connect_policy="advert_only",
    notes="body fat % is not in the advertisement: it needs height, age and sex (outside the decoder)",
)
