"""Typed measurements and events of the BLE decoders, compared as whole objects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drivers import registry
from drivers.frames import RawFrame
from drivers.measurement import (
    CM,
    DEG,
    KG,
    KG_PER_M2,
    KJ,
    MMHG,
    OHM,
    PER_MIN,
    PERCENT,
    Decoded,
    DeviceEvent,
    Measurement,
    Value,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def decode(protocol: str, hex_data: str) -> Decoded:
    transport = registry.get(protocol).transport
    return registry.get(protocol).decode(
        RawFrame(transport, "AA:BB:CC:DD:EE:FF", bytes.fromhex(hex_data), AT)
    )


def test_bpm_full_record() -> None:
    d = decode("gatt.blood_pressure_measurement", "1e8a00580078000000041114293b3c00012700")
    assert d.measurements == (
        Measurement(
            kind="blood_pressure",
            values={
                "systolic": Value(138.0, MMHG),
                "diastolic": Value(88.0, MMHG),
                "mean_arterial_pressure": Value(120.0, MMHG),
                "pulse_rate": Value(60.0, PER_MIN),
            },
            device_time=None,
            device_time_note="device clock not set (date unknown)",
            user_index=1,
            flags=("body_movement", "cuff_too_loose", "irregular_pulse", "improper_position"),
            extras={"reported_unit": "mmHg", "device_timestamp": "0000-04-17T20:41:59"},
        ),
    )
    assert d.events == ()


def test_bpm_kpa_is_converted_and_nan_pulse_left_out() -> None:
    kpa = decode("gatt.blood_pressure_measurement", "01a0f06bf07df0").measurements[0]
    assert kpa.values["systolic"] == Value(pytest.approx(120.0098693), MMHG)
    assert kpa.values["diastolic"].value == pytest.approx(80.2566001)
    nan_pulse = decode("gatt.blood_pressure_measurement", "0679004f005d00e7070b02132d0aff07").measurements[0]
    assert set(nan_pulse.values) == {"systolic", "diastolic", "mean_arterial_pressure"}
    assert nan_pulse.device_time == datetime(2023, 11, 2, 19, 45, 10)
    assert nan_pulse.device_time_note is None


def test_bpm_all_nan_is_not_a_measurement() -> None:
    d = decode("gatt.blood_pressure_measurement", "00ff07ff07ff07")
    assert d.fields["valid"] is False
    assert d.fields["systolic"] == "NaN"
    assert d.measurements == ()


def test_bpm_unknown_user_has_no_index() -> None:
    assert decode("gatt.blood_pressure_measurement", "0876004c005a00ff").measurements[0].user_index is None


def test_intermediate_cuff_pressure_is_an_event_only() -> None:
    d = decode("gatt.intermediate_cuff_pressure", "00a000ff07ff07")
    assert d == Decoded(fields=d.fields, events=(DeviceEvent("cuff_pressure", {"pressure_mmhg": 160.0}),))


def test_battery_level_event() -> None:
    assert decode("gatt.battery_level", "32").events == (DeviceEvent("battery", {"percent": 50}),)


def test_weight_lb_to_kg_with_bmi_and_height() -> None:
    # imperial, time stamp, user 2, BMI 22.5, height 70.0 in
    d = decode("gatt.weight_measurement", "0ffa37e807030f081e0002e100bc02")
    assert d.measurements == (
        Measurement(
            kind="weight",
            values={
                "weight": Value(143.3 * 0.45359237, KG),
                "bmi": Value(22.5, KG_PER_M2),
                "height": Value(70.0 * 0.0254 * 100, CM),
            },
            device_time=datetime(2024, 3, 15, 8, 30, 0),
            device_time_note=None,
            user_index=2,
            extras={"reported_unit": "lb", "device_timestamp": "2024-03-15T08:30:00"},
        ),
    )


def test_weight_unsuccessful_has_no_measurement() -> None:
    d = decode("gatt.weight_measurement", "02ffffe807030f081e00")
    assert d.fields["measurement_unsuccessful"] is True
    assert d.fields["timestamp"]["iso"] == "2024-03-15T08:30:00"
    assert d.measurements == ()


def test_body_composition_two_parts_merge_into_one_measurement() -> None:
    profile = registry.get("gatt.body_composition_measurement.sequence")
    frames = [
        RawFrame("ble_gatt", "s", bytes.fromhex(h), AT)
        for h in ("7e10d200e8070601070f1e01581b9c01e015342b", "801fd200a028541f0314b036d806")
    ]
    assert profile.decode_sequence is not None
    d = profile.decode_sequence(frames)
    assert d.fields["records"] == 1
    assert d.measurements == (
        Measurement(
            kind="body_composition",
            values={
                "body_fat_pct": Value(21.0, PERCENT),
                "basal_metabolism": Value(7000.0, KJ),
                "muscle_pct": Value(41.2, PERCENT),
                "muscle_mass": Value(28.0, KG),
                "fat_free_mass": Value(55.3, KG),
                "soft_lean_mass": Value(52.0, KG),
                "body_water_mass": Value(40.1, KG),
                "weight": Value(70.0, KG),
                "impedance": Value(512.3, OHM),
                "height": Value(175.2, CM),
            },
            device_time=datetime(2024, 6, 1, 7, 15, 30),
            device_time_note=None,
            user_index=1,
            flags=("multiple_packet",),
            extras={"reported_unit": "kg", "device_timestamp": "2024-06-01T07:15:30"},
        ),
    )


def test_body_composition_sequence_of_two_standalone_records() -> None:
    profile = registry.get("gatt.body_composition_measurement")
    assert profile.decode_sequence is not None
    frames = [RawFrame("ble_gatt", "s", bytes.fromhex(h), AT) for h in ("0000fa00", "0000c800")]
    d = profile.decode_sequence(frames)
    assert d.fields["records"] == 2
    assert [m.values["body_fat_pct"].value for m in d.measurements] == [25.0, 20.0]


def test_heart_rate_with_rr_intervals() -> None:
    d = decode("gatt.heart_rate_measurement", "1e5532002100")
    assert d.measurements == (
        Measurement(
            kind="heart_rate",
            values={"heart_rate": Value(85.0, PER_MIN)},
            device_time_note="no device timestamp",
            extras={"rr_intervals_ms": (32.2265625,), "energy_expended_kj": 50},
        ),
    )


def test_heart_rate_without_contact_is_not_a_measurement() -> None:
    assert decode("gatt.heart_rate_measurement", "0448").measurements == ()


def test_location_is_a_position_in_utc() -> None:
    # location, elevation 0x004F22 = 202.58 m, UTC time, status ok
    d = decode("gatt.location_and_speed", "cc0028243d1c285c1705224f00e807030f081e00")
    assert d.measurements == (
        Measurement(
            kind="position",
            values={
                "latitude": Value(47.3769, DEG),
                "longitude": Value(8.5417, DEG),
                "elevation": Value(202.58, "m"),
            },
            device_time=datetime(2024, 3, 15, 8, 30, 0, tzinfo=UTC),
            device_time_note=None,
            extras={"device_timestamp": "2024-03-15T08:30:00"},
        ),
    )


def test_mi_scale_v1_final_weight_and_stale_packets() -> None:
    final = decode("mi_scale_v1.adv", "229e43e507040b101301")
    assert final.measurements == (
        Measurement(
            "weight",
            {"weight": Value(86.55, KG)},
            datetime(2021, 4, 11, 16, 19, 1),
            None,
            extras={"reported_unit": "kg", "device_timestamp": "2021-04-11T16:19:01"},
        ),
    )
    assert decode("mi_scale_v1.adv", "a29e43e507040b101301").measurements == ()  # load removed
    assert decode("mi_scale_v1.adv", "024844e507051c110c09").measurements == ()  # not stabilized


def test_mi_scale_v2_impedance_only_when_final_and_non_zero() -> None:
    d = decode("mi_scale_v2.adv", "0226b20705040f0201ac018642")
    assert d.measurements == (
        Measurement(
            "body_composition",
            {"weight": Value(85.15, KG), "impedance": Value(428.0, OHM)},
            None,
            "device clock not set (year 1970)",
            extras={"reported_unit": "kg", "device_timestamp": "1970-05-04T15:02:01"},
        ),
    )
    socks = decode("mi_scale_v2.adv", "0224e807030f081e000000604a").measurements
    assert [m.kind for m in socks] == ["weight"]
    assert decode("mi_scale_v2.adv", "0282b20705040f020100000000").measurements == ()


def test_bthome_button_and_battery_events() -> None:
    d = decode("bthome.v2", "400005015f3a01")
    assert d.events == (
        DeviceEvent("button", {"event": "press", "button_index": 0, "packet_id": 5}),
        DeviceEvent("battery", {"percent": 95}),
    )
    assert d.measurements == ()
    assert decode("bthome.v2", "403a013a003a02").events == (
        DeviceEvent("button", {"event": "press", "button_index": 0, "packet_id": None}),
        DeviceEvent("button", {"event": "double_press", "button_index": 2, "packet_id": None}),
    )
