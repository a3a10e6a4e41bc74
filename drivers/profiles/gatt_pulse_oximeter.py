"""BLE pulse oximeters (Pulse Oximeter Service 0x1822): one device, two characteristics.

* ``gatt.plx_spot_check_measurement`` (0x2A5E, indicated): one finished measurement, optionally
  time stamped -> a ``spo2`` spot reading. Stored spot checks are downloaded on every
  connection through the service's Record Access Control Point (0x2A52, "report stored records:
  all records"): they arrive as 0x2A5E indications with their time stamps, decoded like live
  ones (and de-duplicated by time and values), until the RACP response code.
* ``gatt.plx_continuous_measurement`` (0x2A5F, notified about once a second while the finger is
  in) -> a ``spo2_stream`` reading; the fast and slow averages, when sent, are kept as fields.

Both start with SpO2 (%) and pulse rate (/min) as SFLOATs, then the optional fields their flags
announce: measurement status (16 bits), device and sensor status (24 bits), pulse amplitude
index (SFLOAT, %). A reading flagged invalid or unavailable, or whose SpO2 is not a number, gives
no measurement; questionable and other notable status bits become the reading's flags. A spot
check whose flags say the device clock is not set has no device time.

Layouts and status bits: Bluetooth SIG Pulse Oximeter Service 1.0.1 (PLXS), as implemented and
tested in github StanfordSpezi/SpeziBluetooth (MIT); vectors in tests/vectors/gatt.json.
"""

from __future__ import annotations

from typing import Any

from drivers.frames import RawFrame
from drivers.gatt import present
from drivers.gatt.uuids import BATTERY_LEVEL, RECORD_ACCESS_CONTROL_POINT, uuid16
from drivers.gatt.walker import Bit, Field, Layout, Walked, bits, walk
from drivers.measurement import PER_MIN, PERCENT, Decoded, Measurement, Value
from drivers.profile import BleMatch, Profile, Read, RequestStored, Subscribe
from drivers.profiles.gatt_date_time import SET_CLOCK

SERVICE = uuid16(0x1822)
SPOT_CHECK = uuid16(0x2A5E)
CONTINUOUS = uuid16(0x2A5F)

SPOT_CLOCK_NOT_SET = 0x10
SPOT_LAYOUT = Layout(
    "PLX spot-check measurement",
    flags_size=1,
    fields=(
        Field("spo2", "sfloat"),
        Field("pulse_rate", "sfloat"),
        Field("timestamp", "date_time", when=0x01),
        Field("measurement_status", "u16", when=0x02),
        Field("device_and_sensor_status", "u24", when=0x04),
        Field("pulse_amplitude_index", "sfloat", when=0x08),
    ),
)
CONTINUOUS_LAYOUT = Layout(
    "PLX continuous measurement",
    flags_size=1,
    fields=(
        Field("spo2", "sfloat"),
        Field("pulse_rate", "sfloat"),
        Field("spo2_fast", "sfloat", when=0x01),
        Field("pulse_rate_fast", "sfloat", when=0x01),
        Field("spo2_slow", "sfloat", when=0x02),
        Field("pulse_rate_slow", "sfloat", when=0x02),
        Field("measurement_status", "u16", when=0x04),
        Field("device_and_sensor_status", "u24", when=0x08),
        Field("pulse_amplitude_index", "sfloat", when=0x10),
    ),
)

MEASUREMENT_STATUS = (
    Bit("measurement_ongoing", 5),
    Bit("early_estimated_data", 6),
    Bit("validated_data", 7),
    Bit("fully_qualified_data", 8),
    Bit("data_from_storage", 9),
    Bit("data_for_demonstration", 10),
    Bit("data_for_testing", 11),
    Bit("calibration_ongoing", 12),
    Bit("measurement_unavailable", 13),
    Bit("questionable_measurement", 14),
    Bit("invalid_measurement", 15),
)
DEVICE_AND_SENSOR_STATUS = (
    Bit("extended_display_update_ongoing", 0),
    Bit("equipment_malfunction", 1),
    Bit("signal_processing_irregularity", 2),
    Bit("inadequate_signal", 3),
    Bit("poor_signal", 4),
    Bit("low_perfusion", 5),
    Bit("erratic_signal", 6),
    Bit("nonpulsatile_signal", 7),
    Bit("questionable_pulse", 8),
    Bit("signal_analysis_ongoing", 9),
    Bit("sensor_interference", 10),
    Bit("sensor_unconnected", 11),
    Bit("unknown_sensor", 12),
    Bit("sensor_displaced", 13),
    Bit("sensor_malfunctioning", 14),
    Bit("sensor_disconnected", 15),
)
#: Status bits that mean there is no measurement at all.
NO_READING = frozenset({"measurement_unavailable", "invalid_measurement"})
#: Status bits kept as the reading's flags (the rest only in the decoded fields).
FLAGGED = (
    "early_estimated_data",
    "data_for_demonstration",
    "data_for_testing",
    "calibration_ongoing",
    "questionable_measurement",
    "equipment_malfunction",
    "signal_processing_irregularity",
    "inadequate_signal",
    "poor_signal",
    "low_perfusion",
    "erratic_signal",
    "nonpulsatile_signal",
    "questionable_pulse",
    "sensor_interference",
    "sensor_unconnected",
    "unknown_sensor",
    "sensor_displaced",
    "sensor_malfunctioning",
    "sensor_disconnected",
)


