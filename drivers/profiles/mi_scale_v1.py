"""``mi_scale_v1.adv``: Xiaomi Mi Smart Scale v1 / 2 (XMTZC01HM, XMTZC04HM) advertisements.

Service data UUID 0x181D, exactly 10 bytes: control, weight uint16, Date Time-like stamp.
"""

from __future__ import annotations

from drivers.frames import RawFrame
from drivers.gatt import uuids
from drivers.measurement import Decoded
from drivers.profile import BleMatch, Profile
from drivers.profiles.mi_scale_common import final_measurement, service_data, timestamp, weight_fields

SIZE = 10


def decode(frame: RawFrame) -> Decoded:
    data = service_data(frame.data, SIZE, "Mi Scale v1")
    control = data[0]
    unit = "lb" if control & 0x01 else "jin" if control & 0x10 else "kg"
    stamp = timestamp(data[3:10])
    fields = weight_fields(int.from_bytes(data[1:3], "little"), unit)
    fields.update(
        control=control,
        stabilized=bool(control & 0x20),
        load_removed=bool(control & 0x80),
        timestamp=stamp.fields(),
    )
    fields["final"] = fields["stabilized"] and not fields["load_removed"]
    m = final_measurement(fields, stamp, None)
    return Decoded(fields=fields, measurements=() if m is None else (m,))


PROFILE = Profile(
    name="mi_scale_v1.adv",
    title="Xiaomi Mi Smart Scale (v1 / 2) advertisement",
    transport="ble_adv",
    decode=decode,
    exposes=("weight",),
    ble=BleMatch(service_data_uuids=(uuids.WEIGHT_SCALE,), name_patterns=("MI SCALE2", "MI_SCALE")),
    connect_policy="advert_only",
    notes="re-advertises the last result with load-removed set: only final packets make a reading",
)
