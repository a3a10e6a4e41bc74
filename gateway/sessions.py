"""Who is signed in at this hut's kiosk: one session at a time, ended by inactivity.

A reading from a shared hut device goes to the signed-in resident. The session ends on
sign-out, on a new sign-in (the previous one is reported ``replaced``), or after ``timeout_s``
without activity (reported ``expired`` the next time anyone looks). Timing uses the monotonic
clock, so an NTP step of the wall clock neither ends nor prolongs a session.

Callers resolve a card or QR code to a resident id (``RegistrySnapshot.resident_by_card``)
before :meth:`KioskSessions.sign_in`; ``method`` records how the resident identified.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from buffer.ids import uuid7
from gateway.clock import Clock

log = logging.getLogger(__name__)

SignInMethod = Literal["id", "card", "qr"]
SIGN_IN_METHODS: tuple[SignInMethod, ...] = ("id", "card", "qr")
SessionEventType = Literal["signed_in", "signed_out", "expired", "replaced"]


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    resident_id: str
    method: SignInMethod
    started_at: datetime
    last_activity: float
    """monotonic time of the last sign-in, reading or touch"""


@dataclass(frozen=True, slots=True)
class SessionEvent:
    type: SessionEventType
    session: Session
    at: datetime


class KioskSessions:
    def __init__(
        self,
        clock: Clock,
        timeout_s: float,
        *,
        listener: Callable[[SessionEvent], None] | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._clock = clock
        self.timeout_s = timeout_s
        self._listener = listener
        self._current: Session | None = None
        self._lock = threading.Lock()

    def _emit(self, type: SessionEventType, session: Session) -> None:
        log.info("kiosk session %s: %s", session.id, type)
        if self._listener is not None:
            try:
                self._listener(SessionEvent(type, session, self._clock.now()))
            except Exception:
                log.exception("session listener failed")

    def _expire_locked(self) -> Session | None:
        s = self._current
        if s is not None and self._clock.monotonic() - s.last_activity >= self.timeout_s:
            self._current = None
            return s
        return None

    def sign_in(self, resident_id: str, method: SignInMethod = "id") -> Session:
        if not resident_id:
            raise ValueError("resident_id is empty")
        if method not in SIGN_IN_METHODS:
            raise ValueError(f"unknown sign-in method {method!r}")
        with self._lock:
            expired = self._expire_locked()
            previous = self._current
            session = Session(uuid7(), resident_id, method, self._clock.now(), self._clock.monotonic())
            self._current = session
        if expired is not None:
            self._emit("expired", expired)
        if previous is not None:
            self._emit("replaced", previous)
        self._emit("signed_in", session)
        return session

    def sign_out(self) -> Session | None:
        """End the session; returns it (None when nobody was signed in)."""
        with self._lock:
            expired = self._expire_locked()
            s, self._current = self._current, None
        if expired is not None:
            self._emit("expired", expired)
        if s is not None:
            self._emit("signed_out", s)
        return s

    def current(self) -> Session | None:
        """The live session, or None (an inactive session is ended and reported here)."""
        with self._lock:
            expired = self._expire_locked()
            s = self._current
        if expired is not None:
            self._emit("expired", expired)
        return s

    def expire(self) -> Session | None:
        """End the session if it timed out (call periodically); returns the expired session."""
        with self._lock:
            expired = self._expire_locked()
        if expired is not None:
            self._emit("expired", expired)
        return expired

    def touch(self) -> Session | None:
        """Record activity (a reading, a kiosk tap); returns the live session, if any."""
        with self._lock:
            expired = self._expire_locked()
            if self._current is not None:
                self._current = replace(self._current, last_activity=self._clock.monotonic())
            s = self._current
        if expired is not None:
            self._emit("expired", expired)
        return s

    def remaining_s(self) -> float | None:
        """Seconds until the live session times out; None without one."""
        s = self.current()
        if s is None:
            return None
        return max(0.0, self.timeout_s - (self._clock.monotonic() - s.last_activity))
