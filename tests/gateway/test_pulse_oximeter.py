"""The BLE pulse oximeter end to end through the pipeline: a spot check and a stream, the
low_spo2 alert for a resident, and the SMS words it rings the family's phones with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers import registry
from drivers.ble.dedup import Deduplicator
from drivers.frames import RawFrame
from drivers.gatt.uuids import uuid16
from drivers.measurement import Measurement
from gateway.notify.messages import AlertFacts, what_zh
from gateway.notify.policy import KIND_NAMES_ZH, is_urgent
from gateway.registry import DeviceEntry
from tests.gateway.test_pipeline import Hut
from uplink.contract import WireReading

SPOT = uuid16(0x2A5E)
CONTINUOUS = uuid16(0x2A5F)
OXI = "AA:BB:CC:DD:EE:09"


def decode(hut: Hut, channel: str, data: bytes) -> tuple[RawFrame, Measurement]:
    frame = RawFrame("ble_gatt", OXI, data, hut.clock.now(), channel=channel, monotonic=hut.clock.monotonic())
    profile = registry.for_frame("ble_gatt", channel, None)
    assert profile is not None
    (m,) = profile.decode(frame).measurements
    return frame, m


@pytest.fixture
def hut(tmp_path: Path) -> Hut:
    h = Hut(tmp_path)
    h.registry.add_device(DeviceEntry("oxi", "gatt.plx_spot_check_measurement", OXI, resident_id="R001"))
    return h


def test_the_oximeter_is_one_device_file_with_both_characteristics() -> None:
    spot = registry.for_frame("ble_gatt", SPOT, None)
    cont = registry.for_frame("ble_gatt", CONTINUOUS, None)
    assert spot is not None and cont is not None
    assert spot.decode.__module__ == cont.decode.__module__ == "drivers.profiles.gatt_pulse_oximeter"
    assert (spot.exposes, cont.exposes) == (("spo2",), ("spo2_stream",))


def test_spot_check_below_90_raises_a_critical_low_spo2_alert_for_the_resident(hut: Hut) -> None:
    # flags 0: SpO2 88 %, pulse 72 /min (SFLOATs with exponent 0)
    frame, m = decode(hut, SPOT, bytes([0x00, 88, 0x00, 72, 0x00]))
    p = hut.pipeline.from_measurement(m, device=hut.registry.snapshot().devices["oxi"], frame=frame)
    r = p.reading
    assert (r.kind, r.resident_id) == ("spo2", "R001")
    assert {n: v.value for n, v in r.values.items()} == {"spo2": 88.0, "pulse_rate": 72.0}
    (alert,) = p.alerts
    assert (alert.kind, alert.severity, alert.resident_id) == ("low_spo2", "critical", "R001")
    assert alert.notify == ("13800138000",)
    assert alert.detail["value"] == 88.0 and alert.detail["unit"] == "%"
    assert is_urgent(alert.kind, alert.severity, alert.resident_id)
    facts = AlertFacts(alert.kind, "王秀英", datetime(2026, 3, 1, tzinfo=UTC), alert.detail)
    assert what_zh(facts) == "血氧偏低(88%)"
    assert KIND_NAMES_ZH["low_spo2"] == "血氧偏低"
    WireReading.model_validate_json(r.to_wire())


def test_normal_spo2_raises_nothing_and_an_implausible_one_raises_nothing(hut: Hut) -> None:
    frame, m = decode(hut, SPOT, bytes.fromhex("0facf3bef5e8070b1d170839204022000066e3"))  # 94 %
    snap = hut.registry.snapshot()
    p = hut.pipeline.from_measurement(m, device=snap.devices["oxi"], frame=frame)
    assert p.alerts == () and p.reading.kind == "spo2"
    assert {"questionable_measurement", "equipment_malfunction", "low_perfusion"} <= set(p.reading.flags)
    frame, m = decode(hut, SPOT, bytes([0x00, 40, 0x00, 72, 0x00]))  # 40 %: implausible, no alert
    p = hut.pipeline.from_measurement(m, device=snap.devices["oxi"], frame=frame)
    assert p.alerts == () and "implausible:spo2" in p.reading.flags


def test_the_continuous_stream_is_telemetry_and_alerts_too(hut: Hut) -> None:
    snap = hut.registry.snapshot()
    frame, m = decode(hut, CONTINUOUS, bytes([0x00, 87, 0x00, 90, 0x00]))
    p = hut.pipeline.from_measurement(m, device=snap.devices["oxi"], frame=frame)
    assert p.reading.kind == "spo2_stream" and p.reading.resident_id == "R001"
    assert [a.kind for a in p.alerts] == ["low_spo2"]
    WireReading.model_validate_json(p.reading.to_wire())


def test_a_stream_repeats_values_and_a_spot_check_resent_is_a_duplicate(hut: Hut) -> None:
    dedup = Deduplicator()
    _, stream = decode(hut, CONTINUOUS, bytes([0x00, 97, 0x00, 70, 0x00]))
    assert not dedup.seen(OXI, stream, 0.0) and not dedup.seen(OXI, stream, 1.0)
    _, spot = decode(hut, SPOT, bytes([0x00, 97, 0x00, 70, 0x00]))  # no time stamp
    assert not dedup.seen(OXI, spot, 0.0) and dedup.seen(OXI, spot, 1.0)


def test_invalid_or_unavailable_measurements_give_no_reading() -> None:
    profile = registry.get("gatt.plx_continuous_measurement")
    at = datetime(2026, 3, 1, tzinfo=UTC)
    for status in (0x8000, 0x2000):  # invalid measurement detected, measurement unavailable
        data = bytes([0x04, 97, 0x00, 70, 0x00]) + status.to_bytes(2, "little")
        d = profile.decode(RawFrame("ble_gatt", OXI, data, at, channel=CONTINUOUS))
        assert d.measurements == () and d.fields["valid"] is False
    nan = profile.decode(
        RawFrame("ble_gatt", OXI, bytes([0x00, 0xFF, 0x07, 70, 0x00]), at, channel=CONTINUOUS)
    )
    assert nan.measurements == ()
