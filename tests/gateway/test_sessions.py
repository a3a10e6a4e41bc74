from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.clock import FakeClock
from gateway.sessions import KioskSessions, SessionEvent


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 2, 0, tzinfo=UTC))


def test_sign_in_out(clock: FakeClock) -> None:
    events: list[SessionEvent] = []
    k = KioskSessions(clock, 180, listener=events.append)
    assert k.current() is None
    s = k.sign_in("R001", "card")
    assert (s.resident_id, s.method, s.started_at) == ("R001", "card", clock.now())
    assert k.current() == s
    assert k.sign_out() == s
    assert k.current() is None and k.sign_out() is None
    assert [e.type for e in events] == ["signed_in", "signed_out"]


def test_timeout_after_inactivity_is_reported(clock: FakeClock) -> None:
    events: list[SessionEvent] = []
    k = KioskSessions(clock, 180, listener=events.append)
    s = k.sign_in("R001")
    clock.advance(179)
    assert k.current() == s
    assert k.remaining_s() == pytest.approx(1)
    clock.advance(1)
    assert k.current() is None
    assert [e.type for e in events] == ["signed_in", "expired"]
    assert events[-1].session == s
    assert k.current() is None and len(events) == 2  # reported once


def test_touch_extends(clock: FakeClock) -> None:
    k = KioskSessions(clock, 180)
    k.sign_in("R001")
    clock.advance(170)
    assert k.touch() is not None
    clock.advance(170)
    assert k.current() is not None
    clock.advance(10)
    assert k.expire() is not None and k.current() is None
    assert k.touch() is None


def test_wall_clock_step_does_not_end_a_session(clock: FakeClock) -> None:
    k = KioskSessions(clock, 180)
    k.sign_in("R001")
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))  # NTP step by years
    assert k.current() is not None


def test_new_sign_in_replaces(clock: FakeClock) -> None:
    events: list[SessionEvent] = []
    k = KioskSessions(clock, 180, listener=events.append)
    a = k.sign_in("R001")
    b = k.sign_in("R002", "qr")
    assert k.current() == b and a.id != b.id
    assert [(e.type, e.session.resident_id) for e in events] == [
        ("signed_in", "R001"),
        ("replaced", "R001"),
        ("signed_in", "R002"),
    ]


def test_bad_input(clock: FakeClock) -> None:
    k = KioskSessions(clock, 10)
    with pytest.raises(ValueError):
        k.sign_in("")
    with pytest.raises(ValueError):
        k.sign_in("R001", "face")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        KioskSessions(clock, 0)


def test_listener_failure_does_not_break_sessions(clock: FakeClock) -> None:
    def boom(_: SessionEvent) -> None:
        raise RuntimeError("kiosk gone")

    k = KioskSessions(clock, 10, listener=boom)
    assert k.sign_in("R001").resident_id == "R001"
