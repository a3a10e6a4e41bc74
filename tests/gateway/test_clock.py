from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.clock import STA_UNSYNC, TIME_ERROR, FakeClock, SystemClock, interpret_adjtimex, kernel_synced


def test_adjtimex_interpretation() -> None:
    assert interpret_adjtimex(0, 0) is True  # TIME_OK, STA_PLL etc. clear
    assert interpret_adjtimex(0, 0x0001) is True  # STA_PLL only
    assert interpret_adjtimex(TIME_ERROR, 0) is False
    assert interpret_adjtimex(0, STA_UNSYNC) is False
    assert interpret_adjtimex(1, STA_UNSYNC | 0x0001) is False  # TIME_INS but unsynchronised


def test_kernel_is_asked_for_real() -> None:
    # This machine's kernel answers (the container may or may not be NTP-synchronised).
    assert kernel_synced() in (True, False)


def test_system_clock() -> None:
    c = SystemClock()
    now = c.now()
    assert now.tzinfo is UTC
    assert abs((datetime.now(UTC) - now).total_seconds()) < 60
    m1 = c.monotonic()
    assert c.monotonic() >= m1
    assert isinstance(c.synced(), bool)
    assert c.boot_id() and c.boot_id() == SystemClock().boot_id()
    assert SystemClock(sync_source="trust").synced() is True


def test_fake_clock() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    c = FakeClock(t0, monotonic=5.0, synced=False)
    assert (c.now(), c.monotonic(), c.synced()) == (t0, 5.0, False)
    c.advance(10)
    assert (c.now(), c.monotonic()) == (t0 + timedelta(seconds=10), 15.0)
    c.set(datetime(2030, 1, 1, tzinfo=UTC), synced=True)  # an NTP step: monotonic does not move
    assert (c.now().year, c.monotonic(), c.synced()) == (2030, 15.0, True)
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 1, 1))
