from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drivers.frames import RawFrame
from drivers.measurement import DeviceEvent, Measurement, Value
from gateway.alerts import AlertManager
from gateway.clinical import ClinicalSettings
from gateway.clock import FakeClock
from gateway.errors import ReadingError
from gateway.pipeline import Pipeline
from gateway.registry import DeviceEntry, Registry, ResidentEntry
from gateway.sessions import KioskSessions
from uplink.codec import Reading
from uplink.contract import WireReading

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DAY = 86_400.0


class Hut:
    def __init__(self, tmp_path: Path, *, synced: bool = True) -> None:
        self.clock = FakeClock(NOW, synced=synced, boot_id="boot-1")
        self.registry = Registry(tmp_path / "registry.db")
        self.sessions = KioskSessions(self.clock, 180)
        self.alerts = AlertManager(self.clock, 900)
        self.pipeline = Pipeline(
            registry=self.registry.snapshot,
            sessions=self.sessions,
            clinical=ClinicalSettings.default(),
            alerts=self.alerts,
            clock=self.clock,
            max_device_skew_s=DAY,
            device_tz="Asia/Shanghai",
            max_device_future_s=600,
        )
        r = self.registry
        r.add_resident(ResidentEntry("R001", "王秀英", "female", 1950, 155.0, ("13800138000",)))
        r.add_resident(ResidentEntry("R002", "张三", "male", 1947, 170.0))
        r.add_resident(ResidentEntry("R003", "李小", "male", 2015, 130.0))
        r.add_resident(ResidentEntry("R004", "赵六", "female", 1960, None, consent=False))
        self.cuff = r.add_device(DeviceEntry("hut-cuff", "gatt.blood_pressure", "AA:BB:CC:DD:EE:01"))
        self.scale = r.add_device(
            DeviceEntry("hut-scale", "gatt.weight", "AA:BB:CC:DD:EE:02", user_map={1: "R002"})
        )
        self.band = r.add_device(DeviceEntry("band", "watch.tcp", "8800000015", resident_id="R001"))

    def frame(self, source: str = "AA:BB:CC:DD:EE:01", data: bytes = b"\x1e\x8a") -> RawFrame:
        return RawFrame("ble_gatt", source, data, self.clock.now(), monotonic=self.clock.monotonic())


@pytest.fixture
def hut(tmp_path: Path) -> Hut:
    return Hut(tmp_path)


def bp(sys: float, dia: float, **kw: object) -> Measurement:
    values = {
        "systolic": Value(sys, "mm[Hg]"),
        "diastolic": Value(dia, "mm[Hg]"),
        "pulse_rate": Value(70, "/min"),
    }
    return Measurement("blood_pressure", values, **kw)  # type: ignore[arg-type]


def wire(r: object) -> WireReading:
    return WireReading.model_validate_json(Reading.to_wire(r))  # type: ignore[arg-type]


def test_shared_cuff_goes_to_the_signed_in_resident(hut: Hut) -> None:
    hut.sessions.sign_in("R002", "card")
    p = hut.pipeline.from_measurement(bp(128, 82), device=hut.cuff, frame=hut.frame())
    r = p.reading
    assert (r.resident_id, r.attribution, r.revision) == ("R002", "session", 0)
    assert r.classification is not None and r.classification.category == "high_normal"
    assert r.raw == b"\x1e\x8a" and r.device.id == "hut-cuff" and r.device.address == "AA:BB:CC:DD:EE:01"
    assert p.alerts == ()
    w = wire(r)
    assert w.classification is not None and w.classification.label_zh == "正常高值"
    assert w.raw_hex == "1e8a"


def test_without_a_session_the_reading_is_kept_unattributed(hut: Hut) -> None:
    r = hut.pipeline.from_measurement(bp(128, 82), device=hut.cuff, frame=hut.frame()).reading
    assert (r.resident_id, r.attribution) == (None, "unattributed")
    assert r.classification is not None  # BP needs no resident data


def test_session_timeout_then_unattributed(hut: Hut) -> None:
    hut.sessions.sign_in("R002")
    hut.clock.advance(100)
    assert (
        hut.pipeline.from_measurement(bp(120, 80), device=hut.cuff, frame=hut.frame()).reading.resident_id
        == "R002"
    )
    hut.clock.advance(179)  # the reading counted as activity
    assert (
        hut.pipeline.from_measurement(bp(120, 80), device=hut.cuff, frame=hut.frame()).reading.resident_id
        == "R002"
    )
    hut.clock.advance(180)
    r = hut.pipeline.from_measurement(bp(120, 80), device=hut.cuff, frame=hut.frame()).reading
    assert (r.resident_id, r.attribution) == (None, "unattributed")


