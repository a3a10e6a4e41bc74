"""Which time a reading carries: the device's clock, the gateway's receive time, and the offset.

Rules (``docs/clinical.md``, "Time"):

* The device time is kept as reported (``measured_at``: ISO text, naive when the device gives
  local time without zone) whatever happens.
* It becomes the reading's ``effective_at`` only when it is known, and no farther than
  ``max_skew_s`` before / ``max_future_s`` after the gateway's receive time -- a cuff whose
  clock says 2000 or 2036 is measured "now" as far as anyone can tell.
* While the gateway clock is not synchronised, the receive time itself is unreliable: the
  reading uses it, is marked ``gateway_clock_synced: false`` and carries the monotonic reference
  in ``extras`` so that :class:`ClockCorrector` can put it right once the clock is synchronised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from gateway.clock import Clock
from uplink.codec import TimeSource

DEFAULT_DEVICE_TZ = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class TimeDecision:
    effective_at: datetime
    time_source: TimeSource
    measured_at_text: str | None
    offset_s: float | None
    """device time minus receive time (seconds); None without a device time."""
    note: str | None = None


def as_tz(device_tz: tzinfo | str | None) -> tzinfo:
    if device_tz is None:
        return ZoneInfo(DEFAULT_DEVICE_TZ)
    if isinstance(device_tz, str):
        return ZoneInfo(device_tz)
    return device_tz


def device_time_utc(device_time: datetime, device_tz: tzinfo | str | None = None) -> datetime:
    """A device time in UTC: naive = local time in ``device_tz``, aware = as is."""
    if device_time.tzinfo is None or device_time.utcoffset() is None:
        return device_time.replace(tzinfo=as_tz(device_tz)).astimezone(UTC)
    return device_time.astimezone(UTC)


def _span(seconds: float) -> str:
    s = abs(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172_800:
        return f"{s / 3600:.1f} h"
    if s < 63_072_000:
        return f"{s / 86_400:.0f} days"
    return f"{s / 31_557_600:.1f} years"


def resolve_time(
    device_time: datetime | None,
    received_at: datetime,
    *,
    clock_synced: bool,
    max_skew_s: float,
    device_tz: tzinfo | str | None = None,
    max_future_s: float | None = None,
    device_time_note: str | None = None,
) -> TimeDecision:
    """Decide a reading's effective time (see the module docstring).

    ``max_future_s`` bounds how far ahead of the receive time a device time may be (default:
    ``max_skew_s``): a measurement cannot come from the future, so a small bound is right.
    ``device_time_note`` is the decoder's reason when it gave no device time.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    received_at = received_at.astimezone(UTC)
    ahead_limit = max_skew_s if max_future_s is None else max_future_s
    if device_time is None:
        note = f"no device time ({device_time_note})" if device_time_note else "no device time"
        return TimeDecision(received_at, "gateway", None, None, note + ": using receive time")
    text = device_time.isoformat()
    try:
        device_utc = device_time_utc(device_time, device_tz)
    except (OverflowError, ValueError):
        note = "device time out of range: using receive time"
        return TimeDecision(received_at, "gateway", text, None, note)
    offset = (device_utc - received_at).total_seconds()
    if not clock_synced:
        return TimeDecision(
            received_at,
            "gateway",
            text,
            offset,
            "gateway clock not synchronised: device time cannot be checked; receive time used until "
            "the clock is synchronised",
        )
    if offset > ahead_limit:
        return TimeDecision(
            received_at,
            "gateway",
            text,
            offset,
            f"device clock {_span(offset)} ahead of the gateway clock (max {ahead_limit:.0f} s): "
            "using receive time",
        )
    if -offset > max_skew_s:
        return TimeDecision(
            received_at,
            "gateway",
            text,
            offset,
            f"device clock {_span(offset)} behind the gateway clock (max {max_skew_s:.0f} s): "
            "using receive time",
        )
    return TimeDecision(device_utc, "device", text, offset, None)


def parse_measured_at(text: str | None) -> datetime | None:
    """The device time back from a reading's ``measured_at`` text (naive stays naive)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


MONOTONIC_KEY = "monotonic"
BOOT_KEY = "boot_id"


def monotonic_extras(mono: float, boot_id: str) -> dict[str, Any]:
    """What an unsynchronised reading carries so that it can be corrected later."""
    return {MONOTONIC_KEY: round(mono, 6), BOOT_KEY: boot_id}


@dataclass(frozen=True, slots=True)
class Correction:
    received_at: datetime
    """the true receive time, from the monotonic reference"""
    decision: TimeDecision
    """the time decision redone with that receive time and a synchronised clock"""


class ClockCorrector:
    """Puts readings stamped by an unsynchronised clock right once the clock is synchronised.

    A reading made while the clock was not synchronised carries ``extras["monotonic"]`` (the
    monotonic clock at receipt) and ``extras["boot_id"]``. Once :meth:`Clock.synced` is true the
    true receive time is ``now - (monotonic_now - monotonic_ref)``; the monotonic clock never
    jumps, so this holds however far NTP stepped the wall clock. References from another boot
    (the monotonic clock restarted) cannot be corrected: :meth:`correct` returns None and the
    reading stays marked unsynchronised.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        max_skew_s: float,
        device_tz: tzinfo | str | None = None,
        max_future_s: float | None = None,
    ) -> None:
        self._clock = clock
        self._max_skew_s = max_skew_s
        self._max_future_s = max_future_s
        self._tz = as_tz(device_tz)

    def ready(self) -> bool:
        return self._clock.synced()

    def true_time(self, mono_ref: float, boot_id: str | None = None) -> datetime | None:
        """Wall time at ``mono_ref``; None while unsynchronised or for another boot's reference."""
        if not self._clock.synced():
            return None
        if boot_id is not None and boot_id != self._clock.boot_id():
            return None
        elapsed = self._clock.monotonic() - mono_ref
        if elapsed < 0:
            return None
        return self._clock.now() - timedelta(seconds=elapsed)

    def correct(
        self, extras: dict[str, Any] | Any, measured_at: str | None, *, device_time_note: str | None = None
    ) -> Correction | None:
        """The corrected times of one reading (from its extras and ``measured_at``), or None."""
        mono = extras.get(MONOTONIC_KEY) if hasattr(extras, "get") else None
        if not isinstance(mono, int | float) or isinstance(mono, bool):
            return None
        boot = extras.get(BOOT_KEY)
        received = self.true_time(float(mono), boot if isinstance(boot, str) else None)
        if received is None:
            return None
        decision = resolve_time(
            parse_measured_at(measured_at),
            received,
            clock_synced=True,
            max_skew_s=self._max_skew_s,
            device_tz=self._tz,
            max_future_s=self._max_future_s,
            device_time_note=device_time_note,
        )
        return Correction(received, decision)


class SyncWatcher:
    """Tells the daemon, once, that the clock has just become synchronised (time to correct)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._was = clock.synced()

    @property
    def synced(self) -> bool:
        return self._was

    def poll(self) -> bool:
        """True exactly on the unsynchronised -> synchronised transition."""
        now = self._clock.synced()
        became = now and not self._was
        self._was = now
        return became
