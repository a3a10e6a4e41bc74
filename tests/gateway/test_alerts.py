from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.alerts import AlertManager
from gateway.clock import FakeClock
from uplink.contract import WireAlert


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 2, 0, tzinfo=UTC))


def test_alert_fields_and_wire_form(clock: FakeClock) -> None:
    m = AlertManager(clock, 600, guardians=lambda rid: ("13800138000", "R002") if rid == "R001" else ())
    a = m.raise_alert(
        "bp_crisis", "critical", "R001", "Blood pressure at crisis level", {"systolic": 190}, reading_id="r1"
    )
    assert a is not None
    assert a.notify == ("13800138000", "R002") and a.raised_at == clock.now() and a.suppressed_repeats == 0
    wire = WireAlert.model_validate_json(a.to_wire())
    assert isinstance(wire, WireAlert)
    assert wire.id == a.id and wire.kind == "bp_crisis" and wire.detail == {"systolic": 190}
    assert wire.reading_id == "r1" and wire.notify == ["13800138000", "R002"]
    assert wire.raised_at == clock.now()
    b = m.raise_alert("gateway_fault", "warning", None, "disk full", notify=["county-ops"])
    assert b is not None and b.notify == ("county-ops",) and b.id != a.id


def test_repeats_are_suppressed_counted_and_reported(clock: FakeClock) -> None:
    m = AlertManager(clock, 600)
    first = m.raise_alert("low_battery", "warning", "R001", "battery low", key="band1")
    assert first is not None
    for _ in range(3):
        clock.advance(100)
        assert m.raise_alert("low_battery", "warning", "R001", "battery low", key="band1") is None
    assert m.pending_repeats("low_battery", "R001", "band1") == 3
    stats = m.stats()
    assert stats["suppressed"] == {"low_battery": 3} and stats["raised"] == {"low_battery": 1}
    assert stats["pending_repeats"] == 3
    # another condition (other key, other resident, other kind) is independent
    assert m.raise_alert("low_battery", "warning", "R001", "battery low", key="cuff1") is not None
    assert m.raise_alert("low_battery", "warning", "R002", "battery low", key="band1") is not None
    clock.advance(300)  # 600 s after the first alert
    again = m.raise_alert("low_battery", "warning", "R001", "battery low", key="band1")
    assert again is not None and again.suppressed_repeats == 3
    assert m.pending_repeats("low_battery", "R001", "band1") == 0
    assert m.stats()["pending_repeats"] == 0


def test_per_kind_windows(clock: FakeClock) -> None:
    m = AlertManager(clock, {"fence_exit": 0, "*": 3600})
    assert m.raise_alert("fence_exit", "warning", "R1", "left") is not None
    assert m.raise_alert("fence_exit", "warning", "R1", "left") is not None  # 0 = never suppressed
    assert m.raise_alert("signal_lost", "warning", "R1", "lost") is not None
    clock.advance(3599)
    assert m.raise_alert("signal_lost", "warning", "R1", "lost") is None
    assert m.window_s("anything") == 3600


def test_sos_is_never_held_back_long(clock: FakeClock) -> None:
    m = AlertManager(clock, 3600, sos_max_suppress_s=600)  # asks for more than the cap
    assert m.window_s("sos") == 60
    assert m.raise_alert("sos", "critical", "R1", "SOS", key="w1") is not None
    clock.advance(30)
    assert m.raise_alert("sos", "critical", "R1", "SOS", key="w1") is None  # the watch repeating its frame
    clock.advance(30)
    a = m.raise_alert("sos", "critical", "R1", "SOS", key="w1")
    assert a is not None and a.suppressed_repeats == 1


def test_bad_input(clock: FakeClock) -> None:
    m = AlertManager(clock)
    with pytest.raises(ValueError):
        m.raise_alert("sos", "panic", None, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        m.raise_alert("", "info", None, "x")


def test_from_config(clock: FakeClock) -> None:
    from gateway.config import ClinicalConfig

    cfg = ClinicalConfig.model_validate({"suppress_s": 100, "suppress_by_kind_s": {"low_battery": 5000}})
    m = AlertManager.from_config(clock, cfg)
    assert (m.window_s("bp_crisis"), m.window_s("low_battery"), m.window_s("sos")) == (100, 5000, 60)