def test_personal_and_multi_user_devices(hut: Hut) -> None:
    hut.sessions.sign_in("R002")
    r = hut.pipeline.from_measurement(
        Measurement("heart_rate", {"heart_rate": Value(72, "/min")}),
        device=hut.band,
        frame=hut.frame("8800000015"),
    ).reading
    assert (r.resident_id, r.attribution) == ("R001", "personal")
    w = Measurement("weight", {"weight": Value(70.0, "kg")}, user_index=1)
    r = hut.pipeline.from_measurement(w, device=hut.scale, frame=hut.frame("AA:BB:CC:DD:EE:02")).reading
    assert (r.resident_id, r.attribution, r.user_index) == ("R002", "device_user", 1)
    # BMI from the resident's registered height (170 cm): 24.2 -> overweight
    assert r.values["bmi"] == Value(24.2, "kg/m2") and "derived:bmi" in r.flags
    assert r.classification is not None and r.classification.category == "overweight"
    assert "WS/T 428" in r.classification.guideline


def test_late_assignment_same_id_higher_revision(hut: Hut) -> None:
    w = Measurement("weight", {"weight": Value(60.0, "kg")})
    r0 = hut.pipeline.from_measurement(w, device=hut.scale, frame=hut.frame("AA:BB:CC:DD:EE:02")).reading
    assert r0.attribution == "unattributed" and r0.classification is None and "bmi" not in r0.values
    r1 = hut.pipeline.assign(r0, "R001")
    assert (r1.id, r1.revision, r1.resident_id, r1.attribution) == (r0.id, 1, "R001", "assigned")
    assert r1.values["bmi"] == Value(25.0, "kg/m2")  # 60 / 1.55^2 with R001's height
    assert r1.classification is not None and r1.classification.category == "overweight"
    r2 = hut.pipeline.assign(r1, "R002")  # corrected: someone else stood on the scale
    assert (r2.id, r2.revision, r2.values["bmi"].value) == (r0.id, 2, 20.8)
    assert r2.flags.count("derived:bmi") == 1
    assert wire(r2).revision == 2
    with pytest.raises(ReadingError) as e:
        hut.pipeline.assign(r0, "R404")
    assert set(e.value.errors) == {"resident_id"}


def test_bmi_rules(hut: Hut) -> None:
    # device-provided BMI is used as is; a height in the measurement beats the registry
    m = Measurement("body_composition", {"weight": Value(70, "kg"), "height": Value(1.60, "m")}, user_index=1)
    r = hut.pipeline.from_measurement(m, device=hut.scale, frame=hut.frame("AA:BB:CC:DD:EE:02")).reading
    assert r.values["height"] == Value(160.0, "cm") and r.values["bmi"].value == 27.3
    # a child: the adult table does not apply
    hut.sessions.sign_in("R003")
    r = hut.pipeline.from_manual("weight", {"weight": 30}, resident_id="R003", measured_at=None)
    r = r.reading
    assert r.classification is None and "under_age:bmi" in r.flags and r.values["bmi"].value == 17.8
    # no height anywhere: no BMI, no classification
    r = hut.pipeline.from_manual("weight", {"weight": 60}, resident_id="R004", measured_at=None).reading
    assert "bmi" not in r.values and r.classification is None and "no_consent" in r.flags


def test_implausible_values_are_kept_flagged_not_classified(hut: Hut) -> None:
    hut.sessions.sign_in("R002")
    p = hut.pipeline.from_measurement(bp(320, 200), device=hut.cuff, frame=hut.frame())
    r = p.reading
    assert r.values["systolic"].value == 320 and "implausible:systolic" in r.flags
    assert r.classification is None and p.alerts == ()  # no crisis alert from a broken cuff
    assert wire(r).flags == ["implausible:systolic"]


