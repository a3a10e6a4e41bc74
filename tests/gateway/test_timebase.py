from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.clock import FakeClock
from gateway.timebase import ClockCorrector, device_time_utc, monotonic_extras, resolve_time

RECEIVED = datetime(2024, 3, 15, 0, 31, tzinfo=UTC)  # 08:31 in Shanghai
DAY = 86_400.0

# Device timestamps as decoded from public conformance vectors (BRIEF section 0 / 2.2):
# ``None`` where the decoder reports an unknown or invalid time (iso = null).
VECTOR_TIMES = [
    # id, source, decoded device time, expected time_source
    (
        "bpm-001",
        "Nordic Android-BLE-Common-Library BloodPressureMeasurementDataCallbackTest (year 0)",
        None,
        "gateway",
    ),
    ("bpm-021", "Bluetooth SIG GSS date_time.yaml (all zero = unknown)", None, "gateway"),
    ("dt-003", "Bluetooth SIG GSS date_time.yaml (month 13 = invalid)", None, "gateway"),
    (
        "mi2-001",
        "Bluetooth-Devices/xiaomi-ble tests (scale clock never set)",
        datetime(1970, 5, 4, 15, 2, 1),
        "gateway",
    ),
    (
        "bpm-005",
        "Bluetooth SIG GATT XML blood_pressure_measurement",
        datetime(2023, 11, 2, 19, 45, 10),
        "gateway",
    ),
    ("dt-001", "Bluetooth SIG GSS date_time.yaml", datetime(2024, 3, 15, 8, 30, 0), "device"),
    (
        "watch-007",
        "3G watch protocol AL frame (time is UTC)",
        datetime(2024, 3, 15, 0, 30, tzinfo=UTC),
        "device",
    ),
]


@pytest.mark.parametrize(("vid", "source", "device_time", "expected"), VECTOR_TIMES)
def test_vector_device_times(vid: str, source: str, device_time: datetime | None, expected: str) -> None:
    d = resolve_time(device_time, RECEIVED, clock_synced=True, max_skew_s=DAY, device_tz="Asia/Shanghai")
    assert d.time_source == expected, (vid, source, d)
    if expected == "device":
        assert d.effective_at == datetime(2024, 3, 15, 0, 30, tzinfo=UTC)
        assert d.offset_s == -60.0
        assert d.note is None
    else:
        assert d.effective_at == RECEIVED
        assert d.note and "receive time" in d.note
    if device_time is not None:
        assert d.measured_at_text == device_time.isoformat()  # kept as reported


def test_unknown_device_time_keeps_the_decoders_reason() -> None:
    d = resolve_time(None, RECEIVED, clock_synced=True, max_skew_s=DAY, device_time_note="year 0 (unknown)")
    assert d == d.__class__(
        RECEIVED, "gateway", None, None, "no device time (year 0 (unknown)): using receive time"
    )


def test_year_2000_after_a_battery_change() -> None:
    d = resolve_time(datetime(2000, 1, 1, 0, 5), RECEIVED, clock_synced=True, max_skew_s=DAY)
    assert d.time_source == "gateway" and d.effective_at == RECEIVED
    assert d.offset_s is not None and d.offset_s < -24 * 365 * DAY
    assert "behind" in (d.note or "") and "years" in (d.note or "")
    assert d.measured_at_text == "2000-01-01T00:05:00"


def test_far_future() -> None:
    d = resolve_time(datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC), RECEIVED, clock_synced=True, max_skew_s=DAY)
    assert d.time_source == "gateway" and "ahead" in (d.note or "")


def test_future_bound_is_separate_from_past_bound() -> None:
    ahead = RECEIVED + timedelta(minutes=30)
    behind = RECEIVED - timedelta(hours=20)
    kw = {"clock_synced": True, "max_skew_s": DAY, "max_future_s": 600.0}
    assert resolve_time(ahead, RECEIVED, **kw).time_source == "gateway"  # type: ignore[arg-type]
    assert resolve_time(behind, RECEIVED, **kw).time_source == "device"  # type: ignore[arg-type]
    assert resolve_time(RECEIVED + timedelta(minutes=5), RECEIVED, **kw).time_source == "device"  # type: ignore[arg-type]
    # without a separate bound the skew applies both ways
    assert resolve_time(ahead, RECEIVED, clock_synced=True, max_skew_s=DAY).time_source == "device"


def test_within_skew_boundary() -> None:
    exactly = RECEIVED - timedelta(seconds=3600)
    assert resolve_time(exactly, RECEIVED, clock_synced=True, max_skew_s=3600).time_source == "device"
    beyond = exactly - timedelta(seconds=1)
    assert resolve_time(beyond, RECEIVED, clock_synced=True, max_skew_s=3600).time_source == "gateway"


