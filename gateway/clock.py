"""The gateway's clock: wall time, monotonic time and whether the wall time can be trusted.

A Raspberry Pi has no battery-backed real-time clock: after a power cut it boots at 1970 or at
the time ``fake-hwclock`` saved at the last shutdown, and only becomes right once NTP (or the
4G modem's network time) has synchronised it. :meth:`Clock.synced` tells which case we are in.

:class:`SystemClock` asks the kernel with ``adjtimex(2)`` (read only, ``modes = 0``): the clock
is synchronised when the call does not return ``TIME_ERROR`` and the ``STA_UNSYNC`` status bit
is clear. NTP daemons (systemd-timesyncd, chrony, ntpd) clear that bit when they discipline the
clock. When the kernel cannot be asked at all (no ``adjtimex`` in the C library, a sandbox
refusing the call) the clock is taken as synchronised only when its year is at least
:data:`PLAUSIBLE_YEAR` -- a 1970 clock is never trusted. A gateway with a battery-backed RTC and
no NTP can set ``[clock] sync_source = "trust"`` to skip the kernel check.

:class:`FakeClock` is the clock for tests (settable ``now``, ``monotonic``, ``synced``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)

PLAUSIBLE_YEAR = 2024
"""A wall clock before this year is certainly wrong (the software did not exist)."""

TIME_ERROR = 5
STA_UNSYNC = 0x0040

SyncSource = Literal["kernel", "trust"]


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (same scale as ``time.monotonic``)."""
        ...

    def synced(self) -> bool:
        """True when the wall time is known to be right (NTP or equivalent)."""
        ...

    def boot_id(self) -> str:
        """Identifies the monotonic clock's epoch: monotonic references from another boot are void."""
        ...


class _Timex(ctypes.Structure):
    # struct timex (linux/timex.h) up to ``status``; the buffer below leaves room for the rest.
    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
    )


def interpret_adjtimex(result: int, status: int) -> bool:
    """Whether ``adjtimex`` says the clock is synchronised."""
    return result != TIME_ERROR and not status & STA_UNSYNC


@functools.cache
def _adjtimex() -> Any:
    """libc's ``adjtimex`` (looked up once: ``find_library`` runs a subprocess); None if absent."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        fn = libc.adjtimex
    except (OSError, AttributeError, TypeError):
        return None
    fn.argtypes = (ctypes.c_void_p,)
    fn.restype = ctypes.c_int
    return fn


def kernel_synced() -> bool | None:
    """Ask the kernel (``adjtimex`` with ``modes = 0``); None when it cannot be asked."""
    adjtimex = _adjtimex()
    if adjtimex is None:
        return None
    # The real struct timex is 208 bytes on 64-bit Linux; leave ample room on every ABI.
    buf = ctypes.create_string_buffer(1024)
    tx = _Timex.from_buffer(buf)
    tx.modes = 0
    result = int(adjtimex(ctypes.addressof(tx)))
    if result < 0:
        return None
    return interpret_adjtimex(result, int(tx.status))


def _read_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        # No procfs: the monotonic clock is only comparable inside this process.
        return f"process-{time.time_ns()}"


class SystemClock:
    """The real clock (``time.time`` / ``time.monotonic``) with the kernel's sync status."""

    def __init__(self, *, sync_source: SyncSource = "kernel") -> None:
        self._sync_source = sync_source
        self._boot_id = _read_boot_id()
        self._last: bool | None = None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def boot_id(self) -> str:
        return self._boot_id

    def synced(self) -> bool:
        if self._sync_source == "trust":
            return True
        answer = kernel_synced()
        if answer is None:
            answer = self.now().year >= PLAUSIBLE_YEAR
        if answer != self._last:
            log.info("system clock %s", "synchronised" if answer else "NOT synchronised")
            self._last = answer
        return answer


class FakeClock:
    """A clock for tests: nothing moves unless the test moves it."""

    def __init__(
        self,
        now: datetime | None = None,
        *,
        monotonic: float = 1000.0,
        synced: bool = True,
        boot_id: str = "fake-boot",
    ) -> None:
        self._now = now or datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._mono = monotonic
        self._synced = synced
        self._boot_id = boot_id

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def synced(self) -> bool:
        return self._synced

    def boot_id(self) -> str:
        return self._boot_id

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, now: datetime | None = None, *, synced: bool | None = None) -> None:
        """Step the wall clock (as NTP does) without touching the monotonic clock."""
        if now is not None:
            if now.tzinfo is None:
                raise ValueError("FakeClock needs an aware datetime")
            self._now = now
        if synced is not None:
            self._synced = synced

    def set_boot_id(self, boot_id: str) -> None:
        self._boot_id = boot_id