def test_units_nan_and_unknown_values(hut: Hut) -> None:
    m = Measurement(
        "blood_pressure",
        {
            "systolic": Value(18.7, "kPa"),
            "diastolic": Value(11.0, "kPa"),
            "pulse_rate": Value(math.nan, "/min"),
            "irregular_index": Value(3, "1"),
            "mean_arterial_pressure": Value(5, "furlong"),
        },
        flags=("irregular_pulse",),
        extras={"measurement_status": {"body_movement": True}},
    )
    r = hut.pipeline.from_measurement(m, device=hut.cuff, frame=hut.frame()).reading
    assert r.values["systolic"].unit == "mm[Hg]" and r.values["systolic"].value == pytest.approx(
        140.2615, abs=1e-3
    )
    assert "pulse_rate" not in r.values and r.extras["unreadable"] == {"pulse_rate": "nan"}
    assert r.extras["other_values"] == {
        "irregular_index": {"value": 3, "unit": "1"},
        "mean_arterial_pressure": {"value": 5, "unit": "furlong"},
    }
    assert set(r.flags) == {"irregular_pulse", "unreadable:pulse_rate", "unconverted:mean_arterial_pressure"}
    assert r.extras["measurement_status"] == {"body_movement": True}
    assert r.classification is not None and r.classification.category == "isolated_systolic"
    wire(r)


def test_missing_required_value_is_kept_not_classified(hut: Hut) -> None:
    m = Measurement("blood_pressure", {"systolic": Value(130, "mm[Hg]")})
    r = hut.pipeline.from_measurement(m, device=hut.cuff, frame=hut.frame()).reading
    assert "missing:diastolic" in r.flags and r.classification is None


def test_unknown_kind_is_refused(hut: Hut) -> None:
    with pytest.raises(ReadingError) as e:
        hut.pipeline.from_measurement(Measurement("glucose", {}), device=hut.cuff, frame=hut.frame())
    assert set(e.value.errors) == {"kind"}


def test_unknown_device(hut: Hut) -> None:
    hut.sessions.sign_in("R002")
    r = hut.pipeline.from_measurement(bp(120, 80), device=None, frame=hut.frame("11:22:33:44:55:66")).reading
    assert (r.resident_id, r.attribution, r.device.id) == (None, "unattributed", "11:22:33:44:55:66")
    assert "unknown_device" in r.flags


def test_crisis_alert_goes_to_guardians_and_repeats_are_counted(hut: Hut) -> None:
    frame = hut.frame("8800000015")
    band_cuff = DeviceEntry("home-cuff", "gatt.blood_pressure", "8800000015", resident_id="R001")
    p = hut.pipeline.from_measurement(bp(185, 100), device=band_cuff, frame=frame)
    assert p.reading.classification is not None and p.reading.classification.category == "grade_3"
    assert "doctor now" in (p.reading.classification.advice or "")
    (a,) = p.alerts
    assert (a.kind, a.severity, a.resident_id, a.notify, a.reading_id) == (
        "bp_crisis",
        "critical",
        "R001",
        ("13800138000",),
        p.reading.id,
    )
    assert "185" not in a.message and a.detail["values"]["systolic"] == 185  # values only in the detail
    hut.clock.advance(300)  # "measure again in 5 minutes": still high
    assert (
        hut.pipeline.from_measurement(bp(182, 100), device=band_cuff, frame=hut.frame("8800000015")).alerts
        == ()
    )
    hut.clock.advance(900)
    (again,) = hut.pipeline.from_measurement(
        bp(181, 100), device=band_cuff, frame=hut.frame("8800000015")
    ).alerts
    assert again.suppressed_repeats == 1
    # 179/109 is not a crisis
    assert hut.pipeline.from_measurement(bp(179, 109), device=band_cuff, frame=frame).alerts == ()


def test_device_time_variants(hut: Hut) -> None:
    hut.sessions.sign_in("R002")
    cases = [
        (datetime(2026, 3, 1, 9, 58), "device"),  # naive local, two minutes ago
        (datetime(2026, 3, 1, 1, 58, tzinfo=UTC), "device"),
        (datetime(2000, 1, 1, 0, 0), "gateway"),  # after a battery change
        (datetime(2036, 1, 1, 0, 0), "gateway"),  # far future
        (None, "gateway"),  # year 0 -> the decoder gave none
    ]
    for device_time, source in cases:
        m = bp(120, 80, device_time=device_time, device_time_note=None if device_time else "year 0 (unknown)")
        r = hut.pipeline.from_measurement(m, device=hut.cuff, frame=hut.frame()).reading
        assert r.time_source == source, device_time
        assert r.received_at == NOW and r.gateway_clock_synced
        if source == "device":
            assert r.effective_at == datetime(2026, 3, 1, 1, 58, tzinfo=UTC)
            assert r.extras["device_clock_offset_s"] == -120
        else:
            assert r.effective_at == NOW and "receive time" in r.extras["time_note"]
        assert r.measured_at == (device_time.isoformat() if device_time else None)
    assert r.extras["device_time_note"] == "year 0 (unknown)"