def test_naive_is_local_aware_is_as_is() -> None:
    naive = datetime(2024, 3, 15, 8, 30)
    assert device_time_utc(naive, "Asia/Shanghai") == datetime(2024, 3, 15, 0, 30, tzinfo=UTC)
    assert device_time_utc(naive, "UTC") == datetime(2024, 3, 15, 8, 30, tzinfo=UTC)
    assert device_time_utc(naive) == datetime(2024, 3, 15, 0, 30, tzinfo=UTC)  # default Asia/Shanghai
    aware = datetime(2024, 3, 15, 8, 30, tzinfo=timezone(timedelta(hours=8)))
    assert device_time_utc(aware, "UTC") == datetime(2024, 3, 15, 0, 30, tzinfo=UTC)
    # the same wall time read as UTC would be 8 h ahead: refused
    d = resolve_time(naive, RECEIVED, clock_synced=True, max_skew_s=DAY, device_tz="UTC", max_future_s=600)
    assert d.time_source == "gateway" and d.offset_s == pytest.approx(8 * 3600 - 60)


def test_out_of_range_device_time() -> None:
    d = resolve_time(datetime(1, 1, 1, 0, 0), RECEIVED, clock_synced=True, max_skew_s=DAY)
    assert d.time_source == "gateway" and d.effective_at == RECEIVED


def test_naive_received_at_is_refused() -> None:
    with pytest.raises(ValueError):
        resolve_time(None, datetime(2024, 1, 1), clock_synced=True, max_skew_s=DAY)


def test_unsynchronised_clock_never_trusts_either_clock() -> None:
    bogus = datetime(1970, 1, 1, 0, 2, tzinfo=UTC)
    d = resolve_time(datetime(2024, 3, 15, 8, 30), bogus, clock_synced=False, max_skew_s=DAY)
    assert d.time_source == "gateway" and d.effective_at == bogus
    assert "not synchronised" in (d.note or "")
    assert d.measured_at_text == "2024-03-15T08:30:00"


def test_clock_corrector_after_synchronisation() -> None:
    # A Pi boots at the fake-hwclock time (stale by days), receives a reading, then NTP steps the clock.
    clock = FakeClock(datetime(2024, 3, 1, 12, 0, tzinfo=UTC), monotonic=50.0, synced=False, boot_id="b1")
    corrector = ClockCorrector(clock, max_skew_s=DAY, device_tz="Asia/Shanghai")
    stale_received = clock.now()
    extras = monotonic_extras(clock.monotonic(), clock.boot_id())
    measured = "2024-03-15T08:30:00"  # the cuff's clock is right
    assert corrector.correct(extras, measured) is None  # not yet synchronised
    clock.advance(120)  # two minutes later ...
    clock.set(datetime(2024, 3, 15, 0, 32, tzinfo=UTC), synced=True)  # ... NTP steps the wall clock
    c = corrector.correct(extras, measured)
    assert c is not None
    assert c.received_at == datetime(2024, 3, 15, 0, 30, tzinfo=UTC)  # now - 120 s of monotonic time
    assert c.received_at != stale_received
    assert c.decision.time_source == "device"
    assert c.decision.effective_at == datetime(2024, 3, 15, 0, 30, tzinfo=UTC)
    # without a device time the corrected receive time is used
    c2 = corrector.correct(extras, None)
    assert c2 is not None and c2.decision.effective_at == c2.received_at


def test_clock_corrector_refuses_another_boot_and_garbage() -> None:
    clock = FakeClock(synced=True, boot_id="b2")
    corrector = ClockCorrector(clock, max_skew_s=DAY)
    assert corrector.correct(monotonic_extras(10.0, "b1"), None) is None
    assert corrector.correct({}, None) is None
    assert corrector.correct({"monotonic": "x"}, None) is None
    assert corrector.correct({"monotonic": True}, None) is None
    assert corrector.true_time(clock.monotonic() + 5) is None  # a reference from the future


def test_sync_watcher_reports_the_transition_once() -> None:
    from gateway.timebase import SyncWatcher

    clock = FakeClock(synced=False)
    w = SyncWatcher(clock)
    assert not w.poll() and not w.synced
    clock.set(synced=True)
    assert w.poll() and w.synced
    assert not w.poll()
    clock.set(synced=False)
    assert not w.poll()
    clock.set(synced=True)
    assert w.poll()


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.none(), st.datetimes(), st.datetimes(timezones=st.just(UTC))),
    st.booleans(),
    st.floats(min_value=1, max_value=1e9),
)
def test_resolve_time_always_decides(device_time: datetime | None, synced: bool, skew: float) -> None:
    d = resolve_time(device_time, RECEIVED, clock_synced=synced, max_skew_s=skew, max_future_s=600)
    assert d.effective_at.tzinfo is not None
    if d.time_source == "device":
        assert synced and d.offset_s is not None and -skew <= d.offset_s <= 600
    else:
        assert d.effective_at == RECEIVED and d.note
