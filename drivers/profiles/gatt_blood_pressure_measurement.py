"""``gatt.blood_pressure_measurement`` (0x2A35): BP cuffs (Blood Pressure Service 0x1810).

Cuffs indicate a burst of stored readings when the gateway connects after a measurement; each
reading carries its own (device-local) time stamp. kPa is converted to mm[Hg] in the
measurement; NaN values are left out; a reading without systolic and diastolic is not valid and
yields no measurement.
"""

from __future__ import annotations

from typing import Any

from drivers.frames import RawFrame
from drivers.gatt import present, tables, uuids
from drivers.gatt.ieee11073 import MedFloat
from drivers.gatt.walker import Walked, bits, walk
from drivers.measurement import MMHG, PER_MIN, Decoded, Measurement, Value
from drivers.profile import BleMatch, Profile, Read, Subscribe
from drivers.profiles.gatt_date_time import SET_CLOCK

PULSE_RATE_RANGE = ("in_range", "above_upper", "below_lower", "reserved")


def status_fields(raw: int | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    out: dict[str, Any] = bits(raw, tables.BPM_STATUS)
    out["pulse_rate_range"] = PULSE_RATE_RANGE[int(out["pulse_rate_range"])]
    return out


def status_flags(status: dict[str, Any] | None) -> tuple[str, ...]:
    if status is None:
        return ()
    flags = [
        name
        for name in ("body_movement", "cuff_too_loose", "irregular_pulse", "improper_position")
        if status[name]
    ]
    if status["pulse_rate_range"] in ("above_upper", "below_lower"):
        flags.append(f"pulse_rate_{status['pulse_rate_range']}")
    return tuple(flags)


def to_mmhg(value: MedFloat | None, kpa: bool) -> float | None:
    n = present.number(value)
    if n is None:
        return None
    return n * present.KPA_TO_MMHG if kpa else n


def common_fields(w: Walked) -> dict[str, Any]:
    v = w.values
    return {
        "unit": "kPa" if w.flags & tables.BPM_KPA else "mmHg",
        "timestamp": present.timestamp_fields(v.get("timestamp")),
        "pulse_rate": present.medfloat_field(v.get("pulse_rate")),
        "user_id": v.get("user_id"),
        "measurement_status": status_fields(v.get("measurement_status")),
    }


def decode(frame: RawFrame) -> Decoded:
    w = walk(tables.BLOOD_PRESSURE, frame.data)
    v = w.values
    kpa = bool(w.flags & tables.BPM_KPA)
    fields = common_fields(w)
    fields.update(
        systolic=v["systolic"].field(),
        diastolic=v["diastolic"].field(),
        mean_arterial_pressure=v["mean_arterial_pressure"].field(),
    )
    values: dict[str, Value] = {}
    for name in ("systolic", "diastolic", "mean_arterial_pressure"):
        mmhg = to_mmhg(v[name], kpa)
        if mmhg is not None:
            values[name] = Value(mmhg, MMHG)
        if kpa:
            fields[f"{name}_mmhg"] = mmhg
    valid = "systolic" in values and "diastolic" in values
    fields["valid"] = valid
    if not valid:
        return Decoded(fields=fields)
    pulse = present.number(v.get("pulse_rate"))
    if pulse is not None:
        values["pulse_rate"] = Value(pulse, PER_MIN)
    when, note = present.device_time(v.get("timestamp"))
    measurement = Measurement(
        kind="blood_pressure",
        values=values,
        device_time=when,
        device_time_note=note,
        user_index=present.user_index(v.get("user_id")),
        flags=status_flags(fields["measurement_status"]),
        extras=present.stamp_extras(v.get("timestamp"), reported_unit=fields["unit"]),
    )
    return Decoded(fields=fields, measurements=(measurement,))


PROFILE = Profile(
    name="gatt.blood_pressure_measurement",
    title="Blood pressure cuff (Blood Pressure Service, 0x2A35)",
    transport="ble_gatt",
    decode=decode,
    exposes=("blood_pressure",),
    ble=BleMatch(service_uuids=(uuids.BLOOD_PRESSURE,)),
    gatt_characteristics=(uuids.BLOOD_PRESSURE_MEASUREMENT,),
    connect_policy="connect_on_advert",
    connect=(
        *SET_CLOCK,
        Read(uuids.BATTERY_LEVEL),
        Subscribe(uuids.BLOOD_PRESSURE_MEASUREMENT),
        Subscribe(uuids.INTERMEDIATE_CUFF_PRESSURE),
        Subscribe(uuids.BATTERY_LEVEL),
    ),
    notes="indicates stored readings as a burst after connecting; de-duplicate by device time and values",
)