def test_unsynchronised_clock_then_corrected(tmp_path: Path) -> None:
    hut = Hut(tmp_path, synced=False)
    hut.clock.set(datetime(2025, 12, 30, 23, 0, tzinfo=UTC))  # stale fake-hwclock time at boot
    hut.sessions.sign_in("R002")
    m = bp(130, 85, device_time=datetime(2026, 3, 1, 10, 0))  # the cuff's clock is right (local)
    r0 = hut.pipeline.from_measurement(m, device=hut.cuff, frame=hut.frame()).reading
    assert not r0.gateway_clock_synced and r0.time_source == "gateway"
    assert r0.extras["monotonic"] == 1000.0 and r0.extras["boot_id"] == "boot-1"
    assert wire(r0).gateway_clock_synced is False
    assert hut.pipeline.correct_time(r0) is None  # still unsynchronised
    hut.clock.advance(90)
    hut.clock.set(datetime(2026, 3, 1, 2, 1, 30, tzinfo=UTC), synced=True)  # NTP
    r1 = hut.pipeline.correct_time(r0)
    assert r1 is not None
    assert (r1.id, r1.revision, r1.gateway_clock_synced) == (r0.id, 1, True)
    assert r1.received_at == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    assert (r1.time_source, r1.effective_at) == ("device", datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    assert "monotonic" not in r1.extras and r1.extras["unsynced_received_at"].startswith("2025-12-30")
    assert r1.classification == r0.classification and r1.resident_id == "R002"
    assert hut.pipeline.correct_time(r1) is None  # nothing left to correct
    # a reading from before a reboot cannot be corrected (monotonic clock restarted)
    hut.clock.set_boot_id("boot-2")
    assert hut.pipeline.correct_time(r0) is None


def test_manual_entry(hut: Hut) -> None:
    at = NOW - timedelta(hours=2)
    p = hut.pipeline.from_manual(
        "blood_pressure",
        {"systolic": 150, "diastolic": 85},
        resident_id="R001",
        measured_at=at,
        entered_by="doctor",
    )
    r = p.reading
    assert (r.attribution, r.resident_id, r.device.id, r.time_source, r.effective_at) == (
        "manual",
        "R001",
        "manual",
        "device",
        at,
    )
    assert r.classification is not None and r.classification.category == "isolated_systolic"
    assert r.extras["entered_by"] == "doctor" and r.values["systolic"] == Value(150.0, "mm[Hg]")
    wire(r)
    r = hut.pipeline.from_manual(
        "temperature", {"temperature": 36.6}, resident_id=None, measured_at=None
    ).reading
    assert r.attribution == "unattributed" and r.time_source == "gateway"


def test_manual_entry_names_every_bad_field(hut: Hut) -> None:
    with pytest.raises(ReadingError) as e:
        hut.pipeline.from_manual(
            "blood_pressure",
            {"systolic": math.inf, "pulse": 60, "mean_arterial_pressure": "high", "pulse_rate": True},
            resident_id="R404",
            measured_at=NOW + timedelta(days=1),
        )
    assert e.value.errors.keys() == {
        "values.systolic",
        "values.pulse",
        "values.mean_arterial_pressure",
        "values.pulse_rate",
        "values.diastolic",
        "resident_id",
        "measured_at",
    }
    assert "finite" in e.value.errors["values.systolic"] and e.value.errors["values.diastolic"] == "required"
    with pytest.raises(ReadingError) as e:
        hut.pipeline.from_manual("glucose", {"x": 1}, resident_id=None, measured_at=None)
    assert set(e.value.errors) == {"kind"}
    with pytest.raises(ReadingError) as e:
        hut.pipeline.from_manual(
            "weight", {"weight": 60}, resident_id=None, measured_at=NOW - timedelta(days=400)
        )
    assert e.value.errors == {"measured_at": "is more than a year ago"}


def test_events(hut: Hut) -> None:
    watch_frame = hut.frame("8800000015")
    (sos,) = hut.pipeline.from_event(
        DeviceEvent("sos", {"battery_pct": 55}), device=hut.band, frame=watch_frame
    )
    assert (sos.kind, sos.severity, sos.resident_id, sos.notify) == (
        "sos",
        "critical",
        "R001",
        ("13800138000",),
    )
    assert "position unknown" in sos.message and sos.detail["position"] is None
    hut.clock.advance(61)
    (sos2,) = hut.pipeline.from_event(
        DeviceEvent("sos", {"latitude": 22.57, "longitude": 113.86}), device=hut.band, frame=watch_frame
    )
    assert sos2.detail["position"] == {"latitude": 22.57, "longitude": 113.86}
    (fall,) = hut.pipeline.from_event(DeviceEvent("fall_down"), device=hut.band, frame=watch_frame)
    assert fall.kind == "fall_down" and fall.severity == "critical"
    assert (
        hut.pipeline.from_event(DeviceEvent("battery", {"percent": 40}), device=hut.band, frame=watch_frame)
        == []
    )
    (low,) = hut.pipeline.from_event(
        DeviceEvent("battery", {"percent": 15}), device=hut.band, frame=watch_frame
    )
    assert (low.kind, low.severity, low.detail["battery_pct"]) == ("low_battery", "warning", 15)
    assert (
        hut.pipeline.from_event(DeviceEvent("low_battery"), device=hut.band, frame=watch_frame) == []
    )  # suppressed
    (hut_low,) = hut.pipeline.from_event(DeviceEvent("low_battery"), device=hut.cuff, frame=hut.frame())
    assert hut_low.resident_id is None and hut_low.notify == ()
    assert (
        hut.pipeline.from_event(
            DeviceEvent("cuff_pressure", {"pressure": 80}), device=hut.cuff, frame=hut.frame()
        )
        == []
    )
    (stray,) = hut.pipeline.from_event(DeviceEvent("sos"), device=None, frame=hut.frame("9999"))
    assert stray.resident_id is None and stray.detail["device_id"] == "9999"


def test_watch_and_button_events(hut: Hut) -> None:
    """Event shapes as drivers/watch and drivers/profiles/bthome_v2 emit them."""
    f = hut.frame("8800000015")
    no_fix = {"valid": False, "latitude": None, "longitude": None, "time_utc": None, "status_hex": "00010000"}
    (sos,) = hut.pipeline.from_event(DeviceEvent("sos", no_fix), device=hut.band, frame=f)
    assert sos.detail["position"] is None and "position unknown" in sos.message
    assert sos.detail["status_hex"] == "00010000" and sos.notify == ("13800138000",)
    (alarm,) = hut.pipeline.from_event(DeviceEvent("alarm", {"valid": False}), device=hut.band, frame=f)
    assert (alarm.kind, alarm.severity) == ("device_alarm", "critical")
    (off,) = hut.pipeline.from_event(DeviceEvent("watch_taken_off", {}), device=hut.band, frame=f)
    assert (off.kind, off.severity) == ("watch_taken_off", "warning")
    assert hut.pipeline.from_event(DeviceEvent("out_of_fence", {}), device=hut.band, frame=f) == []
    (low,) = hut.pipeline.from_event(DeviceEvent("battery", {"percent": 9}), device=hut.band, frame=f)
    assert low.detail["battery_pct"] == 9
    button = hut.registry.add_device(DeviceEntry("btn", "bthome.v2", "AA:BB:CC:DD:EE:09", resident_id="R002"))
    hut.registry.add_device(DeviceEntry("hut-btn", "bthome.v2", "AA:BB:CC:DD:EE:0A"))
    bf = hut.frame("AA:BB:CC:DD:EE:09")
    press = DeviceEvent("button", {"event": "press", "button_index": 0, "packet_id": 7})
    (btn_sos,) = hut.pipeline.from_event(press, device=button, frame=bf)
    assert (btn_sos.kind, btn_sos.resident_id, btn_sos.detail["device_event"]) == ("sos", "R002", "button")
    assert btn_sos.detail["event"] == "press"
    shared = hut.registry.snapshot().device("hut-btn")
    assert hut.pipeline.from_event(press, device=shared, frame=bf) == []
    rotate = DeviceEvent("button", {"event": "none"})
    assert hut.pipeline.from_event(rotate, device=button, frame=bf) == []