def _status(w: Walked) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    ms = w.values.get("measurement_status")
    ds = w.values.get("device_and_sensor_status")
    return (
        None if ms is None else bits(ms, MEASUREMENT_STATUS),
        None if ds is None else bits(ds, DEVICE_AND_SENSOR_STATUS),
    )


def _common(w: Walked) -> dict[str, Any]:
    v = w.values
    ms, ds = _status(w)
    return {
        "spo2_pct": present.medfloat_field(v["spo2"]),
        "pulse_rate_bpm": present.medfloat_field(v["pulse_rate"]),
        "measurement_status": ms,
        "device_and_sensor_status": ds,
        "pulse_amplitude_index_pct": present.medfloat_field(v.get("pulse_amplitude_index")),
    }


def _reading(w: Walked, fields: dict[str, Any]) -> tuple[dict[str, Value], tuple[str, ...]] | None:
    """The values and flags of a valid reading; None when there is none."""
    status = {**(fields["measurement_status"] or {}), **(fields["device_and_sensor_status"] or {})}
    spo2 = present.number(w.values["spo2"])
    fields["valid"] = spo2 is not None and not any(status.get(n) for n in NO_READING)
    if not fields["valid"] or spo2 is None:
        return None
    values = {"spo2": Value(spo2, PERCENT)}
    pulse = present.number(w.values["pulse_rate"])
    if pulse is not None:
        values["pulse_rate"] = Value(pulse, PER_MIN)
    return values, tuple(n for n in FLAGGED if status.get(n))


def _extras(w: Walked) -> dict[str, Any]:
    pai = present.number(w.values.get("pulse_amplitude_index"))
    return {} if pai is None else {"pulse_amplitude_index_pct": pai}


def decode_spot_check(frame: RawFrame) -> Decoded:
    w = walk(SPOT_LAYOUT, frame.data)
    fields = _common(w)
    stamp = w.values.get("timestamp")
    clock_set = not w.flags & SPOT_CLOCK_NOT_SET
    fields.update(timestamp=present.timestamp_fields(stamp), device_clock_set=clock_set)
    got = _reading(w, fields)
    if got is None:
        return Decoded(fields=fields)
    values, flags = got
    when, note = present.device_time(stamp) if clock_set else (None, "device clock not set")
    extras = _extras(w)
    measurement = Measurement(
        kind="spo2",
        values=values,
        device_time=when,
        device_time_note=note,
        flags=flags,
        extras=present.stamp_extras(stamp, **extras) if clock_set else extras,
    )
    return Decoded(fields=fields, measurements=(measurement,))


def decode_continuous(frame: RawFrame) -> Decoded:
    w = walk(CONTINUOUS_LAYOUT, frame.data)
    fields = _common(w)
    for name in ("spo2_fast", "pulse_rate_fast", "spo2_slow", "pulse_rate_slow"):
        unit = "pct" if name.startswith("spo2") else "bpm"
        fields[f"{name}_{unit}"] = present.medfloat_field(w.values.get(name))
    got = _reading(w, fields)
    if got is None:
        return Decoded(fields=fields)
    values, flags = got
    measurement = Measurement(
        kind="spo2_stream",
        values=values,
        device_time_note="no device timestamp",
        flags=flags,
        extras=_extras(w),
    )
    return Decoded(fields=fields, measurements=(measurement,))


_BLE = BleMatch(service_uuids=(SERVICE,))
_CONNECT = (
    *SET_CLOCK,
    Read(BATTERY_LEVEL),
    Subscribe(SPOT_CHECK),
    Subscribe(CONTINUOUS),
    Subscribe(BATTERY_LEVEL),
    # last: the live readings are subscribed before the download starts
    RequestStored(RECORD_ACCESS_CONTROL_POINT, records=(SPOT_CHECK,)),
)
PROFILES = (
    Profile(
        name="gatt.plx_spot_check_measurement",
        title="Pulse oximeter, spot check (Pulse Oximeter Service, 0x2A5E)",
        transport="ble_gatt",
        decode=decode_spot_check,
        exposes=("spo2",),
        ble=_BLE,
        gatt_characteristics=(SPOT_CHECK,),
        connect_policy="connect_on_advert",
        connect=_CONNECT,
        notes="stored spot checks downloaded through the RACP on connecting; de-duplicated by time, values",
    ),
    Profile(
        name="gatt.plx_continuous_measurement",
        title="Pulse oximeter, continuous (Pulse Oximeter Service, 0x2A5F)",
        transport="ble_gatt",
        decode=decode_continuous,
        exposes=("spo2_stream",),
        ble=_BLE,
        gatt_characteristics=(CONTINUOUS,),
        connect_policy="stay_connected",
        connect=_CONNECT,
    ),
)
